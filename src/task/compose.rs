use std::future::Future;
use std::time::Duration;

use super::Context;
use crate::compose::{self, Step};
use crate::{Name, Scope, ScopeError, ScopeOptions, Task};

/// The same helpers as on [`Manager`](crate::Manager), opening a child scope of this task's
/// scope, so that they nest: cancelling the parent scope cancels them, and their deadlines are
/// at most the parent's.
impl Context {
    /// Runs `tasks` at once in a child scope; see [`Manager::parallel`](crate::Manager::parallel).
    ///
    /// # Errors
    ///
    /// The child scope's error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the child scope; its tasks stop in the background.
    pub async fn parallel<T: Send + Sync + 'static>(
        &self,
        name: impl Into<Name>,
        tasks: Vec<Task<T>>,
    ) -> Result<Vec<T>, ScopeError> {
        let scope = self.open_scope(name).await?;
        compose::parallel(scope, tasks).await
    }

    /// Runs `tasks` one after another in a child scope; see
    /// [`Manager::series`](crate::Manager::series).
    ///
    /// # Errors
    ///
    /// The child scope's error.
    ///
    /// # Cancel safety
    ///
    /// As [`Context::parallel`].
    pub async fn series<T: Send + Sync + 'static>(
        &self,
        name: impl Into<Name>,
        tasks: Vec<Task<T>>,
    ) -> Result<Vec<T>, ScopeError> {
        let scope = self.open_scope(name).await?;
        compose::series(scope, tasks).await
    }

    /// Runs `steps` on each other's output in a child scope; see
    /// [`Manager::series_with`](crate::Manager::series_with).
    ///
    /// # Errors
    ///
    /// The child scope's error.
    ///
    /// # Cancel safety
    ///
    /// As [`Context::parallel`].
    pub async fn series_with<T: Send + Sync + 'static>(
        &self,
        name: impl Into<Name>,
        input: T,
        steps: Vec<Step<T>>,
    ) -> Result<T, ScopeError> {
        let scope = self.open_scope(name).await?;
        compose::series_with(scope, input, steps).await
    }

    /// Runs `body` with a child scope whose deadline is `timeout` from now, or the parent's
    /// deadline if that is earlier; see [`Manager::with_timeout`](crate::Manager::with_timeout).
    ///
    /// # Errors
    ///
    /// [`ScopeError::TimedOut`] when this deadline passed first; a cancellation error when an
    /// enclosing scope's deadline passed first; what `body` returns; [`ScopeError::Config`] for
    /// a zero timeout.
    ///
    /// # Cancel safety
    ///
    /// As [`Context::parallel`].
    pub async fn with_timeout<F, Fut, R>(
        &self,
        name: impl Into<Name>,
        timeout: Duration,
        body: F,
    ) -> Result<R, ScopeError>
    where
        F: FnOnce(Scope) -> Fut,
        Fut: Future<Output = Result<R, ScopeError>>,
    {
        let scope = self
            .open_scope_with(ScopeOptions::new(name).deadline(timeout))
            .await?;
        compose::with_timeout(scope, body).await
    }
}
