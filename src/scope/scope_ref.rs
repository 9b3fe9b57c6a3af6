use std::sync::Arc;

use ractor::ActorRef;
use tokio::sync::watch;
use tokio::time::Instant;

use super::actor::ScopeMsg;
use super::shared::ScopeShared;
use super::{Progress, ScopeError};
use crate::cancel::CancelNode;
use crate::task::TaskLaunch;
use crate::{
    CancelCause, ConfigError, GraphError, Name, Resource, ScopeId, Task, TaskGraph, TaskHandle,
    TaskId,
};

/// A cheap, cloneable reference to a scope: spawn tasks, register resources, cancel, watch
/// progress. Unlike the owning [`Scope`](crate::Scope) handle, dropping it has no effect and it
/// cannot wait for the scope.
#[derive(Clone)]
pub struct ScopeRef {
    pub(crate) shared: Arc<ScopeShared>,
    pub(crate) actor: ActorRef<ScopeMsg>,
}

impl std::fmt::Debug for ScopeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeRef")
            .field("id", &self.shared.id)
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

impl ScopeRef {
    /// Name of the scope.
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// Id of the scope.
    pub fn id(&self) -> ScopeId {
        self.shared.id
    }

    /// The scope's deadline, if it has one (its own or inherited from a parent scope).
    pub fn deadline(&self) -> Option<Instant> {
        self.shared.deadline
    }

