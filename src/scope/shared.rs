use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ractor::{ActorCell, ActorRef};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::actor::ScopeMsg;
use super::scheduler::Skip;
use super::{Progress, ScopeError};
use crate::cancel::CancelNode;
use crate::observe::{live_actors, Hub};
use crate::resource::{ReleaseGroup, ReleaseStack};
use crate::task::TaskLaunch;
use crate::util::lock;
use crate::{
    CancelCause, ConfigError, FailurePolicy, GraphError, Name, Resource, ScopeId, Task, TaskError,
    TaskGraph, TaskHandle, TaskId, TaskState,
};

/// Marks the gate closed; the low bits count the scope's unfinished tasks.
const CLOSED: u64 = 1 << 63;

/// What kind of actor a scope is linked under.
#[derive(Debug, Clone)]
pub(crate) enum ParentKind {
    /// A manager of this library.
    Manager,
    /// A task of this library (the scope is a child scope).
    Task,
    /// A user's actor; a clean finish unlinks from it first.
    User(ActorCell),
    /// No parent.
    None,
}

/// State of one scope shared by its actor, its handles and its tasks' contexts.
pub(crate) struct ScopeShared {
    pub(crate) id: ScopeId,
    pub(crate) name: Name,
    pub(crate) hub: Arc<Hub>,
    pub(crate) cancel: Arc<CancelNode>,
    /// Effective deadline: the earlier of the scope's own and its parent scope's.
    pub(crate) deadline: Option<Instant>,
    /// The scope's own deadline and the duration it was set from.
    pub(crate) own_deadline: Option<(Instant, Duration)>,
    pub(crate) release_timeout: Duration,
    pub(crate) resources: Arc<ReleaseStack>,
    pub(crate) group: Arc<ReleaseGroup>,
    pub(crate) span: tracing::Span,
    pub(crate) parent: ParentKind,
    pub(crate) parent_id: Option<u64>,
    /// Maximum number of tasks running at once.
    pub(crate) limit: Option<usize>,
    pub(crate) failure_policy: FailurePolicy,
    pub(crate) done: CancellationToken,
    pub(crate) waited: AtomicBool,
    first_error: OnceLock<TaskError>,
    gate: AtomicU64,
    /// Tasks accepted by `spawn` and not yet started by the actor.
    queue: Mutex<VecDeque<TaskLaunch>>,
    result: OnceLock<Result<(), ScopeError>>,
    progress: watch::Sender<Progress>,
}

