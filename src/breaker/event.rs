use std::fmt;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::Name;

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls pass; consecutive failures are counted.
    #[default]
    Closed,
    /// Calls are rejected until the reset timeout passes.
    Open,
    /// A limited number of trial calls pass; the others are rejected.
    HalfOpen,
    /// Opened by hand: calls are rejected until [`CircuitBreaker::reset`](crate::CircuitBreaker::reset).
    ForcedOpen,
    /// Closed by hand: calls pass and failures are not counted until
    /// [`CircuitBreaker::reset`](crate::CircuitBreaker::reset).
    ForcedClosed,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
            BreakerState::ForcedOpen => "forced open",
            BreakerState::ForcedClosed => "forced closed",
        })
    }
}

/// Why a breaker changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransitionReason {
    /// Closed to open: this many consecutive failures reached the threshold.
    FailureThreshold {
        /// Consecutive failures counted.
        failures: u32,
    },
    /// Open to half-open: the reset timeout passed.
    ResetTimeoutElapsed,
    /// Half-open to closed: this many trials succeeded.
    TrialsSucceeded {
        /// Trial successes counted.
        successes: u32,
    },
    /// Half-open to open: a trial failed.
    TrialFailed,
    /// Half-open to open: trials stayed in flight longer than the half-open timeout.
    TrialsTimedOut,
    /// Opened by [`CircuitBreaker::force_open`](crate::CircuitBreaker::force_open).
    ForcedOpen,
    /// Closed by [`CircuitBreaker::force_closed`](crate::CircuitBreaker::force_closed).
    ForcedClosed,
    /// Reset to closed by [`CircuitBreaker::reset`](crate::CircuitBreaker::reset).
    Reset,
}

impl fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionReason::FailureThreshold { failures } => {
                write!(f, "{failures} consecutive failures")
            }
            TransitionReason::ResetTimeoutElapsed => f.write_str("reset timeout elapsed"),
            TransitionReason::TrialsSucceeded { successes: 1 } => {
                f.write_str("1 trial call succeeded")
            }
            TransitionReason::TrialsSucceeded { successes } => {
                write!(f, "{successes} trial calls succeeded")
            }
            TransitionReason::TrialFailed => f.write_str("a trial call failed"),
            TransitionReason::TrialsTimedOut => f.write_str("trial calls did not finish in time"),
            TransitionReason::ForcedOpen => f.write_str("forced open"),
            TransitionReason::ForcedClosed => f.write_str("forced closed"),
            TransitionReason::Reset => f.write_str("reset"),
        }
    }
}

/// A state change of a breaker, as logged and sent to subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transition {
    /// The breaker's name.
    pub breaker: Name,
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
    /// Why.
    pub reason: TransitionReason,
    /// The generation the transition started (wrapping, 29 bits).
    pub generation: u32,
    /// When it opened, how long until trials are allowed.
    pub reset_timeout: Option<Duration>,
}

/// A subscription to a breaker's transitions, from
/// [`CircuitBreaker::events`](crate::CircuitBreaker::events).
///
/// Each subscriber has a bounded buffer. A subscriber that falls behind misses the oldest
/// transitions; [`BreakerEvents::missed`] counts them.
#[derive(Debug)]
#[must_use = "transitions are buffered only while the subscription is kept"]
pub struct BreakerEvents {
    pub(crate) receiver: broadcast::Receiver<Transition>,
    pub(crate) missed: u64,
}

impl BreakerEvents {
    /// Receives the next transition, waiting for one. Returns `None` once the breaker has
    /// stopped and every buffered transition was received.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn recv(&mut self) -> Option<Transition> {
        loop {
            match self.receiver.recv().await {
                Ok(transition) => return Some(transition),
                Err(broadcast::error::RecvError::Lagged(missed)) => self.missed += missed,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Takes the next buffered transition, if any, without waiting.
    pub fn try_recv(&mut self) -> Option<Transition> {
        loop {
            match self.receiver.try_recv() {
                Ok(transition) => return Some(transition),
                Err(broadcast::error::TryRecvError::Lagged(missed)) => self.missed += missed,
                Err(_) => return None,
            }
        }
    }

    /// Number of transitions this subscriber missed because it fell behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}
