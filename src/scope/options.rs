use std::time::Duration;

use super::FailurePolicy;
use crate::{ConfigError, Name};

/// Options of a new scope.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ractor_scope::ScopeOptions;
///
/// let options = ScopeOptions::new("checkout").deadline(Duration::from_secs(8));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
#[must_use = "options do nothing until a scope is opened with them"]
pub struct ScopeOptions {
    pub(crate) name: Name,
    pub(crate) deadline: Option<Duration>,
    pub(crate) release_timeout: Option<Duration>,
    pub(crate) limit: Option<usize>,
    pub(crate) failure_policy: FailurePolicy,
}

impl ScopeOptions {
    /// Options for a scope named `name`. Names are labels and may repeat.
    pub fn new(name: impl Into<Name>) -> Self {
        ScopeOptions {
            name: name.into(),
            deadline: None,
            release_timeout: None,
            limit: None,
            failure_policy: FailurePolicy::CancelScope,
        }
    }

    /// Cancels the scope, with cause [`DeadlinePassed`](crate::CancelCause::DeadlinePassed),
    /// this long after it opens. A nested scope's deadline is at most its parent's.
    ///
    /// Default: none. Zero is rejected.
    pub fn deadline(mut self, after: Duration) -> Self {
        self.deadline = Some(after);
        self
    }

    /// Bounds each resource release of this scope and its tasks; a release still running after
    /// this long is dropped and reported as timed out.
    ///
    /// Default: the manager's release timeout (see
    /// [`ManagerConfig::release_timeout`](crate::ManagerConfig::release_timeout)), or 5 s for a
    /// scope started without a manager. Zero is rejected.
    pub fn release_timeout(mut self, timeout: Duration) -> Self {
        self.release_timeout = Some(timeout);
        self
    }

    /// Runs at most `limit` of the scope's tasks at once. Ready tasks wait for a free slot in
    /// priority order (higher first), first come first served among equals: in the order they
    /// became ready. Tasks waiting for dependencies hold no slot and no place in that order.
    ///
    /// Default: no limit. Zero is rejected.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets what a task failure does to the rest of the scope.
    ///
    /// Default: [`FailurePolicy::CancelScope`].
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.limit == Some(0) {
            return Err(ConfigError::new(
                "limit",
                0,
                "a concurrency limit must be at least 1; leave it unset for no limit",
            ));
        }
        if let Some(deadline) = self.deadline {
            ConfigError::nonzero(
                "deadline",
                deadline,
                "a scope deadline must be greater than zero; leave it unset for no deadline",
            )?;
        }
        if let Some(timeout) = self.release_timeout {
            ConfigError::nonzero(
                "release_timeout",
                timeout,
                "a release timeout must be greater than zero",
            )?;
        }
        Ok(())
    }
}
