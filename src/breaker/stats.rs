use std::sync::atomic::{AtomicU64, Ordering};

use super::BreakerState;

/// Counters of a breaker since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct BreakerStats {
    /// Calls made, admitted or not.
    pub calls: u64,
    /// Admitted calls whose operation succeeded (or failed in a way the predicate ignores).
    pub successes: u64,
    /// Admitted calls that failed: an error the predicate counts, a panic or a timeout.
    pub failures: u64,
    /// Calls rejected because the breaker was open, or half-open with every trial slot taken.
    pub rejections: u64,
    /// Calls that exceeded the call timeout (also counted in `failures`).
    pub timeouts: u64,
    /// Calls cancelled by their caller: admitted calls cancelled while they ran, and calls
    /// whose task was already cancelled when they arrived (those are never admitted).
    pub cancellations: u64,
    /// Transitions to open (not counting forced ones).
    pub openings: u64,
    /// Outcomes that arrived after the generation they were admitted in had ended, so they
    /// changed nothing (they are still counted above).
    pub stale_outcomes: u64,
    /// The state when the snapshot was taken.
    pub state: BreakerState,
}

/// The live counters behind [`BreakerStats`]. Relaxed atomics: each counter is exact, but a
/// snapshot may catch one call counted in `calls` and not yet in its outcome.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) calls: AtomicU64,
    pub(crate) successes: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) rejections: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) cancellations: AtomicU64,
    pub(crate) openings: AtomicU64,
    pub(crate) stale_outcomes: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, state: BreakerState) -> BreakerStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        BreakerStats {
            calls: read(&self.calls),
            successes: read(&self.successes),
            failures: read(&self.failures),
            rejections: read(&self.rejections),
            timeouts: read(&self.timeouts),
            cancellations: read(&self.cancellations),
            openings: read(&self.openings),
            stale_outcomes: read(&self.stale_outcomes),
            state,
        }
    }
}
