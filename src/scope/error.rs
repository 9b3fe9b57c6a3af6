use crate::{CancelCause, ConfigError, GraphError, Name, ReleaseError, ScopeId, TaskError};

/// Why a scope did not succeed, or why an operation on it was rejected.
///
/// Cloning is cheap: user errors inside are shared behind an `Arc`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// A task failed (an error, a panic or its own timeout), and its failure was the first.
    #[error("scope '{scope}' failed: {source}")]
    TaskFailed {
        /// Scope name.
        scope: Name,
        /// Scope id.
        scope_id: ScopeId,
        /// The task's error; its `source()` is the user's error.
        #[source]
        source: TaskError,
    },
    /// The scope was cancelled before its tasks finished and no task failed.
    #[error("scope '{scope}' cancelled: {cause}")]
    Cancelled {
        /// Scope name.
        scope: Name,
        /// Scope id.
        scope_id: ScopeId,
        /// Why.
        cause: CancelCause,
    },
    /// The scope's deadline passed before its work finished; its tasks were cancelled with the
    /// deadline cause. Returned by the `with_timeout` helpers.
    #[error("scope '{scope}' timed out after {timeout:?}")]
    TimedOut {
        /// Scope name.
        scope: Name,
        /// Scope id.
        scope_id: ScopeId,
        /// The deadline, as a duration from the scope's start.
        timeout: std::time::Duration,
    },
    /// Every task succeeded, but releasing a resource failed. The first failed release is
    /// reported; the others are in the error stream and the statistics.
    #[error("scope '{scope}' failed: {source}")]
    ReleaseFailed {
        /// Scope name.
        scope: Name,
        /// Scope id.
        scope_id: ScopeId,
        /// The first failed release.
        #[source]
        source: ReleaseError,
    },
    /// The scope is finishing, finished or cancelled and takes no new work.
    #[error("scope '{scope}' is closed: it is finishing or was cancelled, so it takes no new tasks or resources")]
    Closed {
        /// Scope name.
        scope: Name,
        /// Scope id.
        scope_id: ScopeId,
    },
    /// The scope's actor was killed before the scope could finish in order (for example its
    /// ractor parent exited, or a shutdown timed out). Its tasks were killed and its resources
    /// released in the background.
    #[error("scope '{scope}' was killed before it finished")]
    Killed {
        /// Scope name.
        scope: Name,
        /// Scope id.
        scope_id: ScopeId,
    },
    /// The manager has shut down or is shutting down and opens no new scopes.
    #[error("manager '{manager}' is shut down; start a new manager to open scopes")]
    ManagerStopped {
        /// Manager name.
        manager: Name,
    },
    /// The scope's actor could not be started.
    #[error("could not start the actor of scope '{scope}': {reason}")]
    Spawn {
        /// Scope name.
        scope: Name,
        /// What ractor returned.
        reason: String,
    },
    /// An invalid option.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An invalid dependency or task graph.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The call was made outside a tokio runtime.
    #[error("scope operation called outside a tokio runtime; call it from within a tokio runtime, for example under #[tokio::main]")]
    NoRuntime,
}

impl ScopeError {
    /// The task error, when a task's failure is the scope's error.
    pub fn task_error(&self) -> Option<&TaskError> {
        match self {
            ScopeError::TaskFailed { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Returns whether this counts as a failure of the scope: a task failed, a release failed,
    /// the scope was killed, or its deadline (or an enclosing scope's) passed. Other
    /// cancellations (by the user, a dropped handle, a manager shutdown) are not failures, and
    /// a scope linked under a user's actor then exits without a failure event.
    pub fn is_failure(&self) -> bool {
        match self {
            ScopeError::TaskFailed { .. }
            | ScopeError::ReleaseFailed { .. }
            | ScopeError::TimedOut { .. }
            | ScopeError::Killed { .. } => true,
            ScopeError::Cancelled { cause, .. } => {
                matches!(cause.root(), CancelCause::DeadlinePassed { .. })
            }
            _ => false,
        }
    }

    /// Returns whether the scope was cancelled (including by its deadline).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, ScopeError::Cancelled { .. })
    }

    /// The cancellation cause, when the scope was cancelled.
    pub fn cancel_cause(&self) -> Option<&CancelCause> {
        match self {
            ScopeError::Cancelled { cause, .. } => Some(cause),
            _ => None,
        }
    }

    /// Finds an error of type `E` in this error's `source()` chain, for example the user's own
    /// error returned by the task that failed, even through nested scopes.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        crate::error::find_in_chain(self)
    }
}
