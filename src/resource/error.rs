use std::sync::Arc;
use std::time::Duration;

use crate::{Name, ScopeId, TaskId};

/// A resource whose release failed, timed out or panicked.
#[derive(Debug, Clone, thiserror::Error)]
#[error("release of resource '{resource}' owned by {} failed: {failure}", owner_label(.scope, .task))]
#[non_exhaustive]
pub struct ReleaseError {
    /// Scope that owned the resource, or whose task owned it.
    pub scope: Name,
    /// Id of that scope.
    pub scope_id: ScopeId,
    /// Task that owned the resource, when it was registered with a task.
    pub task: Option<(Name, TaskId)>,
    /// Name of the resource.
    pub resource: Name,
    /// What went wrong.
    #[source]
    pub failure: ReleaseFailure,
}

fn owner_label(scope: &Name, task: &Option<(Name, TaskId)>) -> String {
    match task {
        Some((task, _)) => format!("task '{task}' of scope '{scope}'"),
        None => format!("scope '{scope}'"),
    }
}

/// How a release went wrong.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ReleaseFailure {
    /// `release` returned an error.
    Failed(Arc<dyn std::error::Error + Send + Sync + 'static>),
    /// `release` did not finish within the release timeout and was dropped.
    TimedOut(Duration),
    /// `release` panicked.
    Panicked(String),
}

impl std::fmt::Display for ReleaseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReleaseFailure::Failed(error) => write!(f, "{error}"),
            ReleaseFailure::TimedOut(timeout) => write!(f, "timed out after {timeout:?}"),
            ReleaseFailure::Panicked(message) => write!(f, "panicked: {message}"),
        }
    }
}

impl std::error::Error for ReleaseFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReleaseFailure::Failed(error) => Some(&**error),
            _ => None,
        }
    }
}
