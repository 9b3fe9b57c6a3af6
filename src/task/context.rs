use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ractor::ActorCell;
use tokio::time::Instant;

use crate::cancel::CancelNode;
use crate::resource::{Owner, ReleaseStack};
use crate::scope::{Scope, ScopeOptions, ScopeRef};
use crate::util::lock;
use crate::{CancelCause, Name, Resource, ScopeError, TaskError, TaskHandle, TaskId};

/// What a task body receives: its name, its cancellation and its cause, its effective deadline,
/// its scope, and a place to register resources and open child scopes.
///
/// Cloning is cheap; clones refer to the same task.
#[derive(Clone)]
pub struct Context {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    task: Name,
    task_id: TaskId,
    scope: ScopeRef,
    cancel: Arc<CancelNode>,
    deadline: Option<Instant>,
    /// The task's release stack, made on first use: most tasks register nothing. `None` once
    /// the task has ended without one, so a late registration cannot make a stack that no exit
    /// path would drain.
    resources: OnceLock<Option<Arc<ReleaseStack>>>,
    children: Mutex<Vec<ScopeRef>>,
    /// Supervised scopes this task started, stopped when it ends.
    supervisors: Mutex<Vec<crate::supervisor::StopHandle>>,
    actor: ActorCell,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("task", &self.inner.task)
            .field("task_id", &self.inner.task_id)
            .field("scope", &self.inner.scope.name())
            .field("deadline", &self.inner.deadline)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub(crate) fn new(
        task: Name,
        task_id: TaskId,
        scope: ScopeRef,
        deadline: Option<Instant>,
        actor: ActorCell,
    ) -> Self {
        let cancel = Arc::clone(scope.cancel_node());
        Context {
            inner: Arc::new(ContextInner {
                task,
                task_id,
                scope,
                cancel,
                deadline,
                resources: OnceLock::new(),
                children: Mutex::new(Vec::new()),
                supervisors: Mutex::new(Vec::new()),
                actor,
            }),
        }
    }

    /// Name of the task.
    pub fn name(&self) -> &Name {
        &self.inner.task
    }

    /// Id of the task.
    pub fn id(&self) -> TaskId {
        self.inner.task_id
    }

    /// The task's scope: spawn siblings, register scope-wide resources, watch progress.
    pub fn scope(&self) -> &ScopeRef {
        &self.inner.scope
    }

    /// Returns whether the task's cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Why the task was cancelled, once its cancellation was requested.
    pub fn cancel_cause(&self) -> Option<CancelCause> {
        self.inner.cancel.cause()
    }

