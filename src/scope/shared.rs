use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ractor::ActorCell;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Progress, ScopeError};
use crate::cancel::CancelNode;
use crate::observe::Hub;
use crate::resource::{ReleaseGroup, ReleaseStack};
use crate::task::TaskLaunch;
use crate::util::lock;
use crate::{FailurePolicy, Name, ScopeId, TaskError};

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
    /// Every resource below the scope, its own included.
    pub(crate) group: Arc<ReleaseGroup>,
    /// The resources of the scope's tasks and of the child scopes they opened, which are
    /// released before the scope's own.
    pub(crate) tasks: Arc<ReleaseGroup>,
    /// Task actors whose state has not been dropped yet; see `TaskGuard`.
    live_tasks: std::sync::atomic::AtomicUsize,
    tasks_gone: tokio::sync::Notify,
    pub(crate) span: tracing::Span,
    pub(crate) parent: ParentKind,
    pub(crate) parent_id: Option<u64>,
    /// Maximum number of tasks running at once.
    pub(crate) limit: Option<usize>,
    pub(crate) failure_policy: FailurePolicy,
    pub(crate) done: CancellationToken,
    pub(crate) waited: AtomicBool,
    pub(crate) first_error: OnceLock<TaskError>,
    gate: AtomicU64,
    /// Tasks accepted by `spawn` and not yet started by the actor.
    queue: Mutex<VecDeque<TaskLaunch>>,
    result: OnceLock<Result<(), ScopeError>>,
    pub(crate) progress: watch::Sender<Progress>,
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
            tasks: ReleaseGroup::child(&group),
            group,
            live_tasks: std::sync::atomic::AtomicUsize::new(0),
            tasks_gone: tokio::sync::Notify::new(),
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
    pub(crate) fn try_enter(&self) -> bool {
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
    pub(crate) fn enqueue(&self, launch: TaskLaunch) -> bool {
        let mut queue = lock(&self.queue);
        queue.push_back(launch);
        queue.len() == 1
    }

    /// Takes the next queued task.
    pub(crate) fn dequeue(&self) -> Option<TaskLaunch> {
        let mut queue = lock(&self.queue);
        let launch = queue.pop_front();
        if queue.is_empty() {
            queue.shrink_to(super::scheduler::KEPT_CAPACITY);
        }
        launch
    }

    /// Counts a task actor in, from its `pre_start`.
    pub(crate) fn task_alive(&self) {
        self.live_tasks.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts a task actor out, once it has stopped and its state is gone.
    pub(crate) fn task_gone(&self) {
        if self.live_tasks.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.tasks_gone.notify_waiters();
        }
    }

    /// Completes once every task actor started by the scope has stopped and dropped its state
    /// (so its outcome is final and its cleanup has started).
    pub(crate) async fn all_tasks_gone(&self) {
        loop {
            let gone = self.tasks_gone.notified();
            tokio::pin!(gone);
            gone.as_mut().enable();
            if self.live_tasks.load(Ordering::SeqCst) == 0 {
                return;
            }
            gone.await;
        }
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
        // A cancellation is the result only when it cut work short: a deadline that passes
        // after every task completed changes nothing.
        let progress = self.progress.borrow().clone();
        let cut_short = progress.cancelled + progress.skipped > 0;
        if let Some(cause) = self.cancel.cause().filter(|_| cut_short) {
            return Err(ScopeError::Cancelled {
                scope: self.name.clone(),
                scope_id: self.id,
                cause,
            });
        }
        let mut failures = self
            .tasks
            .failures()
            .into_iter()
            .chain(self.group.failures());
        if let Some(failure) = failures.next() {
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
