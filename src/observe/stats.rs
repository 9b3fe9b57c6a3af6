use std::sync::Mutex;
use std::time::Duration;

use crate::util::lock;
use crate::TaskState;

/// A consistent snapshot of a manager's counters.
///
/// Every counter is updated under one lock, so a snapshot never shows a task in two states or
/// in none: `tasks_added` always equals the sum of the per-state task counters (see
/// [`Stats::tasks_balanced`]).
///
/// It implements `serde::Serialize`, for example for a statistics endpoint; the durations
/// serialize as serde's `{ secs, nanos }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Scopes created.
    pub scopes_created: u64,
    /// Scopes created and not yet finished.
    pub scopes_active: u64,
    /// Scopes that finished with `Ok`.
    pub scopes_completed: u64,
    /// Scopes that finished with an error, including cancelled ones.
    pub scopes_failed: u64,
    /// Tasks accepted by `spawn`.
    pub tasks_added: u64,
    /// Tasks accepted but not yet running.
    pub tasks_pending: u64,
    /// Tasks whose body is running.
    pub tasks_running: u64,
    /// Tasks that returned `Ok`.
    pub tasks_completed: u64,
    /// Tasks that returned `Err` or panicked before their cancellation was requested.
    pub tasks_failed: u64,
    /// Tasks that ended cancelled, including those that failed after cancellation was requested.
    pub tasks_cancelled: u64,
    /// Tasks stopped by their own timeout.
    pub tasks_timed_out: u64,
    /// Tasks that never ran because a dependency did not complete.
    pub tasks_skipped: u64,
    /// Restart decisions of supervised scopes: one per child exit that the policy restarts,
    /// however many siblings the strategy restarts with it (one-for-all counts one).
    pub restarts: u64,
    /// Resources registered with scopes or tasks.
    pub resources_registered: u64,
    /// Resources released successfully.
    pub resources_released: u64,
    /// Resource releases that failed, timed out or panicked.
    pub resources_failed: u64,
    /// Total time task bodies spent running, summed over tasks.
    pub task_execution_time: Duration,
    /// Error reports published to the error stream.
    pub error_reports_published: u64,
    /// Error reports that a slow subscriber missed because its buffer was full, summed over
    /// subscribers.
    pub error_reports_missed: u64,
}

impl Stats {
    /// Returns whether `tasks_added` equals pending + running + completed + failed + cancelled
    /// + timed out + skipped. Always true for a snapshot taken by the library.
    pub fn tasks_balanced(&self) -> bool {
        self.tasks_added
            == self.tasks_pending
                + self.tasks_running
                + self.tasks_completed
                + self.tasks_failed
                + self.tasks_cancelled
                + self.tasks_timed_out
                + self.tasks_skipped
    }

    /// Number of tasks that have finished, in any final state.
    pub fn tasks_finished(&self) -> u64 {
        self.tasks_completed
            + self.tasks_failed
            + self.tasks_cancelled
            + self.tasks_timed_out
            + self.tasks_skipped
    }
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct StatsCell {
    stats: Mutex<Stats>,
}

impl StatsCell {
    pub(crate) fn snapshot(&self) -> Stats {
        lock(&self.stats).clone()
    }

    fn update(&self, change: impl FnOnce(&mut Stats)) {
        change(&mut lock(&self.stats));
    }

    pub(crate) fn scope_created(&self) {
        self.update(|s| {
            s.scopes_created += 1;
            s.scopes_active += 1;
        });
    }

    pub(crate) fn scope_finished(&self, ok: bool) {
        self.update(|s| {
            s.scopes_active -= 1;
            if ok {
                s.scopes_completed += 1;
            } else {
                s.scopes_failed += 1;
            }
        });
    }

    pub(crate) fn task_added(&self) {
        self.update(|s| {
            s.tasks_added += 1;
            s.tasks_pending += 1;
        });
    }

    pub(crate) fn task_started(&self) {
        self.update(|s| {
            s.tasks_pending -= 1;
            s.tasks_running += 1;
        });
    }

    /// Moves a task from `from` (pending or running) to its final state.
    pub(crate) fn task_finished(&self, from: TaskState, to: TaskState, ran_for: Duration) {
        self.update(|s| {
            match from {
                TaskState::Running => s.tasks_running -= 1,
                _ => s.tasks_pending -= 1,
            }
            match to {
                TaskState::Completed => s.tasks_completed += 1,
                TaskState::Failed => s.tasks_failed += 1,
                TaskState::TimedOut => s.tasks_timed_out += 1,
                TaskState::Skipped => s.tasks_skipped += 1,
                // Pending or Running never arrive here; count them as cancelled so the
                // identity still holds.
                _ => s.tasks_cancelled += 1,
            }
            s.task_execution_time += ran_for;
        });
    }

    pub(crate) fn resource_registered(&self) {
        self.update(|s| s.resources_registered += 1);
    }

    pub(crate) fn resource_released(&self, failed: bool) {
        self.update(|s| {
            if failed {
                s.resources_failed += 1;
            } else {
                s.resources_released += 1;
            }
        });
    }

    pub(crate) fn restarted(&self) {
        self.update(|s| s.restarts += 1);
    }

    pub(crate) fn reports_published(&self, missed: u64) {
        self.update(|s| {
            s.error_reports_published += 1;
            s.error_reports_missed += missed;
        });
    }
}
