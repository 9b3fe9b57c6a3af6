use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, ActorStatus, SupervisionEvent};

use super::scheduler::Scheduler;
use super::shared::{ParentKind, ScopeShared};
use super::{ScopeError, ScopeRef};
use crate::observe::{register, ActorKind, Entry, Registration};
use crate::task::{TaskActor, TaskArgs, TaskLaunch};
use crate::CancelCause;

/// The actor of one scope. Its children are the scope's task actors.
///
/// It starts task actors and counts them out through supervision events. Once the owner waits
/// (or the scope is cancelled) and no task is left, it finishes the scope. It waits for the
/// last task actors to stop, releases the scope's resources in reverse order, makes the result
/// final and stops. Failures are claimed and siblings cancelled by the failing task itself
/// (one atomic claim on the shared error slot), so fail-fast does not wait for this mailbox.
pub(crate) struct ScopeActor;

pub(crate) enum ScopeMsg {
    /// Take in the tasks queued by `spawn` and start those that may start.
    Schedule,
    /// Sent by the actor to itself after a full batch of starts: start the next batch.
    Continue,
    /// The owner is waiting: finish once no task is left.
    Wait,
    /// The scope was cancelled: finish once no task is left.
    Cancelled,
}

#[cfg(feature = "cluster")]
impl ractor::Message for ScopeMsg {}

pub(crate) struct ScopeActorState {
    scope: ScopeRef,
    scheduler: Scheduler,
    /// Task actors that had announced their exit but were not yet marked stopped by ractor.
    stragglers: Vec<ActorCell>,
    /// A `Continue` is in the mailbox, so supervision events need not start tasks.
    continue_pending: bool,
    finished: bool,
    /// The scope's entry in the live-actor registry.
    registration: Registration,
}

impl ScopeActorState {
    /// Closes the scope to new tasks, cancels it (cause `ActorStopped`) and ends every task
    /// that has no actor yet as cancelled: those still queued and those waiting in the
    /// scheduler for a dependency or a slot. Nothing else would ever finish them.
    fn end_unstarted(&mut self) {
        let shared = &self.scope.shared;
        shared.force_close();
        self.scope.cancel_with(CancelCause::ActorStopped {
            scope: shared.name.clone(),
        });
        self.scope.cancel_queued();
        for launch in self.scheduler.take_unstarted() {
            self.scope.finish_unstarted(launch.slot.as_ref());
        }
    }
}

/// Ends the scope on exit paths that skip `post_stop` (a kill, or the parent exiting): ends
/// what has not started, starts releasing its resources in the background and makes the
/// result [`ScopeError::Killed`]. Does nothing when the scope finished normally.
impl Drop for ScopeActorState {
    fn drop(&mut self) {
        if self.scope.shared.result().is_some() {
            return;
        }
        self.end_unstarted();
        let shared = &self.scope.shared;
        shared
            .resources
            .drain_after(std::sync::Arc::clone(&shared.tasks));
        tracing::warn!(scope.name = %shared.name, scope.id = %shared.id, "scope killed");
        shared.set_result(Err(ScopeError::Killed {
            scope: shared.name.clone(),
            scope_id: shared.id,
        }));
    }
}

