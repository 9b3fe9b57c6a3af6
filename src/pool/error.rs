use std::sync::Arc;
use std::time::Duration;

use crate::{CancelCause, ConfigError, Name};

/// Why an item could not be acquired from a pool, or the pool could not start.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The pool is closed and hands out no more items.
    #[error("pool '{pool}' is closed")]
    Closed {
        /// Pool name.
        pool: Name,
    },
    /// No item became available within the acquire timeout (or before the caller's deadline).
    #[error("acquire from pool '{pool}' timed out after {timeout:?}")]
    TimedOut {
        /// Pool name.
        pool: Name,
        /// How long the acquire waited.
        timeout: Duration,
    },
    /// The caller's task was cancelled while it waited.
    #[error("acquire from pool '{pool}' cancelled: {cause}")]
    Cancelled {
        /// Pool name.
        pool: Name,
        /// Why the caller was cancelled.
        cause: CancelCause,
    },
    /// The factory failed to make the item this acquire was waiting for.
    #[error("pool '{pool}' could not create an item: {source}")]
    Factory {
        /// Pool name.
        pool: Name,
        /// The factory's error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// Every item this acquire was handed failed validation: each idle item and a new one.
    #[error("pool '{pool}' handed out {attempts} items in a row that failed validation: {source}")]
    Invalid {
        /// Pool name.
        pool: Name,
        /// How many items were tried.
        attempts: usize,
        /// The last validation error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// An invalid setting.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The pool was started, or an acquire had to wait, outside a tokio runtime.
    #[error("pool used outside a tokio runtime; start it and acquire from within a tokio runtime, for example under #[tokio::main]")]
    NoRuntime,
    /// The pool's actor could not start, or has stopped.
    #[error("pool '{pool}' is not running: {reason}")]
    Stopped {
        /// Pool name.
        pool: Name,
        /// What went wrong.
        reason: String,
    },
}

impl PoolError {
    /// Returns whether the acquire timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, PoolError::TimedOut { .. })
    }

    /// Returns whether the pool is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, PoolError::Closed { .. })
    }
}