impl ScopeShared {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: ScopeId,
        name: Name,
        hub: Arc<Hub>,
        cancel: Arc<CancelNode>,
        deadline: Option<Instant>,
        own_deadline: Option<(Instant, Duration)>,
        release_timeout: Duration,
        resources: Arc<ReleaseStack>,
        group: Arc<ReleaseGroup>,
        span: tracing::Span,
        parent: ParentKind,
        parent_id: Option<u64>,
        limit: Option<usize>,
        failure_policy: FailurePolicy,
    ) -> Self {
        ScopeShared {
            id,
            name,
            hub,
            cancel,
            deadline,
            own_deadline,
            release_timeout,
            resources,
            group,
            span,
            parent,
            parent_id,
            limit,
            failure_policy,
            done: CancellationToken::new(),
            waited: AtomicBool::new(false),
            first_error: OnceLock::new(),
            gate: AtomicU64::new(0),
            queue: Mutex::new(VecDeque::new()),
            result: OnceLock::new(),
            progress: watch::Sender::new(Progress::default()),
        }
    }

    /// Counts a new task in, unless the scope is closed.
    fn try_enter(&self) -> bool {
        self.gate
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |gate| {
                (gate & CLOSED == 0).then_some(gate + 1)
            })
            .is_ok()
    }

    /// Counts a finished task out.
    pub(crate) fn leave(&self) {
        self.gate.fetch_sub(1, Ordering::SeqCst);
    }

    /// Closes the gate if no task is unfinished. Returns whether it did.
    pub(crate) fn try_close(&self) -> bool {
        self.gate
            .compare_exchange(0, CLOSED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Closes the gate whatever is unfinished, for exit paths that cannot wait.
    pub(crate) fn force_close(&self) {
        self.gate.fetch_or(CLOSED, Ordering::SeqCst);
    }

    /// Queues a task for the actor to start. Returns whether the queue was empty, in which
    /// case the actor must be told; otherwise a message is already on its way.
    fn enqueue(&self, launch: TaskLaunch) -> bool {
        let mut queue = lock(&self.queue);
        queue.push_back(launch);
        queue.len() == 1
    }

    /// Takes the next queued task.
    pub(crate) fn dequeue(&self) -> Option<TaskLaunch> {
        lock(&self.queue).pop_front()
    }

    /// The scope's result, from its first error, its cancellation and its releases.
    pub(crate) fn compute_result(&self) -> Result<(), ScopeError> {
        if let Some(error) = self.first_error.get() {
            return Err(ScopeError::TaskFailed {
                scope: self.name.clone(),
                scope_id: self.id,
                source: error.clone(),
            });
        }
        if let Some(cause) = self.cancel.cause() {
            return Err(ScopeError::Cancelled {
                scope: self.name.clone(),
                scope_id: self.id,
                cause,
            });
        }
        if let Some(failure) = self.group.failures().into_iter().next() {
            return Err(ScopeError::ReleaseFailed {
                scope: self.name.clone(),
                scope_id: self.id,
                source: failure,
            });
        }
        Ok(())
    }

    /// Makes the result final and counts the scope as finished. Returns `false` when another
    /// exit path already did.
    pub(crate) fn set_result(&self, result: Result<(), ScopeError>) -> bool {
        let ok = result.is_ok();
        if self.result.set(result).is_err() {
            return false;
        }
        self.hub.stats.scope_finished(ok);
        self.done.cancel();
        true
    }

    pub(crate) fn result(&self) -> Option<&Result<(), ScopeError>> {
        self.result.get()
    }
}

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
        self.check(&launch)?;
        self.spawn_launch(launch)?;
        Ok(handle)
    }

    /// Spawns every task of `graph`, after validating the graph as a whole: nothing is spawned
    /// when a key is duplicated or unknown, a task depends on itself, the dependencies form a
    /// cycle, or a task depends on a task of another scope. Tasks are spawned in dependency
    /// order; read their results through the handles [`TaskGraph::add`] returned.
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
        for launch in &launches {
            self.check_timeout(launch)?;
            for dependency in &launch.dependencies {
                if !in_graph.contains(&dependency.id()) {
                    self.check_dependency(launch, dependency.as_ref())?;
                }
            }
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

    /// Ends a task that was rejected before it was counted in, so that its handles do not wait
    /// forever. It is not counted in the statistics.
    fn cancel_unspawned(&self, slot: &dyn crate::task::TaskSlot) {
        slot.finish(Err(TaskError::Cancelled {
            task: slot.name().clone(),
            task_id: slot.id(),
            cause: self
                .shared
                .cancel
                .cause()
                .unwrap_or_else(|| CancelCause::ActorStopped {
                    scope: self.shared.name.clone(),
                }),
        }));
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

    pub(crate) fn cancel_with(&self, cause: CancelCause) {
        if self.shared.cancel.cancel(cause) {
            tracing::debug!(
                scope.name = %self.shared.name,
                scope.id = %self.shared.id,
                cause = ?self.shared.cancel.cause(),
                "scope cancelled"
            );
        }
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
        if matches!(
            self.shared.result(),
            None | Some(Err(ScopeError::Killed { .. }))
        ) {
            // After a kill, ractor stops the task actors without waiting for them.
            let id = self.shared.id.as_u64();
            for task in live_actors().into_iter().filter(|a| a.parent == Some(id)) {
                let _ = task.cell.wait(None).await;
            }
        }
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

    /// Finishes every queued task as cancelled, for when the actor is gone.
    pub(crate) fn cancel_queued(&self) {
        while let Some(launch) = self.shared.dequeue() {
            self.finish_unstarted(launch.slot.as_ref());
        }
    }

    /// Finishes a task that never got an actor, as cancelled.
    pub(crate) fn finish_unstarted(&self, slot: &dyn crate::task::TaskSlot) {
        let cause = self
            .shared
            .cancel
            .cause()
            .unwrap_or_else(|| CancelCause::ActorStopped {
                scope: self.shared.name.clone(),
            });
        let error = TaskError::Cancelled {
            task: slot.name().clone(),
            task_id: slot.id(),
            cause,
        };
        if slot.finish(Err(error)) {
            self.record_task_finished(TaskState::Pending, TaskState::Cancelled, Duration::ZERO);
        }
        self.shared.leave();
    }

    /// Updates the progress value, waking watchers only when there are any: a wake-up takes
    /// several locks inside `watch`, and most scopes are never watched.
    fn update_progress(&self, change: impl FnOnce(&mut Progress)) {
        let watched = self.shared.progress.receiver_count() > 0;
        self.shared.progress.send_if_modified(|progress| {
            change(progress);
            watched
        });
    }

    /// Ends a task that will never run because a dependency did not complete.
    pub(crate) fn finish_skipped(&self, skip: Skip) {
        let Skip { launch, dependency } = skip;
        let error = TaskError::Skipped {
            task: launch.name.clone(),
            task_id: launch.id,
            dependency: dependency.name().clone(),
            dependency_id: dependency.id(),
            dependency_state: dependency.state(),
        };
        tracing::debug!(
            scope.name = %self.shared.name,
            scope.id = %self.shared.id,
            task.name = %launch.name,
            task.id = %launch.id,
            reason = %error,
            "task skipped"
        );
        if launch.slot.finish(Err(error)) {
            self.record_task_finished(TaskState::Pending, TaskState::Skipped, Duration::ZERO);
        }
        self.shared.leave();
    }

    /// Ends the tasks that had not started when the scope was cancelled, in the order they
    /// were added: as skipped when a dependency failed, timed out or was skipped (or is the
    /// sibling whose failure cancelled the scope), as cancelled otherwise.
    pub(crate) fn settle_unstarted(&self, unstarted: Vec<TaskLaunch>) {
        let failed_sibling = match self.shared.cancel.cause() {
            Some(CancelCause::SiblingFailed { task_id, .. }) => Some(task_id),
            _ => None,
        };
        for launch in unstarted {
            let culprit = launch
                .dependencies
                .iter()
                .find(|dependency| Some(dependency.id()) == failed_sibling)
                .or_else(|| {
                    launch.dependencies.iter().find(|dependency| {
                        matches!(
                            dependency.state(),
                            TaskState::Failed | TaskState::TimedOut | TaskState::Skipped
                        )
                    })
                })
                .cloned();
            match culprit {
                Some(dependency) => self.finish_skipped(Skip { launch, dependency }),
                None => self.finish_unstarted(launch.slot.as_ref()),
            }
        }
    }

    pub(crate) fn record_task_added(&self) {
        self.shared.hub.stats.task_added();
        self.update_progress(|p| {
            p.added += 1;
            p.pending += 1;
        });
    }

    pub(crate) fn record_task_started(&self) {
        self.shared.hub.stats.task_started();
        self.update_progress(|p| {
            p.pending -= 1;
            p.running += 1;
        });
    }

    pub(crate) fn record_task_finished(&self, from: TaskState, to: TaskState, ran_for: Duration) {
        self.shared.hub.stats.task_finished(from, to, ran_for);
        self.update_progress(|p| {
            match from {
                TaskState::Running => p.running -= 1,
                _ => p.pending -= 1,
            }
            match to {
                TaskState::Completed => p.completed += 1,
                TaskState::Failed => p.failed += 1,
                TaskState::TimedOut => p.timed_out += 1,
                TaskState::Skipped => p.skipped += 1,
                _ => p.cancelled += 1,
            }
        });
    }

    /// Records a task failure: the first one claims the scope's error and cancels the
    /// siblings; every one is reported.
    pub(crate) fn record_failure(&self, error: &TaskError) {
        let shared = &self.shared;
        // One atomic claim: exactly one failure wins, however many race.
        let first = shared.first_error.set(error.clone()).is_ok();
        if first {
            tracing::warn!(
                scope.name = %shared.name,
                scope.id = %shared.id,
                task.name = %error.task(),
                task.id = %error.task_id(),
                error = %error,
                "scope failed"
            );
            if shared.failure_policy == FailurePolicy::CancelScope {
                shared.cancel.cancel(CancelCause::SiblingFailed {
                    scope: shared.name.clone(),
                    task: error.task().clone(),
                    task_id: error.task_id(),
                });
            }
        } else {
            tracing::debug!(
                scope.name = %shared.name,
                scope.id = %shared.id,
                task.name = %error.task(),
                task.id = %error.task_id(),
                error = %error,
                "task failed after the scope's first error"
            );
        }
        shared
            .hub
            .report_task_failure(first, &shared.name, shared.id, error);
    }
}
