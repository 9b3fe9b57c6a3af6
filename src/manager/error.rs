use std::time::Duration;

use crate::{ActorKind, ConfigError, Name, ScopeError, SupervisorError};

/// Why a manager could not start, or how its shutdown went wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// An invalid setting.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The manager was started outside a tokio runtime.
    #[error("manager started outside a tokio runtime; start it from within a tokio runtime, for example under #[tokio::main]")]
    NoRuntime,
    /// The manager's actor could not be started.
    #[error("could not start the actor of manager '{manager}': {reason}")]
    Spawn {
        /// Manager name.
        manager: Name,
        /// What ractor returned.
        reason: String,
    },
    /// Shutdown did not finish within the shutdown timeout; what was left was killed.
    #[error("shutdown of manager '{manager}' timed out after {timeout:?}; killed {} actors", killed.len())]
    ShutdownTimedOut {
        /// Manager name.
        manager: Name,
        /// The shutdown timeout.
        timeout: Duration,
        /// The actors that were killed.
        killed: Vec<KilledActor>,
    },
    /// A scope failed while failures escalate (see
    /// [`ManagerConfig::escalate_failures`](crate::ManagerConfig::escalate_failures)), so the
    /// manager shut down.
    #[error("manager '{manager}' shut down because a scope failed: {source}")]
    ScopeFailed {
        /// Manager name.
        manager: Name,
        /// The scope's error.
        #[source]
        source: ScopeError,
    },
    /// A supervised scope under the manager gave up while failures escalate (see
    /// [`ManagerConfig::escalate_failures`](crate::ManagerConfig::escalate_failures)), so the
    /// manager shut down.
    #[error("manager '{manager}' shut down because a supervised scope failed: {source}")]
    SupervisorFailed {
        /// Manager name.
        manager: Name,
        /// The supervised scope's error.
        #[source]
        source: SupervisorError,
    },
    /// An actor under the manager failed in a way that is neither a scope's nor a supervised
    /// scope's error (a panic inside the library) while failures escalate, so the manager shut
    /// down.
    #[error("manager '{manager}' shut down because an actor under it failed: {reason}")]
    ActorFailed {
        /// Manager name.
        manager: Name,
        /// The error ractor reported.
        reason: String,
    },
    /// The manager's actor was killed from outside before it could shut down in order.
    #[error("manager '{manager}' was killed before it shut down")]
    Killed {
        /// Manager name.
        manager: Name,
    },
}

/// An actor that a timed-out shutdown killed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KilledActor {
    /// Scope or task.
    pub kind: ActorKind,
    /// The library's id of the actor.
    pub id: u64,
    /// The user's label.
    pub name: Name,
}