impl Actor for ScopeActor {
    type Msg = ScopeMsg;
    type State = ScopeActorState;
    type Arguments = std::sync::Arc<ScopeShared>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        shared: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let registration = register(
            shared.id.as_u64(),
            Entry {
                kind: ActorKind::Scope,
                name: shared.name.clone(),
                parent: shared.parent_id,
                root: shared.hub.root_id,
                cell: myself.get_cell(),
                task: None,
                started: tokio::time::Instant::now(),
            },
        );
        shared.hub.stats.scope_created();
        let scope = ScopeRef {
            shared,
            actor: myself,
        };
        // Only a deadline needs a timer. Any other cancellation reaches the actor through
        // `ScopeRef::cancel_with`, which every path that cancels a scope calls (see there).
        if scope.shared.own_deadline.is_some() {
            spawn_watcher(scope.clone());
        }
        tracing::debug!(parent: &scope.shared.span, "scope opened");
        Ok(ScopeActorState {
            scheduler: Scheduler::new(scope.shared.limit),
            scope,
            stragglers: Vec::new(),
            continue_pending: false,
            finished: false,
            registration,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ScopeMsg::Schedule | ScopeMsg::Cancelled => {}
            ScopeMsg::Continue => state.continue_pending = false,
            ScopeMsg::Wait => {
                state
                    .scope
                    .shared
                    .waited
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        // Boxed so that ractor's actor future, which holds the largest future of any handler,
        // stays small.
        Box::pin(schedule(&myself, state)).await;
        maybe_finish(&myself, state).await
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let cell = match &event {
            SupervisionEvent::ActorTerminated(cell, ..)
            | SupervisionEvent::ActorFailed(cell, _) => Some(cell.clone()),
            _ => None,
        };
        // A task that stopped gracefully sends its state inside the event: drop it now, which
        // makes the task's outcome final and counts it out, before the scope may finish.
        drop(event);
        match cell {
            Some(cell) => {
                // ractor sends this just before it marks the actor stopped.
                if cell.get_status() != ActorStatus::Stopped {
                    state.stragglers.push(cell.clone());
                }
                state.scope.shared.leave();
                for skip in state.scheduler.ended(&cell.get_id()) {
                    state.scope.finish_skipped(skip);
                }
                // With a `Continue` queued, the next batch starts when it is read, after the
                // supervision events ahead of it (ractor reads those first). Starting tasks
                // here too would start a batch per ended task, so thousands of task actors
                // would be alive at once.
                if !state.continue_pending {
                    Box::pin(schedule(&myself, state)).await;
                }
                maybe_finish(&myself, state).await
            }
            None => Ok(()),
        }
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if state.finished {
            return Ok(());
        }
        // Stopped from outside: cancel, wait for the tasks, then finish in order.
        state.end_unstarted();
        for child in myself.get_children() {
            let _ = child.wait(None).await;
        }
        state.finished = true;
        // The result is kept in the shared state for `wait`; the actor exits cleanly. The
        // tasks' states are still in this actor's unread supervision events, so it cannot wait
        // for them to be counted out here; `wait` does that once this actor has stopped.
        let _result = Box::pin(finish(state, false)).await;
        Ok(())
    }
}

/// How many task actors one message starts before the actor yields.
const START_BATCH: usize = 32;

/// Takes in the tasks queued by `spawn`, then starts ready tasks as the concurrency limit
/// allows, up to a batch. A cancelled scope starts nothing more: its tasks that have not
/// started end at once, as skipped or cancelled.
async fn schedule(myself: &ActorRef<ScopeMsg>, state: &mut ScopeActorState) {
    let scope = &state.scope;
    while let Some(launch) = scope.shared.dequeue() {
        if let Some(skip) = state.scheduler.admit(launch) {
            scope.finish_skipped(skip);
        }
    }

    if scope.shared.cancel.is_cancelled() {
        if state.scheduler.has_unstarted() {
            let unstarted = state.scheduler.take_unstarted();
            scope.settle_unstarted(unstarted);
        }
        return;
    }

    for _ in 0..START_BATCH {
        let Some(launch) = state.scheduler.next_to_start() else {
            return;
        };
        let slot = std::sync::Arc::clone(&launch.slot);
        if let Some(actor) = start_task(myself, scope, launch).await {
            state.scheduler.started(actor, slot);
        }
    }
    if !state.scheduler.can_start() {
        return;
    }
    // Leave the rest for a later message and let the started tasks run first. Starting
    // thousands of actors before any runs makes each start slower, and the supervision events
    // of tasks that ended are read in between.
    if myself.cast(ScopeMsg::Continue).is_ok() {
        state.continue_pending = true;
    }
    tokio::task::yield_now().await;
}

/// Starts the actor of one task, linked under the scope's actor, and returns its id.
async fn start_task(
    myself: &ActorRef<ScopeMsg>,
    scope: &ScopeRef,
    launch: TaskLaunch,
) -> Option<ractor::ActorId> {
    let slot = std::sync::Arc::clone(&launch.slot);
    let args = TaskArgs {
        launch,
        scope: scope.clone(),
    };
    match Actor::spawn_linked(None, TaskActor, args, myself.get_cell()).await {
        Ok((actor, _join)) => Some(actor.get_id()),
        Err(error) => {
            tracing::error!(
                scope.id = %scope.shared.id,
                task.name = %slot.name(),
                error = %error,
                "task actor failed to start"
            );
            scope.finish_unstarted(slot.as_ref());
            None
        }
    }
}

/// Finishes the scope if the owner waits or it was cancelled, and no task is left.
async fn maybe_finish(
    myself: &ActorRef<ScopeMsg>,
    state: &mut ScopeActorState,
) -> Result<(), ActorProcessingErr> {
    let shared = &state.scope.shared;
    if state.finished {
        return Ok(());
    }
    let requested =
        shared.waited.load(std::sync::atomic::Ordering::SeqCst) || shared.cancel.is_cancelled();
    if !requested || !shared.try_close() {
        return Ok(());
    }
    state.finished = true;
    let result = Box::pin(finish(state, true)).await;
    exit(myself, &state.scope, result)
}

/// Waits for the last task actors, releases the scope's resources and makes the result final.
async fn finish(state: &mut ScopeActorState, count_tasks_out: bool) -> Result<(), ScopeError> {
    for cell in state.stragglers.drain(..) {
        let _ = cell.wait(None).await;
    }
    let shared = &state.scope.shared;
    // The tasks' resources (and their child scopes') go first, then the scope's own.
    if count_tasks_out {
        shared.all_tasks_gone().await;
    }
    shared.tasks.wait_idle().await;
    shared.resources.drain().await;
    shared.group.wait_idle().await;

    let result = shared.compute_result();
    match &result {
        Ok(()) => tracing::debug!(parent: &shared.span, "scope completed"),
        Err(error) => {
            tracing::debug!(parent: &shared.span, error = %error, "scope ended with an error")
        }
    }
    shared.set_result(result.clone());
    state.registration.remove();
    result
}

/// Stops the actor. A failure exits with an error, so the parent receives `ActorFailed`. A clean
/// finish under a user's actor unlinks first, because ractor's default supervision handling
/// would stop that actor.
fn exit(
    myself: &ActorRef<ScopeMsg>,
    scope: &ScopeRef,
    result: Result<(), ScopeError>,
) -> Result<(), ActorProcessingErr> {
    match result {
        Err(error) if error.is_failure() => Err(Box::new(error)),
        _ => {
            if let ParentKind::User(supervisor) = &scope.shared.parent {
                myself.get_cell().unlink(supervisor.clone());
            }
            myself.stop(None);
            Ok(())
        }
    }
}

/// Cancels the scope when its own deadline passes, then sends the actor `ScopeMsg::Cancelled`,
/// so the scope can finish without waiting for `wait`. Runs only for a scope with a deadline.
fn spawn_watcher(scope: ScopeRef) {
    tokio::spawn(async move {
        let shared = &scope.shared;
        let own_deadline = shared.own_deadline;
        tokio::select! {
            () = shared.done.cancelled() => return,
            () = shared.cancel.cancelled() => {}
            () = crate::util::sleep_until_opt(own_deadline.map(|(at, _)| at)) => {
                let after = own_deadline.map(|(_, after)| after).unwrap_or_default();
                scope.cancel_with(CancelCause::DeadlinePassed {
                    scope: shared.name.clone(),
                    after,
                });
            }
        }
        let _ = scope.actor.cast(ScopeMsg::Cancelled);
    });
}
