use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{CancelCause, Name, TaskId, TaskState};

/// Why a task did not produce a value.
///
/// Cloning is cheap: the user's error is shared behind an `Arc`. Reach it with
/// [`TaskError::downcast_ref`] or through `source()`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TaskError {
    /// The body returned `Err` before the task's cancellation was requested.
    Failed {
        /// Task name.
        task: Name,
        /// Task id.
        task_id: TaskId,
        /// The error the body returned.
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The body panicked before the task's cancellation was requested.
    Panicked {
        /// Task name.
        task: Name,
        /// Task id.
        task_id: TaskId,
        /// The panic message.
        message: String,
    },
    /// The task's own timeout passed; its body was dropped.
    TimedOut {
        /// Task name.
        task: Name,
        /// Task id.
        task_id: TaskId,
        /// The task's timeout.
        timeout: Duration,
    },
    /// The task was cancelled before it finished, or failed after its cancellation was
    /// requested.
    Cancelled {
        /// Task name.
        task: Name,
        /// Task id.
        task_id: TaskId,
        /// Why.
        cause: CancelCause,
    },
    /// The task never ran because one of its dependencies did not complete.
    Skipped {
        /// Task name.
        task: Name,
        /// Task id.
        task_id: TaskId,
        /// The dependency that did not complete.
        dependency: Name,
        /// Id of that dependency.
        dependency_id: TaskId,
        /// How the dependency ended.
        dependency_state: TaskState,
    },
    /// The task's actor was killed (by the user, or because its parent exited) before its body
    /// finished, while its scope was not cancelled.
    Killed {
        /// Task name.
        task: Name,
        /// Task id.
        task_id: TaskId,
    },
    /// The task's value is still held by another handle or a dependent, so it cannot be taken
    /// out.
    ResultShared {
        /// Task name.
        task: Name,
        /// Task id.
        task_id: TaskId,
    },
    /// The task has not finished yet.
    NotFinished {
        /// Task name.
        task: Name,
        /// Task id.
        task_id: TaskId,
    },
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed { task, source, .. } => write!(f, "task '{task}' failed: {source}"),
            TaskError::Panicked { task, message, .. } => {
                write!(f, "task '{task}' panicked: {message}")
            }
            TaskError::TimedOut { task, timeout, .. } => {
                write!(f, "task '{task}' timed out after {timeout:?}")
            }
            TaskError::Cancelled { task, cause, .. } => {
                write!(f, "task '{task}' cancelled: {cause}")
            }
            TaskError::Skipped {
                task,
                dependency,
                dependency_state,
                ..
            } => write!(
                f,
                "task '{task}' skipped because its dependency '{dependency}' {}",
                match dependency_state {
                    TaskState::Failed => "failed",
                    TaskState::TimedOut => "timed out",
                    TaskState::Cancelled => "was cancelled",
                    TaskState::Skipped => "was skipped",
                    _ => "did not complete",
                }
            ),
            TaskError::Killed { task, .. } => {
                write!(f, "task '{task}' was killed before it finished")
            }
            TaskError::ResultShared { task, .. } => write!(
                f,
                "the value of task '{task}' is still shared; drop the other handles first or read it with `result`"
            ),
            TaskError::NotFinished { task, .. } => write!(
                f,
                "task '{task}' has not finished; wait for its scope or join the task first"
            ),
        }
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The user's error itself, not the `Arc` around it, so that downcasting the chain
            // finds it.
            TaskError::Failed { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

impl TaskError {
    /// Name of the task.
    pub fn task(&self) -> &Name {
        match self {
            TaskError::Failed { task, .. }
            | TaskError::Panicked { task, .. }
            | TaskError::TimedOut { task, .. }
            | TaskError::Cancelled { task, .. }
            | TaskError::Skipped { task, .. }
            | TaskError::Killed { task, .. }
            | TaskError::ResultShared { task, .. }
            | TaskError::NotFinished { task, .. } => task,
        }
    }

    /// Id of the task.
    pub fn task_id(&self) -> TaskId {
        match self {
            TaskError::Failed { task_id, .. }
            | TaskError::Panicked { task_id, .. }
            | TaskError::TimedOut { task_id, .. }
            | TaskError::Cancelled { task_id, .. }
            | TaskError::Skipped { task_id, .. }
            | TaskError::Killed { task_id, .. }
            | TaskError::ResultShared { task_id, .. }
            | TaskError::NotFinished { task_id, .. } => *task_id,
        }
    }

    /// The task's state that this error stands for.
    pub fn state(&self) -> TaskState {
        match self {
            TaskError::Failed { .. } | TaskError::Panicked { .. } | TaskError::Killed { .. } => {
                TaskState::Failed
            }
            TaskError::TimedOut { .. } => TaskState::TimedOut,
            TaskError::Cancelled { .. } => TaskState::Cancelled,
            TaskError::Skipped { .. } => TaskState::Skipped,
            TaskError::ResultShared { .. } => TaskState::Completed,
            TaskError::NotFinished { .. } => TaskState::Running,
        }
    }

    /// Returns whether the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled { .. })
    }

    /// The cancellation cause, when the task was cancelled.
    pub fn cancel_cause(&self) -> Option<&CancelCause> {
        match self {
            TaskError::Cancelled { cause, .. } => Some(cause),
            _ => None,
        }
    }

    /// Returns whether the task was skipped because a dependency did not complete.
    pub fn is_skipped(&self) -> bool {
        matches!(self, TaskError::Skipped { .. })
    }

    /// Returns whether this is a failure of the task itself (an error, a panic or its own
    /// timeout), as opposed to a cancellation.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            TaskError::Failed { .. }
                | TaskError::Panicked { .. }
                | TaskError::TimedOut { .. }
                | TaskError::Killed { .. }
        )
    }

    /// Finds an error of type `E` in this error's `source()` chain: the user's error, or an
    /// error deeper inside when the task waited on a nested scope.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        crate::error::find_in_chain(self)
    }
}
