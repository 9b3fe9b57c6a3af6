use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ractor::ActorRef;
use tokio::time::Instant;

use super::actor::BreakerMsg;
use super::config::BreakerConfig;
use super::stats::Counters;
use super::word::Word;
use super::{BreakerState, Transition, TransitionReason};

/// Bits of milliseconds in `reopen_at` (about 34 years).
const REOPEN_MS_BITS: u32 = 40;
const REOPEN_MS_MASK: u64 = (1 << REOPEN_MS_BITS) - 1;
/// The generation bits kept in `reopen_at`.
const GENERATION_TAG: u32 = (1 << 24) - 1;

/// What callers share: the published state word, the counters and the configuration. Callers
/// admit themselves and record outcomes here with atomic operations, and tell the actor about
/// the transitions they make.
pub(crate) struct Core {
    pub(crate) config: BreakerConfig,
    word: AtomicU64,
    epoch: Instant,
    /// The reset timeout the next opening uses, in milliseconds; it grows with failed trials.
    reset_ms: AtomicU64,
    /// When an open breaker admits trials again: the low 24 bits of the open generation, above
    /// 40 bits of milliseconds since `epoch`. Kept beside the word, not in its 32 data bits,
    /// so that a breaker left open for weeks without a call still reopens.
    reopen_at: AtomicU64,
    pub(crate) counters: Counters,
    pub(crate) actor: OnceLock<ActorRef<BreakerMsg>>,
}

/// An admitted call: the generation it was admitted in, and whether it holds a trial slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Permit {
    generation: u32,
    trial: bool,
}

impl Core {
    pub(crate) fn new(config: BreakerConfig) -> Arc<Self> {
        let reset_ms = millis(config.reset_timeout);
        Arc::new(Core {
            config,
            word: AtomicU64::new(Word::new(BreakerState::Closed, 0, 0).encode()),
            epoch: Instant::now(),
            reset_ms: AtomicU64::new(reset_ms),
            reopen_at: AtomicU64::new(0),
            counters: Counters::default(),
            actor: OnceLock::new(),
        })
    }

    pub(crate) fn word(&self) -> Word {
        Word::decode(self.word.load(Ordering::Acquire))
    }

    /// Milliseconds since the breaker started.
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Returns whether the open generation `generation` may admit trials now. Until the
    /// transition that opened it has recorded its reopen time, it may not.
    fn reopen_reached(&self, generation: u32) -> bool {
        let at = self.reopen_at.load(Ordering::Acquire);
        let tagged = (at >> REOPEN_MS_BITS) as u32 == generation & GENERATION_TAG;
        tagged && self.now_ms() >= at & REOPEN_MS_MASK
    }

    /// Returns whether `admit` would admit a call now, without admitting one or moving the
    /// breaker to half-open.
    pub(crate) fn would_admit(&self) -> bool {
        let word = self.word();
        match word.state {
            BreakerState::Closed | BreakerState::ForcedClosed => true,
            BreakerState::ForcedOpen => false,
            BreakerState::Open => self.reopen_reached(word.generation),
            BreakerState::HalfOpen => word.trials().0 < self.config.trials,
        }
    }

    /// While the breaker is open, the time left until it admits a trial call; `None` in every
    /// other state. Right after the opening swap, before the reopen time is recorded, it
    /// returns the reset timeout the opening uses.
    pub(crate) fn open_remaining(&self) -> Option<Duration> {
        let word = self.word();
        if word.state != BreakerState::Open {
            return None;
        }
        let at = self.reopen_at.load(Ordering::Acquire);
        let tagged = (at >> REOPEN_MS_BITS) as u32 == word.generation & GENERATION_TAG;
        let remaining_ms = if tagged {
            (at & REOPEN_MS_MASK).saturating_sub(self.now_ms())
        } else {
            self.reset_ms.load(Ordering::Acquire)
        };
        Some(Duration::from_millis(remaining_ms))
    }

