use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::{BoxError, Context, Name, Scope, ScopeError, Task};

/// Spawns `tasks` into `scope` so that each starts after the one before completed, waits, and
/// returns their values in order. A failure stops the chain: later tasks never start.
pub(crate) async fn series<T: Send + Sync + 'static>(
    scope: Scope,
    tasks: Vec<Task<T>>,
) -> Result<Vec<T>, ScopeError> {
    let mut handles = Vec::with_capacity(tasks.len());
    for task in tasks {
        let task = match handles.last() {
            Some(previous) => task.after(previous),
            None => task,
        };
        handles.push(scope.spawn(task)?);
    }
    let name = scope.name().clone();
    let scope_id = scope.id();
    scope.wait().await?;
    super::into_values(handles, &name, scope_id)
}

type StepFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// One step of a series that passes each output on: a named async function of the task's
/// [`Context`] and the previous step's output (shared, not copied).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use ractor_scope::{BoxError, Context, Step};
///
/// let trim = Step::new("trim", |_ctx: Context, text: Arc<String>| async move {
///     Ok::<_, BoxError>(text.trim().to_string())
/// });
/// # let _ = trim;
/// ```
#[must_use = "a step does nothing until it is passed to series_with"]
pub struct Step<T> {
    name: Name,
    timeout: Option<Duration>,
    body: Box<dyn FnOnce(Context, Arc<T>) -> StepFuture<T> + Send>,
}

impl<T> std::fmt::Debug for Step<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> Step<T> {
    /// Creates a step named `name` that turns the previous output into the next.
    pub fn new<F, Fut, E>(name: impl Into<Name>, body: F) -> Self
    where
        F: FnOnce(Context, Arc<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Step {
            name: name.into(),
            timeout: None,
            body: Box::new(move |ctx, input| {
                Box::pin(async move { body(ctx, input).await.map_err(Into::into) })
            }),
        }
    }

    /// Sets the step's own timeout, as [`Task::timeout`] does.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Runs `steps` one after another in `scope`, each on the output of the one before, starting
/// from `input`, and returns the last output (`input` itself when there are no steps).
pub(crate) async fn series_with<T: Send + Sync + 'static>(
    scope: Scope,
    input: T,
    steps: Vec<Step<T>>,
) -> Result<T, ScopeError> {
    let name = scope.name().clone();
    let scope_id = scope.id();
    let mut input = Some(input);
    let mut last = None;
    for step in steps {
        let Step {
            name: step_name,
            timeout,
            body,
        } = step;
        let task = match (last.take(), input.take()) {
            (Some(previous), _) => {
                let dependency = Clone::clone(&previous);
                Task::new(step_name, move |ctx: Context| async move {
                    let input = ctx.dependency(&dependency)?;
                    body(ctx, input).await
                })
                .after(&previous)
            }
            (None, Some(first)) => {
                let first = Arc::new(first);
                Task::new(step_name, move |ctx: Context| body(ctx, first))
            }
            (None, None) => unreachable!("either the input or a previous step feeds each step"),
        };
        let task = match timeout {
            Some(timeout) => task.timeout(timeout),
            None => task,
        };
        last = Some(scope.spawn(task)?);
    }
    scope.wait().await?;

    match (last, input) {
        (Some(handle), _) => handle
            .into_inner()
            .map_err(|source| ScopeError::TaskFailed {
                scope: name,
                scope_id,
                source,
            }),
        (None, Some(input)) => Ok(input),
        (None, None) => unreachable!("the input is taken only by a step"),
    }
}
