use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Notify;

use crate::util::lock;
use crate::{Name, ScopeId, TaskError, TaskId, TaskState};

/// The typed result slot of one task, shared by its handles and its actor.
pub(crate) struct TaskShared<T> {
    id: TaskId,
    name: Name,
    /// The scope the task was spawned into, set once by `spawn`.
    scope: OnceLock<ScopeId>,
    /// The task's actor, set once the scope started it.
    actor: OnceLock<ractor::ActorId>,
    state: AtomicU8,
    staged: Mutex<Option<T>>,
    outcome: OnceLock<Result<Arc<T>, TaskError>>,
    done: Notify,
    /// Set by `join` before it waits, so that `finish` wakes no waiter (and takes no lock) when
    /// no one joins.
    joined: AtomicBool,
}

impl<T> TaskShared<T> {
    pub(crate) fn new(id: TaskId, name: Name) -> Self {
        TaskShared {
            id,
            name,
            scope: OnceLock::new(),
            actor: OnceLock::new(),
            state: AtomicU8::new(TaskState::Pending.as_u8()),
            staged: Mutex::new(None),
            outcome: OnceLock::new(),
            done: Notify::new(),
            joined: AtomicBool::new(false),
        }
    }

    /// Keeps the body's value until the task's outcome is final.
    pub(crate) fn stage(&self, value: T) {
        *lock(&self.staged) = Some(value);
    }
}

/// The task slot as the actor sees it, without the result type.
pub(crate) trait TaskSlot: Send + Sync + 'static {
    fn id(&self) -> TaskId;
    fn name(&self) -> &Name;
    fn scope_id(&self) -> Option<ScopeId>;
    /// Records the scope the task is spawned into. Returns `false` if it already had one.
    fn bind_scope(&self, scope: ScopeId) -> bool;
    fn actor(&self) -> Option<ractor::ActorId>;
    fn bind_actor(&self, actor: ractor::ActorId);
    fn state(&self) -> TaskState;
    fn set_running(&self);
    fn is_finished(&self) -> bool;
    /// Makes the outcome final. Returns `false` when it already was.
    fn finish(&self, outcome: Result<(), TaskError>) -> bool;
}

impl<T: Send + Sync + 'static> TaskSlot for TaskShared<T> {
    fn id(&self) -> TaskId {
        self.id
    }

    fn name(&self) -> &Name {
        &self.name
    }

    fn scope_id(&self) -> Option<ScopeId> {
        self.scope.get().copied()
    }

    fn bind_scope(&self, scope: ScopeId) -> bool {
        self.scope.set(scope).is_ok()
    }

    fn actor(&self) -> Option<ractor::ActorId> {
        self.actor.get().copied()
    }

    fn bind_actor(&self, actor: ractor::ActorId) {
        let _ = self.actor.set(actor);
    }

    fn state(&self) -> TaskState {
        TaskState::from_u8(self.state.load(Ordering::SeqCst))
    }

    fn set_running(&self) {
        self.state
            .store(TaskState::Running.as_u8(), Ordering::SeqCst);
    }

    fn is_finished(&self) -> bool {
        self.outcome.get().is_some()
    }

    fn finish(&self, outcome: Result<(), TaskError>) -> bool {
        let outcome = outcome.and_then(|()| {
            lock(&self.staged)
                .take()
                .map(Arc::new)
                .ok_or_else(|| TaskError::NotFinished {
                    task: self.name.clone(),
                    task_id: self.id,
                })
        });
        let state = match &outcome {
            Ok(_) => TaskState::Completed,
            Err(error) => error.state(),
        };
        if self.outcome.set(outcome).is_err() {
            return false;
        }
        self.state.store(state.as_u8(), Ordering::SeqCst);
        // Pairs with the fence in `join`: either this sees the joiner, or the joiner sees the
        // outcome.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.joined.load(Ordering::SeqCst) {
            self.done.notify_waiters();
        }
        true
    }
}

/// A handle to a task: its state, and its typed result once it has finished.
///
/// Cloning is cheap. Dropping a handle does not affect the task.
pub struct TaskHandle<T> {
    shared: Arc<TaskShared<T>>,
}

impl<T> Clone for TaskHandle<T> {
    fn clone(&self) -> Self {
        TaskHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> std::fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle")
            .field("id", &self.shared.id)
            .field("name", &self.shared.name)
            .field("scope_id", &self.shared.scope.get())
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> TaskHandle<T> {
    pub(crate) fn new(shared: Arc<TaskShared<T>>) -> Self {
        TaskHandle { shared }
    }

    /// The task's slot without its result type, for dependencies.
    pub(crate) fn slot(&self) -> Arc<dyn TaskSlot> {
        Arc::clone(&self.shared) as Arc<dyn TaskSlot>
    }

    /// Id of the task.
    pub fn id(&self) -> TaskId {
        self.shared.id
    }

    /// Name of the task.
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// Id of the scope the task was spawned into; `None` before it is spawned.
    pub fn scope_id(&self) -> Option<ScopeId> {
        self.shared.scope.get().copied()
    }

    /// Current state of the task.
    pub fn state(&self) -> TaskState {
        TaskState::from_u8(self.shared.state.load(Ordering::SeqCst))
    }

    /// Returns the task's result without waiting: the value shared behind an `Arc`, or why
    /// there is none.
    ///
    /// # Errors
    ///
    /// [`TaskError::NotFinished`] while the task runs, otherwise the task's own error.
    pub fn result(&self) -> Result<Arc<T>, TaskError> {
        match self.shared.outcome.get() {
            Some(outcome) => outcome.clone(),
            None => Err(TaskError::NotFinished {
                task: self.shared.name.clone(),
                task_id: self.shared.id,
            }),
        }
    }

    /// Waits until the task's outcome is final (its resources released and the child scopes it
    /// opened finished), then returns its result as [`TaskHandle::result`] does.
    ///
    /// # Errors
    ///
    /// The task's error when it did not complete.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping this future does not affect the task.
    pub async fn join(&self) -> Result<Arc<T>, TaskError> {
        loop {
            let notified = self.shared.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Announce the waiter before checking, so `finish` either sees it and wakes us, or
            // has already set the outcome that the check below reads.
            self.shared.joined.store(true, Ordering::SeqCst);
            std::sync::atomic::fence(Ordering::SeqCst);
            if let Some(outcome) = self.shared.outcome.get() {
                return outcome.clone();
            }
            notified.await;
        }
    }

    /// Takes the task's value out, consuming the handle. Use it once the task has completed
    /// and no other handle or dependent holds the value; otherwise read it with
    /// [`TaskHandle::result`].
    ///
    /// # Errors
    ///
    /// The task's own error when it did not complete, [`TaskError::NotFinished`] while it
    /// runs, and [`TaskError::ResultShared`] while another handle or a dependent still holds
    /// the value.
    pub fn into_inner(self) -> Result<T, TaskError> {
        let value = self.result()?;
        let shared = self.shared;
        let task = shared.name.clone();
        let task_id = shared.id;
        let shared_error = || TaskError::ResultShared {
            task: task.clone(),
            task_id,
        };
        // The slot keeps one reference to the value and this handle the other.
        let shared = Arc::try_unwrap(shared).map_err(|_| shared_error())?;
        drop(shared);
        Arc::try_unwrap(value).map_err(|_| shared_error())
    }
}