    /// Admits a call, or returns the state that rejects it. Moves an open breaker whose reset
    /// timeout has passed to half-open, taking the first trial slot in the same swap.
    pub(crate) fn admit(&self) -> Result<Permit, BreakerState> {
        let mut raw = self.word.load(Ordering::Acquire);
        loop {
            let word = Word::decode(raw);
            let next = match word.state {
                BreakerState::Closed | BreakerState::ForcedClosed => {
                    return Ok(Permit {
                        generation: word.generation,
                        trial: false,
                    });
                }
                BreakerState::ForcedOpen => return Err(BreakerState::ForcedOpen),
                BreakerState::Open => {
                    if !self.reopen_reached(word.generation) {
                        return Err(BreakerState::Open);
                    }
                    word.next(BreakerState::HalfOpen, 0).with_trials(1, 0)
                }
                BreakerState::HalfOpen => {
                    let (in_flight, successes) = word.trials();
                    if in_flight >= self.config.trials {
                        return Err(BreakerState::HalfOpen);
                    }
                    word.with_trials(in_flight + 1, successes)
                }
            };
            match self.swap(raw, next) {
                Ok(()) => {
                    if word.state == BreakerState::Open {
                        self.announce(word, next, TransitionReason::ResetTimeoutElapsed, None);
                    }
                    return Ok(Permit {
                        generation: next.generation,
                        trial: true,
                    });
                }
                Err(actual) => raw = actual,
            }
        }
    }

    /// Records an admitted call that succeeded.
    pub(crate) fn succeeded(&self, permit: Permit) {
        Counters::add(&self.counters.successes);
        let mut raw = self.word.load(Ordering::Acquire);
        loop {
            let word = Word::decode(raw);
            if word.generation != permit.generation {
                Counters::add(&self.counters.stale_outcomes);
                return;
            }
            let (next, reason) = match word.state {
                // The common case needs no write: no failure to forget.
                BreakerState::Closed if word.data == 0 => return,
                BreakerState::Closed => (Word { data: 0, ..word }, None),
                BreakerState::HalfOpen if permit.trial => {
                    let (in_flight, successes) = word.trials();
                    let successes = successes + 1;
                    if successes >= self.config.trial_successes {
                        (
                            word.next(BreakerState::Closed, 0),
                            Some(TransitionReason::TrialsSucceeded { successes }),
                        )
                    } else {
                        (
                            word.with_trials(in_flight.saturating_sub(1), successes),
                            None,
                        )
                    }
                }
                _ => return,
            };
            match self.swap(raw, next) {
                Ok(()) => {
                    if let Some(reason) = reason {
                        self.reset_ms
                            .store(millis(self.config.reset_timeout), Ordering::Release);
                        self.announce(word, next, reason, None);
                    }
                    return;
                }
                Err(actual) => raw = actual,
            }
        }
    }

    /// Records an admitted call that failed (an error the predicate counts, a panic or a
    /// timeout).
    pub(crate) fn failed(&self, permit: Permit) {
        Counters::add(&self.counters.failures);
        let mut raw = self.word.load(Ordering::Acquire);
        loop {
            let word = Word::decode(raw);
            if word.generation != permit.generation {
                Counters::add(&self.counters.stale_outcomes);
                return;
            }
            let (next, reason, reset_ms) = match word.state {
                BreakerState::Closed => {
                    let failures = word.data.saturating_add(1);
                    if failures < self.config.failure_threshold {
                        (
                            Word {
                                data: failures,
                                ..word
                            },
                            None,
                            0,
                        )
                    } else {
                        let reset_ms = self.reset_ms.load(Ordering::Acquire);
                        (
                            self.open_word(word),
                            Some(TransitionReason::FailureThreshold { failures }),
                            reset_ms,
                        )
                    }
                }
                BreakerState::HalfOpen if permit.trial => {
                    let reset_ms = self.grown_reset_ms();
                    (
                        self.open_word(word),
                        Some(TransitionReason::TrialFailed),
                        reset_ms,
                    )
                }
                _ => return,
            };
            match self.swap(raw, next) {
                Ok(()) => {
                    if let Some(reason) = reason {
                        self.opened(word, next, reason, reset_ms);
                    }
                    return;
                }
                Err(actual) => raw = actual,
            }
        }
    }

