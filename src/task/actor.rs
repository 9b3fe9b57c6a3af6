use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::time::Instant;
use tracing::Instrument;

use super::{Context, TaskError, TaskLaunch, TaskSlot, TaskState};
use crate::observe::{register, ActorKind, Entry, Registration};
use crate::scope::ScopeRef;
use crate::util::CatchUnwind;

/// The actor that runs one task body.
///
/// The body runs inside `post_start`, raced against the scope's cancellation and the task's
/// timeout, so that cancellation drops the body future at its next await and the cleanup that
/// follows still runs. ractor's `stop` would wait for `post_start` to return, so the library
/// stops tasks through cancellation, and `kill` (which skips cleanup) only as a last resort;
/// the [`TaskGuard`] in the state covers that path.
pub(crate) struct TaskActor;

/// Messages of a task actor. A task takes none; the type exists for ractor.
#[derive(Debug)]
pub(crate) enum TaskMsg {}

#[cfg(feature = "cluster")]
impl ractor::Message for TaskMsg {}

pub(crate) struct TaskArgs {
    pub(crate) launch: TaskLaunch,
    pub(crate) scope: ScopeRef,
}

pub(crate) struct TaskActorState {
    body: Option<super::builder::ErasedBody>,
    timeout: Option<Duration>,
    start_at: Instant,
    span: tracing::Span,
    guard: TaskGuard,
}

/// Finishes the task on exit paths where `post_start` did not (a kill, or the parent exiting):
/// marks it cancelled, counts it, cancels the scopes it opened and starts releasing its
/// resources in the background. Does nothing when the task finished normally.
struct TaskGuard {
    ctx: Context,
    slot: Arc<dyn TaskSlot>,
    started: Option<Instant>,
    registration: Registration,
    /// The outcome `run` decided before its cleanup. A kill during the cleanup makes it final,
    /// so that a task that failed is not reported as cancelled by its own failure.
    decided: Option<Result<(), TaskError>>,
}

impl TaskGuard {
    /// Finishes a task killed (or whose parent exited) before its body reached its end: as
    /// cancelled when its scope was cancelled, as killed otherwise.
    fn finish_killed(&self, scope: &ScopeRef, from: TaskState, ran_for: Duration) {
        let error = match self.ctx.cancel_cause() {
            Some(cause) => TaskError::Cancelled {
                task: self.slot.name().clone(),
                task_id: self.slot.id(),
                cause,
            },
            None => TaskError::Killed {
                task: self.slot.name().clone(),
                task_id: self.slot.id(),
            },
        };
        if self.slot.finish(Err(error.clone())) {
            scope.record_task_finished(from, error.state(), ran_for);
            if error.is_failure() {
                scope.record_failure(&error);
            }
        }
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let scope = self.ctx.scope().clone();
        if !self.slot.is_finished() {
            let from = self.slot.state();
            let ran_for = self.started.map(|s| s.elapsed()).unwrap_or_default();
            if let Some(decided) = self.decided.take() {
                // Killed during the cleanup: the outcome was decided, and a failure was
                // already recorded with the scope.
                let to = match &decided {
                    Ok(()) => TaskState::Completed,
                    Err(error) => error.state(),
                };
                if self.slot.finish(decided) {
                    scope.record_task_finished(from, to, ran_for);
                }
            } else {
                self.finish_killed(&scope, from, ran_for);
            }
            // Release in order in the background: the child scopes' resources first, then
            // this task's.
            self.ctx.cancel_children();
            let ctx = self.ctx.clone();
            scope.shared().hub.spawn(async move {
                ctx.close_children().await;
                if let Some(stack) = ctx.close_resources().cloned() {
                    stack.drain().await;
                }
            });
        }

        // Count the actor out of its scope once ractor has marked it stopped.
        let shared = std::sync::Arc::clone(scope.shared());
        let cell = self.ctx.actor_cell().clone();
        if cell.get_status() == ractor::ActorStatus::Stopped {
            shared.task_gone();
        } else {
            let hub = std::sync::Arc::clone(&shared.hub);
            hub.spawn(async move {
                let _ = cell.wait(None).await;
                shared.task_gone();
            });
        }
    }
}