    /// Completes when the task's cancellation is requested.
    ///
    /// The library already drops the body when that happens. Use this in work the body hands
    /// off elsewhere (a `spawn_blocking` loop, a detached task), so that it stops too.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub fn cancelled(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.inner.cancel.cancelled_owned()
    }

    /// The task's effective deadline: the earlier of its own timeout and its scope's deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline
    }

    /// Time left until the effective deadline, zero once it has passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.inner
            .deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Returns the result of `dependency`, a task this task was declared to run after (with
    /// [`Task::after`](crate::Task::after) or in a [`TaskGraph`](crate::TaskGraph)), without
    /// waiting and without copying the value.
    ///
    /// # Errors
    ///
    /// [`TaskError::NotFinished`] when `dependency` is not one of this task's dependencies and
    /// has not finished yet.
    pub fn dependency<T: Send + Sync + 'static>(
        &self,
        dependency: &TaskHandle<T>,
    ) -> Result<Arc<T>, TaskError> {
        dependency.result()
    }

    /// Registers a resource with this task. It is released when the task ends, on every exit
    /// path, after resources registered later and before the task's outcome is final.
    ///
    /// # Errors
    ///
    /// [`ScopeError::Closed`] when the task has already ended; the resource is then released
    /// at once in the background.
    pub fn register<R: Resource>(&self, resource: R) -> Result<(), ScopeError> {
        let stack = self.inner.resources.get_or_init(|| Some(self.new_stack()));
        let accepted = match stack {
            Some(stack) => stack.push(resource),
            None => {
                // The task has ended: a closed stack of its own releases it at once.
                let stack = self.new_stack();
                stack.close();
                stack.push(resource)
            }
        };
        if accepted {
            Ok(())
        } else {
            Err(self.inner.scope.closed_error())
        }
    }

    /// Opens a child scope named `name`. See [`Context::open_scope_with`].
    ///
    /// # Errors
    ///
    /// As [`Context::open_scope_with`].
    ///
    /// # Cancel safety
    ///
    /// As [`Context::open_scope_with`].
    pub async fn open_scope(&self, name: impl Into<Name>) -> Result<Scope, ScopeError> {
        self.open_scope_with(ScopeOptions::new(name)).await
    }

    /// Opens a child scope of this task's scope. Cancelling the parent scope cancels it (cause
    /// [`CancelCause::ParentCancelled`]); its deadline is at most this task's effective
    /// deadline ([`Context::deadline`]), which includes the task's own timeout. The tree shows
    /// it under this task. Its failure
    /// reaches the parent only through this task's result. If it is still open when this task
    /// ends, it is cancelled and awaited before this task's outcome is final.
    ///
    /// # Errors
    ///
    /// [`ScopeError::Config`] for invalid options, [`ScopeError::Closed`] when this task's
    /// scope is cancelled, [`ScopeError::Spawn`] when the scope actor could not start.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped after the scope actor started, the new scope is cancelled
    /// (cause: handle dropped) and finishes in the background.
    pub async fn open_scope_with(&self, options: ScopeOptions) -> Result<Scope, ScopeError> {
        let parent = &self.inner.scope;
        // A task runs its body while its actor is starting; after that it opens nothing.
        let running = matches!(
            self.inner.actor.get_status(),
            ractor::ActorStatus::Starting | ractor::ActorStatus::Running
        );
        if self.is_cancelled() || !running {
            return Err(parent.closed_error());
        }
        let opener = crate::scope::Opener {
            actor: self.inner.actor.clone(),
            id: self.inner.task_id.as_u64(),
            deadline: self.inner.deadline,
        };
        let scope = crate::scope::start_child(parent, options, opener).await?;
        let mut children = lock(&self.inner.children);
        // Forget scopes that already finished, so a task that opens many scopes in turn does
        // not keep them all.
        children.retain(|child| !child.is_finished());
        children.push(scope.as_ref().clone());
        drop(children);
        Ok(scope)
    }

    /// Starts a supervised scope under this task. It is stopped (its children in reverse start
    /// order) when the task ends, before the task's own resources are released, and its
    /// restarts count in the tree's statistics.
    ///
    /// # Errors
    ///
    /// As [`Supervisor::start`](crate::Supervisor::start).
    ///
    /// # Cancel safety
    ///
    /// As [`Supervisor::start`](crate::Supervisor::start).
    pub async fn supervise(
        &self,
        options: crate::SupervisorOptions,
        children: Vec<crate::ChildSpec>,
    ) -> Result<crate::Supervisor, crate::SupervisorError> {
        let hub = Arc::clone(&self.inner.scope.shared().hub);
        let starting = crate::Supervisor::start_under(
            options,
            children,
            Some(self.inner.actor.clone()),
            false,
            Some(hub),
            Some(self.inner.task_id.as_u64()),
        )
        .await?;
        // Recorded before the children start, so that the task's end stops and waits for it
        // even when the task is cancelled during the start.
        lock(&self.inner.supervisors).push(starting.stop_handle());
        starting.children_started().await
    }

    /// Cancels and waits for the child scopes this task opened that are still open, and stops
    /// the supervised scopes it started, newest first.
    pub(crate) async fn close_children(&self) {
        let supervisors = std::mem::take(&mut *lock(&self.inner.supervisors));
        for supervisor in supervisors.iter().rev() {
            supervisor.stop();
            let _ = supervisor.cell.wait(None).await;
        }
        let children = std::mem::take(&mut *lock(&self.inner.children));
        for child in children.iter().rev() {
            child.cancel_with(CancelCause::OpenerEnded {
                task: self.inner.task.clone(),
            });
            child.terminated().await;
        }
    }

    /// Cancels the child scopes without waiting, for exit paths that cannot wait.
    pub(crate) fn cancel_children(&self) {
        for child in lock(&self.inner.children).iter() {
            child.cancel_with(CancelCause::OpenerEnded {
                task: self.inner.task.clone(),
            });
        }
    }

    fn new_stack(&self) -> Arc<ReleaseStack> {
        let shared = self.inner.scope.shared();
        ReleaseStack::new(
            Owner {
                scope: shared.name.clone(),
                scope_id: shared.id,
                task: Some((self.inner.task.clone(), self.inner.task_id)),
            },
            Arc::clone(&shared.tasks),
            Arc::clone(&shared.hub),
            shared.release_timeout,
        )
    }

    /// Closes the task's release stack, returning it if resources were ever registered.
    pub(crate) fn close_resources(&self) -> Option<&Arc<ReleaseStack>> {
        self.inner.resources.get_or_init(|| None).as_ref()
    }

    /// The task's own actor.
    pub(crate) fn actor_cell(&self) -> &ActorCell {
        &self.inner.actor
    }

    pub(crate) fn cancel_node(&self) -> &Arc<CancelNode> {
        &self.inner.cancel
    }
}