    /// Spawns `task` into this scope and returns its handle at once; the task actor starts
    /// once its dependencies completed and the scope's concurrency limit leaves a slot.
    ///
    /// Tasks may spawn siblings through [`Context::scope`](crate::Context::scope) until the
    /// scope finishes.
    ///
    /// # Errors
    ///
    /// [`ScopeError::Closed`] when the scope is finishing, finished or cancelled;
    /// [`ScopeError::Config`] for a zero task timeout; [`ScopeError::Graph`] for a dependency
    /// on a task of another scope.
    pub fn spawn<T: Send + Sync + 'static>(
        &self,
        task: Task<T>,
    ) -> Result<TaskHandle<T>, ScopeError> {
        let (handle, launch) = task.into_parts();
        if let Err(error) = self.check(&launch) {
            self.cancel_unspawned(launch.slot.as_ref());
            return Err(error);
        }
        self.spawn_launch(launch)?;
        Ok(handle)
    }

    /// Spawns every task of `graph` after validating the graph as a whole.
    ///
    /// Nothing is spawned when a key is duplicated or unknown, a task depends on itself, the
    /// dependencies form a cycle, or a task depends on a task of another scope. Tasks are
    /// spawned in dependency order. Read their results through the handles that
    /// [`TaskGraph::add`] returned.
    ///
    /// # Errors
    ///
    /// [`ScopeError::Graph`] naming the tasks, [`ScopeError::Config`] for a zero task timeout,
    /// [`ScopeError::Closed`] when the scope is closed or cancelled. If the scope closes while
    /// the graph is being spawned, the tasks not yet spawned end as cancelled.
    pub fn spawn_graph(&self, graph: TaskGraph) -> Result<(), ScopeError> {
        let launches = graph.into_launches()?;
        // Check every task before spawning any. Dependencies inside the graph are bound to
        // this scope as their tasks are spawned, in dependency order, so only the others are
        // checked here.
        let in_graph: std::collections::HashSet<TaskId> =
            launches.iter().map(|launch| launch.id).collect();
        let checked = launches.iter().try_for_each(|launch| {
            self.check_timeout(launch)?;
            launch
                .dependencies
                .iter()
                .filter(|dependency| !in_graph.contains(&dependency.id()))
                .try_for_each(|dependency| self.check_dependency(launch, dependency.as_ref()))
        });
        if let Err(error) = checked {
            // Nothing was spawned; end the tasks so their handles do not wait forever.
            for launch in &launches {
                self.cancel_unspawned(launch.slot.as_ref());
            }
            return Err(error);
        }
        let mut launches = launches.into_iter();
        while let Some(launch) = launches.next() {
            if let Err(error) = self.spawn_launch(launch) {
                for rest in launches {
                    self.cancel_unspawned(rest.slot.as_ref());
                }
                return Err(error);
            }
        }
        Ok(())
    }

    /// Checks a task's options and dependencies before it is counted in.
    fn check(&self, launch: &TaskLaunch) -> Result<(), ScopeError> {
        self.check_timeout(launch)?;
        for dependency in &launch.dependencies {
            self.check_dependency(launch, dependency.as_ref())?;
        }
        Ok(())
    }

    fn check_timeout(&self, launch: &TaskLaunch) -> Result<(), ScopeError> {
        if let Some(timeout) = launch.timeout {
            ConfigError::nonzero(
                "timeout",
                timeout,
                "a task timeout must be greater than zero; leave it unset for no timeout",
            )?;
        }
        Ok(())
    }

    fn check_dependency(
        &self,
        launch: &TaskLaunch,
        dependency: &dyn crate::task::TaskSlot,
    ) -> Result<(), ScopeError> {
        if dependency.scope_id() != Some(self.shared.id) {
            return Err(ScopeError::Graph(GraphError::OtherScope {
                task: launch.name.clone(),
                dependency: dependency.name().clone(),
                dependency_id: dependency.id(),
            }));
        }
        Ok(())
    }

    /// Counts a checked task in and queues it for the actor.
    fn spawn_launch(&self, launch: TaskLaunch) -> Result<(), ScopeError> {
        if self.shared.cancel.is_cancelled() || !self.shared.try_enter() {
            self.cancel_unspawned(launch.slot.as_ref());
            return Err(self.closed_error());
        }
        launch.slot.bind_scope(self.shared.id);
        self.record_task_added();

        // One message starts every task queued until the actor reads it, so a burst of spawns
        // costs one trip through the actor's mailbox.
        if self.shared.enqueue(launch) && self.actor.cast(ScopeMsg::Schedule).is_err() {
            // The scope actor is gone (killed): the queued tasks never run.
            self.cancel_queued();
            return Err(self.closed_error());
        }
        Ok(())
    }

    /// Registers a resource with the scope. It is released when the scope finishes, after
    /// every task of the scope has ended and after resources registered later.
    ///
    /// # Errors
    ///
    /// [`ScopeError::Closed`] when the scope has already released its resources; the resource
    /// is then released at once in the background.
    pub fn register<R: Resource>(&self, resource: R) -> Result<(), ScopeError> {
        if self.shared.resources.push(resource) {
            Ok(())
        } else {
            Err(self.closed_error())
        }
    }

    /// Cancels the scope (cause [`CancelCause::UserCancelled`]) and its child scopes. Running
    /// tasks have their bodies dropped at their next await and end cancelled; nothing outside
    /// the scope is affected. Does nothing if the scope was already cancelled.
    pub fn cancel(&self) {
        self.cancel_with(CancelCause::UserCancelled {
            scope: self.shared.name.clone(),
        });
    }

    /// Cancels the scope with `cause` unless it already has one, and sends its actor
    /// `ScopeMsg::Cancelled`, so that a scope with no task left finishes without `wait`.
    ///
    /// The message is sent even when the scope was already cancelled: a cancellation that came
    /// through a parent's token (the manager's root, or the scope of the task that opened this
    /// scope) reaches no actor by itself. Every such path ends here: shutdown cancels each
    /// top-level scope, and a task that ends cancels the child scopes it opened. A failing task
    /// cancels its scope directly; its own exit then reaches the actor as a supervision event.
    pub(crate) fn cancel_with(&self, cause: CancelCause) {
        if self.shared.cancel.cancel(cause) {
            tracing::debug!(
                scope.name = %self.shared.name,
                scope.id = %self.shared.id,
                cause = ?self.shared.cancel.cause(),
                "scope cancelled"
            );
        }
        // Fails once the actor is stopping; it then needs no message.
        let _ = self.actor.cast(ScopeMsg::Cancelled);
    }

    /// Returns whether the scope was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancel.is_cancelled()
    }

    /// Why the scope was cancelled, once it was.
    pub fn cancel_cause(&self) -> Option<CancelCause> {
        self.shared.cancel.cause()
    }

    /// Returns whether the scope has finished (its result is final).
    pub fn is_finished(&self) -> bool {
        self.shared.result().is_some()
    }

    /// A watch of the scope's task counts, updated on every task state change.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.shared.progress.subscribe()
    }

    pub(crate) fn shared(&self) -> &Arc<ScopeShared> {
        &self.shared
    }

    pub(crate) fn cancel_node(&self) -> &Arc<CancelNode> {
        &self.shared.cancel
    }

    pub(crate) fn closed_error(&self) -> ScopeError {
        ScopeError::Closed {
            scope: self.shared.name.clone(),
            scope_id: self.shared.id,
        }
    }

    /// Completes once the scope's actor and all its task actors have terminated and every
    /// resource registered below the scope has been released.
    pub(crate) async fn terminated(&self) {
        let _ = self.actor.get_cell().wait(None).await;
        // After a kill, ractor stops the task actors without waiting for them.
        self.shared.all_tasks_gone().await;
        self.shared.group.wait_idle().await;
    }

    /// The final result once the scope terminated.
    pub(crate) fn final_result(&self) -> Result<(), ScopeError> {
        match self.shared.result() {
            Some(result) => result.clone(),
            None => Err(ScopeError::Killed {
                scope: self.shared.name.clone(),
                scope_id: self.shared.id,
            }),
        }
    }
}
