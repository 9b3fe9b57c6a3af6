use std::fmt;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// Accepted by its scope, not yet running.
    Pending,
    /// Its body is running.
    Running,
    /// Its body returned `Ok`.
    Completed,
    /// Its body returned `Err` or panicked before cancellation was requested.
    Failed,
    /// Cancelled before or while running; see [`TaskError::Cancelled`](crate::TaskError).
    Cancelled,
    /// Stopped by its own timeout.
    TimedOut,
    /// Never ran because a dependency did not complete.
    Skipped,
}

impl TaskState {
    /// Returns whether the task has reached a final state.
    pub fn is_finished(self) -> bool {
        !matches!(self, TaskState::Pending | TaskState::Running)
    }

    pub(crate) fn as_u8(self) -> u8 {
        match self {
            TaskState::Pending => 0,
            TaskState::Running => 1,
            TaskState::Completed => 2,
            TaskState::Failed => 3,
            TaskState::Cancelled => 4,
            TaskState::TimedOut => 5,
            TaskState::Skipped => 6,
        }
    }

    pub(crate) fn from_u8(value: u8) -> Self {
        match value {
            0 => TaskState::Pending,
            1 => TaskState::Running,
            2 => TaskState::Completed,
            3 => TaskState::Failed,
            5 => TaskState::TimedOut,
            6 => TaskState::Skipped,
            _ => TaskState::Cancelled,
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
            TaskState::TimedOut => "timed out",
            TaskState::Skipped => "skipped",
        })
    }
}
