use std::time::Duration;

use crate::{ConfigError, Name};

/// Why a supervised scope ended with an error, or could not start.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// A child ended more often than the restart intensity allows; every child was stopped.
    #[error("supervised scope '{supervisor}' gave up: child '{child}' needed more than {max_restarts} restarts in {period:?}")]
    RestartLimit {
        /// The supervised scope.
        supervisor: Name,
        /// The child whose exit went past the limit.
        child: Name,
        /// The policy's maximum restarts in the period.
        max_restarts: u32,
        /// The policy's period.
        period: Duration,
    },
    /// An invalid setting.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Started outside a tokio runtime.
    #[error("supervised scope started outside a tokio runtime; start it from within a tokio runtime, for example under #[tokio::main]")]
    NoRuntime,
    /// The scope's actor could not start, or was killed before it ended in order.
    #[error("supervised scope '{supervisor}' is not running: {reason}")]
    Stopped {
        /// The supervised scope.
        supervisor: Name,
        /// What went wrong.
        reason: String,
    },
}
