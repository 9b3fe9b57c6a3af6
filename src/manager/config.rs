use std::time::Duration;

use crate::{ConfigError, Name};

/// Settings of a [`Manager`](crate::Manager).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ractor_scope::ManagerConfig;
///
/// let config = ManagerConfig::new("checkout-service")
///     .shutdown_timeout(Duration::from_secs(10))
///     .release_timeout(Duration::from_secs(2));
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
#[must_use = "a config does nothing until a manager is started with it"]
pub struct ManagerConfig {
    pub(crate) name: Name,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) release_timeout: Duration,
    pub(crate) error_buffer: usize,
    pub(crate) escalate: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig::new("manager")
    }
}

impl ManagerConfig {
    /// Settings for a manager named `name`, with every other setting at its default.
    pub fn new(name: impl Into<Name>) -> Self {
        ManagerConfig {
            name: name.into(),
            shutdown_timeout: Duration::from_secs(30),
            release_timeout: crate::scope::DEFAULT_RELEASE_TIMEOUT,
            error_buffer: 1024,
            escalate: false,
        }
    }

    /// How long [`Manager::shutdown`](crate::Manager::shutdown) waits for scopes to finish in
    /// order before it kills what is left.
    ///
    /// Default: 30 s. Zero is rejected.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How long one resource release may run before it is dropped and reported as timed out.
    /// Scopes may override it with
    /// [`ScopeOptions::release_timeout`](crate::ScopeOptions::release_timeout).
    ///
    /// Default: 5 s. Zero is rejected.
    pub fn release_timeout(mut self, timeout: Duration) -> Self {
        self.release_timeout = timeout;
        self
    }

    /// How many error reports each subscriber of [`Manager::errors`](crate::Manager::errors)
    /// buffers. Reports that arrive while a subscriber's buffer is full are counted as missed.
    ///
    /// Default: 1024. Zero is rejected.
    pub fn error_buffer(mut self, capacity: usize) -> Self {
        self.error_buffer = capacity;
        self
    }

    /// When `true`, the first scope failure (see
    /// [`ScopeError::is_failure`](crate::ScopeError::is_failure)) or a supervised scope that
    /// gives up shuts the whole manager down. The manager's actor then exits with
    /// [`ManagerError::ScopeFailed`](crate::ManagerError::ScopeFailed) or
    /// [`ManagerError::SupervisorFailed`](crate::ManagerError::SupervisorFailed), which a
    /// user's actor it is linked under receives as `ActorFailed`, and
    /// [`Manager::shutdown`](crate::Manager::shutdown) returns the same error. Erlang calls
    /// this escalation.
    ///
    /// Default: `false`; scope failures stay inside their scope.
    pub fn escalate_failures(mut self, escalate: bool) -> Self {
        self.escalate = escalate;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::nonzero(
            "shutdown_timeout",
            self.shutdown_timeout,
            "the shutdown timeout must be greater than zero, for example 30s",
        )?;
        ConfigError::nonzero(
            "release_timeout",
            self.release_timeout,
            "the release timeout must be greater than zero, for example 5s",
        )?;
        if self.error_buffer == 0 {
            return Err(ConfigError::new(
                "error_buffer",
                self.error_buffer,
                "each error-stream subscriber needs room for at least one report, for example 1024",
            ));
        }
        Ok(())
    }
}
