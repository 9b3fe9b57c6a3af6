use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::handle::{TaskShared, TaskSlot};
use super::{Context, TaskHandle};
use crate::{BoxError, Name, TaskId};

type BodyFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// A task body with its result type erased; it stores its value in the task's slot.
pub(crate) type ErasedBody = Box<dyn FnOnce(Context) -> BodyFuture + Send>;

/// A task description: a name, a body and its options. Hand it to
/// [`ScopeRef::spawn`](crate::ScopeRef::spawn) to run it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ractor_scope::{Context, Task};
///
/// let task = Task::new("get_user_profile", |ctx: Context| async move {
///     Ok::<_, std::io::Error>(format!("profile fetched by {}", ctx.name()))
/// })
/// .timeout(Duration::from_secs(5));
/// # let _ = task;
/// ```
#[must_use = "a task does nothing until it is spawned into a scope"]
pub struct Task<T> {
    pub(crate) name: Name,
    pub(crate) timeout: Option<Duration>,
    pub(crate) priority: i32,
    shared: Arc<TaskShared<T>>,
    body: ErasedBody,
    dependencies: Vec<Arc<dyn TaskSlot>>,
}

impl<T> std::fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> Task<T> {
    /// Creates a task named `name` that runs `body`.
    ///
    /// The name is a label for errors, logs and the tree; names may repeat.
    pub fn new<F, Fut, E>(name: impl Into<Name>, body: F) -> Self
    where
        F: FnOnce(Context) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let name = name.into();
        let shared = Arc::new(TaskShared::<T>::new(TaskId::next(), name.clone()));
        let slot = Arc::clone(&shared);
        // The result type is erased here, once: the body stores its value in the slot.
        let body: ErasedBody = Box::new(move |ctx| {
            Box::pin(async move {
                let value = body(ctx).await.map_err(Into::into)?;
                slot.stage(value);
                Ok(())
            })
        });
        Task {
            name,
            timeout: None,
            priority: 0,
            shared,
            body,
            dependencies: Vec::new(),
        }
    }

    /// Sets the task's own timeout, counted from the moment its body starts. When it passes,
    /// the body is dropped and the task fails with [`TaskError::TimedOut`](crate::TaskError).
    /// The task's effective deadline is the earlier of this and its scope's deadline.
    ///
    /// The body is dropped at an await: a body that blocks its thread past the timeout and
    /// then returns without awaiting keeps its result (see the crate docs, "What is not
    /// covered").
    ///
    /// Default: none. A zero timeout is rejected by `spawn`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the task's priority: under a scope's concurrency limit, ready tasks with a higher
    /// priority start first.
    ///
    /// Default: 0.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Makes the task start only after `dependency` completed successfully. If the dependency
    /// fails, is cancelled or is skipped, this task never runs and ends as
    /// [`TaskError::Skipped`](crate::TaskError::Skipped) naming it. The dependency must be a
    /// task of the scope this task is spawned into; `spawn` rejects any other. Read its result
    /// in the body with [`Context::dependency`](crate::Context::dependency).
    pub fn after<U: Send + Sync + 'static>(mut self, dependency: &TaskHandle<U>) -> Self {
        self.dependencies.push(dependency.slot());
        self
    }

    /// Name of the task.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Id the task will have once spawned.
    pub fn id(&self) -> TaskId {
        self.shared.id()
    }

    /// Splits the task into its handle and the type-erased launch a scope runs.
    pub(crate) fn into_parts(self) -> (TaskHandle<T>, TaskLaunch) {
        let launch = TaskLaunch {
            id: self.shared.id(),
            name: self.name,
            timeout: self.timeout,
            priority: self.priority,
            slot: Arc::clone(&self.shared) as Arc<dyn TaskSlot>,
            body: self.body,
            dependencies: self.dependencies,
        };
        (TaskHandle::new(self.shared), launch)
    }
}

/// A task as the scope runs it: its name, options, result slot and body, with the result type
/// erased.
pub(crate) struct TaskLaunch {
    pub(crate) id: TaskId,
    pub(crate) name: Name,
    pub(crate) timeout: Option<Duration>,
    pub(crate) priority: i32,
    pub(crate) slot: Arc<dyn TaskSlot>,
    pub(crate) body: ErasedBody,
    /// Tasks that must complete before this one starts.
    pub(crate) dependencies: Vec<Arc<dyn TaskSlot>>,
}

impl std::fmt::Debug for TaskLaunch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLaunch")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