impl Actor for TaskActor {
    type Msg = TaskMsg;
    type State = TaskActorState;
    type Arguments = TaskArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: TaskArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let TaskArgs { launch, scope } = args;
        let shared = scope.shared();
        // Counted out by `TaskGuard`, which every exit path drops.
        shared.task_alive();
        let span = tracing::debug_span!(
            parent: &shared.span,
            "task",
            task.name = %launch.name,
            task.id = %launch.id,
            scope.id = %shared.id,
        );
        let start_at = Instant::now();
        let registration = register(
            launch.id.as_u64(),
            Entry {
                kind: ActorKind::Task,
                name: launch.name.clone(),
                parent: Some(shared.id.as_u64()),
                root: shared.hub.root_id,
                cell: myself.get_cell(),
                task: Some(Arc::clone(&launch.slot)),
                started: start_at,
            },
        );
        // The effective deadline is the earlier of the task's own timeout and its scope's.
        // A timeout too large to add to the clock is no limit at all.
        let own_deadline = launch
            .timeout
            .and_then(|timeout| start_at.checked_add(timeout));
        let deadline = match (own_deadline, shared.deadline) {
            (Some(own), Some(scope)) => Some(own.min(scope)),
            (own, scope) => own.or(scope),
        };
        let ctx = Context::new(
            launch.name.clone(),
            launch.id,
            scope.clone(),
            deadline,
            myself.get_cell(),
        );
        Ok(TaskActorState {
            body: Some(launch.body),
            timeout: launch.timeout,
            start_at,
            span,
            guard: TaskGuard {
                ctx,
                slot: launch.slot,
                started: None,
                registration,
                decided: None,
            },
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let span = state.span.clone();
        // Boxed so that ractor's actor future, which it boxes and tokio moves, stays small.
        let failed = Box::pin(run(state).instrument(span)).await;
        match failed {
            // Failures reach the scope as a supervision event (`ActorFailed`). The outcome is
            // already final in the task's slot, so the scope reads nothing from the error.
            Some(error) => Err(Box::new(error)),
            None => {
                myself.stop(None);
                Ok(())
            }
        }
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // The only children of a task are the scopes it opened, which it waits for itself.
        // Their exits must not stop the task, as ractor's default handling would.
        tracing::trace!(event = ?event, "child scope of task exited");
        Ok(())
    }
}

/// Runs the body and the cleanup. Returns the error when the task failed.
async fn run(state: &mut TaskActorState) -> Option<TaskError> {
    let guard = &mut state.guard;
    let ctx = guard.ctx.clone();
    let slot = Arc::clone(&guard.slot);
    let scope = ctx.scope().clone();
    let task = slot.name().clone();
    let task_id = slot.id();

    // A task whose scope was cancelled before it started never runs.
    if let Some(cause) = ctx.cancel_cause() {
        ctx.close_resources();
        let error = TaskError::Cancelled {
            task,
            task_id,
            cause,
        };
        tracing::debug!(cause = %error, "task cancelled before it started");
        if slot.finish(Err(error)) {
            scope.record_task_finished(TaskState::Pending, TaskState::Cancelled, Duration::ZERO);
        }
        guard.registration.remove();
        return None;
    }

    // The task's clock started when its context was made, so that the timer below and
    // `Context::deadline` agree.
    let started = state.start_at;
    guard.started = Some(started);
    slot.set_running();
    scope.record_task_started();

    // Race the body against cancellation and the task's timeout. Leaving this block drops the
    // body future, before any outcome is reported.
    let outcome = {
        let body = state.body.take().expect("task body is taken only once");
        let cancel = Arc::clone(ctx.cancel_node());
        let timeout = state.timeout;
        let deadline = timeout.and_then(|t| started.checked_add(t));
        let mut body = CatchUnwind::new(body(ctx.clone()));
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => Err(None),
            result = &mut body => match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(Some(TaskError::Failed {
                    task: task.clone(),
                    task_id,
                    source: Arc::from(error),
                })),
                Err(message) => Err(Some(TaskError::Panicked {
                    task: task.clone(),
                    task_id,
                    message,
                })),
            },
            () = crate::util::sleep_until_opt(deadline) => Err(Some(TaskError::TimedOut {
                task: task.clone(),
                task_id,
                timeout: timeout.unwrap_or_default(),
            })),
        };
        // Drop the body here, before any outcome is reported. A panic while it is dropped
        // (a guard's `Drop` that panics when cut short) must not lose the outcome.
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(body)));
        if let Err(panic) = dropped {
            tracing::warn!(
                panic = %crate::util::panic_message(panic),
                "task body panicked while it was dropped"
            );
        }
        outcome
    };
    let ran_for = started.elapsed();

    // A failure after cancellation was requested counts as a cancellation, never as the
    // scope's error.
    let outcome = match outcome {
        Ok(()) => Ok(()),
        Err(Some(error)) if !ctx.is_cancelled() => Err(error),
        Err(_) => Err(TaskError::Cancelled {
            task: task.clone(),
            task_id,
            cause: ctx
                .cancel_cause()
                .expect("a cancelled node always has a cause"),
        }),
    };

    // Fail fast: claim the scope's error and cancel the siblings before cleaning up.
    if let Err(error) = &outcome {
        if error.is_failure() {
            scope.record_failure(error);
        } else {
            tracing::debug!(cause = %error, "task cancelled");
        }
    }

    // Cleanup, then make the outcome final.
    // Kept by the guard during the cleanup, where a kill would otherwise lose it.
    guard.decided = Some(outcome);
    ctx.close_children().await;
    if let Some(stack) = ctx.close_resources() {
        stack.drain().await;
    }
    let outcome = guard
        .decided
        .take()
        .expect("only the guard's drop takes the decided outcome, and it has not run");
    let state_after = match &outcome {
        Ok(()) => TaskState::Completed,
        Err(error) => error.state(),
    };
    let failure = outcome.as_ref().err().filter(|e| e.is_failure()).cloned();
    if slot.finish(outcome) {
        scope.record_task_finished(TaskState::Running, state_after, ran_for);
    }
    guard.registration.remove();
    failure
}
