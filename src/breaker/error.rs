use std::convert::Infallible;
use std::time::Duration;

use super::BreakerState;
use crate::{CancelCause, ConfigError, Name};

/// Why a call through a breaker, or an operation on it, did not succeed.
///
/// `E` is the error type of the operation a call runs; operations on the breaker itself use
/// the default, [`Infallible`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BreakerError<E = Infallible> {
    /// The call was rejected without running: the breaker is open, forced open, or half-open
    /// with every trial slot taken.
    #[error("circuit breaker '{breaker}' is {state}; call rejected")]
    Open {
        /// Breaker name.
        breaker: Name,
        /// The state that rejected the call.
        state: BreakerState,
    },
    /// The operation returned an error. Whether it counted as a failure depends on the
    /// breaker's failure predicate.
    #[error(transparent)]
    Failed(E),
    /// The operation did not finish within the call timeout; it was dropped and counted as a
    /// failure.
    #[error("call through circuit breaker '{breaker}' timed out after {timeout:?}")]
    TimedOut {
        /// Breaker name.
        breaker: Name,
        /// The call timeout.
        timeout: Duration,
    },
    /// The operation panicked; counted as a failure.
    #[error("call through circuit breaker '{breaker}' panicked: {message}")]
    Panicked {
        /// Breaker name.
        breaker: Name,
        /// The panic message.
        message: String,
    },
    /// The caller's task was cancelled while the call ran; the operation was dropped and the
    /// call counted as neither success nor failure.
    #[error("call through circuit breaker '{breaker}' cancelled: {cause}")]
    Cancelled {
        /// Breaker name.
        breaker: Name,
        /// Why the caller was cancelled.
        cause: CancelCause,
    },
    /// An invalid setting.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The breaker was started, or called with a call timeout or controlled by hand, outside a
    /// tokio runtime. Such a call, once admitted, counts as cancelled.
    #[error("circuit breaker used outside a tokio runtime; start and call it from within a tokio runtime, for example under #[tokio::main]")]
    NoRuntime,
    /// The breaker's actor could not be started, or has stopped, so a manual control could not
    /// be applied.
    #[error("circuit breaker '{breaker}' is not running: {reason}")]
    Stopped {
        /// Breaker name.
        breaker: Name,
        /// What went wrong.
        reason: String,
    },
}

impl<E> BreakerError<E> {
    /// Returns whether the call was rejected by an open breaker without running.
    pub fn is_open(&self) -> bool {
        matches!(self, BreakerError::Open { .. })
    }

    /// The operation's own error, when it returned one.
    pub fn into_inner(self) -> Option<E> {
        match self {
            BreakerError::Failed(error) => Some(error),
            _ => None,
        }
    }
}
