//! The breaker's published state: one atomic word that callers read and change by
//! compare-and-swap, so admission and counting need no message to the actor.
//!
//! Layout, from the high bits: the state (3 bits), the generation (29 bits, wrapping), and 32
//! bits of data whose meaning depends on the state:
//!
//! - closed: consecutive failures;
//! - open: unused (the time to admit trials again is kept beside the word, tagged with the
//!   generation);
//! - half-open: trials in flight (high 16 bits) and trial successes (low 16 bits);
//! - forced open, forced closed: unused.
//!
//! Every transition starts a new generation. An outcome is applied only when its generation is
//! still the current one, so late outcomes of calls admitted before a transition never change
//! the state again.

use super::BreakerState;

const STATE_SHIFT: u32 = 61;
const GENERATION_SHIFT: u32 = 32;
const GENERATION_MASK: u64 = (1 << 29) - 1;
const DATA_MASK: u64 = 0xFFFF_FFFF;

/// A decoded breaker word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) state: BreakerState,
    pub(crate) generation: u32,
    pub(crate) data: u32,
}

impl Word {
    pub(crate) fn new(state: BreakerState, generation: u32, data: u32) -> Self {
        Word {
            state,
            generation: generation & GENERATION_MASK as u32,
            data,
        }
    }

    pub(crate) fn decode(raw: u64) -> Self {
        let state = match raw >> STATE_SHIFT {
            0 => BreakerState::Closed,
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            3 => BreakerState::ForcedOpen,
            _ => BreakerState::ForcedClosed,
        };
        Word {
            state,
            generation: ((raw >> GENERATION_SHIFT) & GENERATION_MASK) as u32,
            data: (raw & DATA_MASK) as u32,
        }
    }

    pub(crate) fn encode(self) -> u64 {
        let state: u64 = match self.state {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
            BreakerState::ForcedOpen => 3,
            BreakerState::ForcedClosed => 4,
        };
        (state << STATE_SHIFT)
            | ((u64::from(self.generation) & GENERATION_MASK) << GENERATION_SHIFT)
            | u64::from(self.data)
    }

    /// The word of a transition to `state`, in the next generation.
    pub(crate) fn next(self, state: BreakerState, data: u32) -> Self {
        Word::new(state, self.generation.wrapping_add(1), data)
    }

    /// Half-open: trials in flight and trial successes.
    pub(crate) fn trials(self) -> (u32, u32) {
        (self.data >> 16, self.data & 0xFFFF)
    }

    pub(crate) fn with_trials(self, in_flight: u32, successes: u32) -> Self {
        Word {
            data: (in_flight.min(0xFFFF) << 16) | successes.min(0xFFFF),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_state() {
        for state in [
            BreakerState::Closed,
            BreakerState::Open,
            BreakerState::HalfOpen,
            BreakerState::ForcedOpen,
            BreakerState::ForcedClosed,
        ] {
            let word = Word::new(state, 123_456, 0xDEAD_BEEF);
            assert_eq!(Word::decode(word.encode()), word);
        }
    }

    #[test]
    fn generation_wraps() {
        let last = Word::new(BreakerState::Closed, GENERATION_MASK as u32, 0);
        assert_eq!(last.next(BreakerState::Open, 0).generation, 0);
    }

    #[test]
    fn trials_pack_in_data() {
        let word = Word::new(BreakerState::HalfOpen, 1, 0).with_trials(3, 2);
        assert_eq!(word.trials(), (3, 2));
    }
}
