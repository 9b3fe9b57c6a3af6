use std::future::Future;
use std::time::Duration;

use super::Manager;
use crate::compose::{self, Step};
use crate::{Name, Scope, ScopeError, ScopeOptions, Task};

impl Manager {
    /// Runs `tasks` at once in a new scope named `name` and returns their values in the order
    /// given. The first failure cancels the others and is the error returned, naming its task.
    ///
    /// # Errors
    ///
    /// The scope's error (see [`Scope::wait`]); [`ScopeError::ManagerStopped`] after shutdown.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the scope (cause: handle dropped); its tasks stop and their
    /// resources are released in the background.
    ///
    /// # Examples
    ///
    /// ```
    /// use ractor_scope::{BoxError, Context, Manager, ManagerConfig, Task};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = Manager::start(ManagerConfig::default()).await?;
    /// let pages = manager
    ///     .parallel(
    ///         "fetch",
    ///         (1..=3)
    ///             .map(|page| {
    ///                 Task::new(format!("page-{page}"), move |_ctx: Context| async move {
    ///                     Ok::<_, BoxError>(page * 10)
    ///                 })
    ///             })
    ///             .collect(),
    ///     )
    ///     .await?;
    /// assert_eq!(pages, vec![10, 20, 30]);
    /// manager.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn parallel<T: Send + Sync + 'static>(
        &self,
        name: impl Into<Name>,
        tasks: Vec<Task<T>>,
    ) -> Result<Vec<T>, ScopeError> {
        let scope = self.scope(name).await?;
        compose::parallel(scope, tasks).await
    }

    /// Runs `tasks` one after another in a new scope named `name`, each after the one before
    /// completed, and returns their values in order. A failure stops the chain: later tasks
    /// never start (they end as skipped).
    ///
    /// # Errors
    ///
    /// As [`Manager::parallel`].
    ///
    /// # Cancel safety
    ///
    /// As [`Manager::parallel`].
    pub async fn series<T: Send + Sync + 'static>(
        &self,
        name: impl Into<Name>,
        tasks: Vec<Task<T>>,
    ) -> Result<Vec<T>, ScopeError> {
        let scope = self.scope(name).await?;
        compose::series(scope, tasks).await
    }

    /// Runs `steps` one after another in a new scope named `name`, each on the output of the
    /// one before (starting from `input`), and returns the last output.
    ///
    /// # Errors
    ///
    /// As [`Manager::parallel`].
    ///
    /// # Cancel safety
    ///
    /// As [`Manager::parallel`].
    pub async fn series_with<T: Send + Sync + 'static>(
        &self,
        name: impl Into<Name>,
        input: T,
        steps: Vec<Step<T>>,
    ) -> Result<T, ScopeError> {
        let scope = self.scope(name).await?;
        compose::series_with(scope, input, steps).await
    }

    /// Starts a supervised scope under the manager. It is stopped when the manager shuts down,
    /// before the scopes, and its restarts count in the manager's statistics. When it gives
    /// up with [`ManagerConfig::escalate_failures`](crate::ManagerConfig::escalate_failures)
    /// on, the manager shuts down with [`ManagerError::SupervisorFailed`](crate::ManagerError).
    ///
    /// # Errors
    ///
    /// As [`Supervisor::start`](crate::Supervisor::start), and
    /// [`SupervisorError::Stopped`](crate::SupervisorError::Stopped) when the manager is
    /// shutting down (a scope started just as the shutdown began is stopped first).
    ///
    /// # Cancel safety
    ///
    /// As [`Supervisor::start`](crate::Supervisor::start).
    pub async fn supervise(
        &self,
        options: crate::SupervisorOptions,
        children: Vec<crate::ChildSpec>,
    ) -> Result<crate::Supervisor, crate::SupervisorError> {
        let name = options.name.clone();
        let shutting_down = || crate::SupervisorError::Stopped {
            supervisor: name.clone(),
            reason: "its parent (a manager, a task or your actor) is shutting down".to_string(),
        };
        if self.shared().is_closing() {
            return Err(shutting_down());
        }
        let (cell, hub) = self.supervisor_parent();
        let parent_id = Some(self.id().as_u64());
        let starting =
            crate::Supervisor::start_under(options, children, cell, false, Some(hub), parent_id)
                .await?;
        // Tracked before the children start, so that a shutdown meanwhile stops it first.
        let stop = starting.stop_handle();
        self.track_supervisor(stop.clone());
        // The shutdown stops the supervised scopes it finds in the list once, when it begins.
        // One added after that is stopped here, so the shutdown does not wait for it until
        // its timeout.
        if self.shared().is_closing() {
            stop.stop();
            let _ = starting.children_started().await;
            let _ = stop.cell.wait(None).await;
            return Err(shutting_down());
        }
        starting.children_started().await
    }

    /// Runs `body` with a new scope named `name` whose deadline is `timeout` from now. When the
    /// deadline passes first, `body` is dropped, every task of the scope (running or queued)
    /// is cancelled with cause [`DeadlinePassed`](crate::CancelCause::DeadlinePassed), and the
    /// call returns [`ScopeError::TimedOut`] naming the scope and the duration. It returns only
    /// after the scope has finished.
    ///
    /// If `body` returns without waiting for the scope, the scope is cancelled (its handle was
    /// dropped) and waited for before the call returns `body`'s result.
    ///
    /// # Errors
    ///
    /// [`ScopeError::TimedOut`], or what `body` returns; [`ScopeError::Config`] for a zero
    /// timeout.
    ///
    /// # Cancel safety
    ///
    /// As [`Manager::parallel`].
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
            .scope_with(ScopeOptions::new(name).deadline(timeout))
            .await?;
        compose::with_timeout(scope, body).await
    }
}