    /// Records an admitted call that its caller cancelled: neither success nor failure, but a
    /// trial gives its slot back.
    pub(crate) fn cancelled(&self, permit: Permit) {
        Counters::add(&self.counters.cancellations);
        if !permit.trial {
            return;
        }
        let mut raw = self.word.load(Ordering::Acquire);
        loop {
            let word = Word::decode(raw);
            if word.generation != permit.generation || word.state != BreakerState::HalfOpen {
                return;
            }
            let (in_flight, successes) = word.trials();
            let next = word.with_trials(in_flight.saturating_sub(1), successes);
            match self.swap(raw, next) {
                Ok(()) => return,
                Err(actual) => raw = actual,
            }
        }
    }

    /// Reopens a breaker that stayed half-open in generation `generation` with trial data
    /// `seen`, meaning no trial finished since it was last checked. Returns whether it did.
    pub(crate) fn expire_trials(&self, generation: u32, seen: u32) -> bool {
        let raw = self.word.load(Ordering::Acquire);
        let word = Word::decode(raw);
        let stuck = word.state == BreakerState::HalfOpen
            && word.generation == generation
            && word.data == seen
            && word.trials().0 > 0;
        if !stuck {
            return false;
        }
        let reset_ms = self.grown_reset_ms();
        let next = self.open_word(word);
        if self.swap(raw, next).is_err() {
            return false;
        }
        self.opened(word, next, TransitionReason::TrialsTimedOut, reset_ms);
        true
    }

    /// Moves to `state` by hand, in a new generation, and returns the transition.
    pub(crate) fn force(&self, state: BreakerState, reason: TransitionReason) -> Transition {
        if state == BreakerState::Closed {
            self.reset_ms
                .store(millis(self.config.reset_timeout), Ordering::Release);
        }
        let mut raw = self.word.load(Ordering::Acquire);
        loop {
            let word = Word::decode(raw);
            let next = word.next(state, 0);
            match self.swap(raw, next) {
                Ok(()) => return self.transition(word, next, reason, None),
                Err(actual) => raw = actual,
            }
        }
    }

    fn swap(&self, current: u64, next: Word) -> Result<(), u64> {
        self.word
            .compare_exchange(current, next.encode(), Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
    }

    /// The word of an opening. The reopen time is recorded by `opened` once the swap won.
    fn open_word(&self, word: Word) -> Word {
        word.next(BreakerState::Open, 0)
    }

    /// The reset timeout after one more failed trial: `min(current * factor, max)`.
    fn grown_reset_ms(&self) -> u64 {
        let current = self.reset_ms.load(Ordering::Acquire) as f64;
        let grown = (current * self.config.backoff_factor).ceil();
        (grown as u64).min(millis(self.config.max_reset_timeout))
    }

    fn opened(&self, from: Word, to: Word, reason: TransitionReason, reset_ms: u64) {
        let reopen = (self.now_ms() + reset_ms) & REOPEN_MS_MASK;
        let tag = u64::from(to.generation & GENERATION_TAG) << REOPEN_MS_BITS;
        self.reopen_at.store(tag | reopen, Ordering::Release);
        self.reset_ms.store(reset_ms, Ordering::Release);
        Counters::add(&self.counters.openings);
        self.announce(from, to, reason, Some(Duration::from_millis(reset_ms)));
    }

    fn transition(
        &self,
        from: Word,
        to: Word,
        reason: TransitionReason,
        reset_timeout: Option<Duration>,
    ) -> Transition {
        Transition {
            breaker: self.config.name.clone(),
            from: from.state,
            to: to.state,
            reason,
            generation: to.generation,
            reset_timeout,
        }
    }

    /// Tells the actor about a transition a caller made, so that it logs it, sends it to
    /// subscribers and watches a half-open breaker. Logs it here if the actor is gone.
    fn announce(
        &self,
        from: Word,
        to: Word,
        reason: TransitionReason,
        reset_timeout: Option<Duration>,
    ) {
        let transition = self.transition(from, to, reason, reset_timeout);
        let delivered = self.actor.get().is_some_and(|actor| {
            actor
                .cast(BreakerMsg::Transitioned(transition.clone()))
                .is_ok()
        });
        if !delivered {
            super::actor::log_transition(&transition);
        }
    }
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().max(1) as u64
}
