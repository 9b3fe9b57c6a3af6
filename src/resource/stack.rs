use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::release::Entry;
use super::{ReleaseError, ReleaseFailure, Resource};
use crate::observe::Hub;
use crate::util::{lock, panic_message, CatchUnwind};
use crate::{Name, ScopeId, TaskId};

/// Counts resources registered but not yet released, for a scope and everything under it.
///
/// Groups nest (task stacks count into their scope's group, scope groups into their parent's
/// and into the manager's), so "wait until every resource below here is released" is one
/// counter reaching zero, whichever exit path did the releasing.
#[derive(Debug, Default)]
pub(crate) struct ReleaseGroup {
    pending: AtomicUsize,
    idle: Notify,
    parent: Option<Arc<ReleaseGroup>>,
    failures: Mutex<Vec<ReleaseError>>,
}

impl ReleaseGroup {
    pub(crate) fn root() -> Arc<Self> {
        Arc::new(ReleaseGroup::default())
    }

    pub(crate) fn child(parent: &Arc<ReleaseGroup>) -> Arc<Self> {
        Arc::new(ReleaseGroup {
            parent: Some(Arc::clone(parent)),
            ..ReleaseGroup::default()
        })
    }

    fn added(&self) {
        let mut group = Some(self);
        while let Some(current) = group {
            current.pending.fetch_add(1, Ordering::SeqCst);
            group = current.parent.as_deref();
        }
    }

    /// Counts one release as done. A failure is recorded only in this group: a child scope's
    /// failed release reaches its parent through the task that opened it, not through here.
    fn released(&self, failure: Option<&ReleaseError>) {
        if let Some(failure) = failure {
            lock(&self.failures).push(failure.clone());
        }
        let mut group = Some(self);
        while let Some(current) = group {
            if current.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                current.idle.notify_waiters();
            }
            group = current.parent.as_deref();
        }
    }

    /// Number of resources registered below this group and not yet released.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Release failures recorded below this group, in the order they happened.
    pub(crate) fn failures(&self) -> Vec<ReleaseError> {
        lock(&self.failures).clone()
    }

    /// Completes once no resource below this group is waiting for release.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Register for the wake-up before checking, so a release that finishes in between
            // is not missed.
            notified.as_mut().enable();
            if self.pending() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Who owns a release stack, for reports.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    pub(crate) scope: Name,
    pub(crate) scope_id: ScopeId,
    pub(crate) task: Option<(Name, TaskId)>,
}

/// The resources of one owner (a scope or a task), released last-in first-out.
pub(crate) struct ReleaseStack {
    entries: Mutex<Vec<Entry>>,
    closed: AtomicBool,
    group: Arc<ReleaseGroup>,
    owner: Owner,
    hub: Arc<Hub>,
    timeout: Duration,
}

impl std::fmt::Debug for ReleaseStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseStack")
            .field("owner", &self.owner)
            .field("len", &lock(&self.entries).len())
            .finish_non_exhaustive()
    }
}

impl ReleaseStack {
    pub(crate) fn new(
        owner: Owner,
        group: Arc<ReleaseGroup>,
        hub: Arc<Hub>,
        timeout: Duration,
    ) -> Arc<Self> {
        Arc::new(ReleaseStack {
            entries: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            group,
            owner,
            hub,
            timeout,
        })
    }

    /// Pushes a resource. Returns `false` when the owner has already ended; the resource is
    /// then released at once in the background, so it is not lost.
    pub(crate) fn push<R: Resource>(self: &Arc<Self>, resource: R) -> bool {
        let entry = Entry::new(resource);
        self.group.added();
        self.hub.stats.resource_registered();
        {
            let mut entries = lock(&self.entries);
            // Checked under the lock that `drain` takes to close, so a push either lands
            // before the drain starts or sees the stack closed.
            if !self.closed.load(Ordering::SeqCst) {
                entries.push(entry);
                return true;
            }
        }
        // Not awaited: the release runs on its own and reports from there.
        drop(self.start_release(entry));
        false
    }

    /// Closes the stack and releases every resource on it, last registered first, one at a
    /// time. Returns once the stack is empty; releases started by another drain may still be
    /// running (wait on the group for those).
    ///
    /// # Cancel safety
    ///
    /// Each release runs in its own tokio task, so dropping this future (for example when the
    /// owner's actor is killed) never abandons a release midway; resources not yet started stay
    /// on the stack for the next drain.
    pub(crate) async fn drain(self: &Arc<Self>) {
        self.close();
        loop {
            // Pop before releasing, so a concurrent drain never releases the same entry.
            let next = lock(&self.entries).pop();
            let Some(entry) = next else {
                return;
            };
            let _ = self.start_release(entry).await;
        }
    }

    /// Closes the stack: resources pushed from now on are released at once.
    pub(crate) fn close(&self) {
        let _entries = lock(&self.entries);
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Starts draining in a background task once every resource below `first` is released,
    /// so that an owner's resources go after those of the tasks and scopes below it.
    pub(crate) fn drain_after(self: &Arc<Self>, first: Arc<ReleaseGroup>) {
        self.close();
        let stack = Arc::clone(self);
        self.hub.spawn(async move {
            first.wait_idle().await;
            stack.drain().await;
        });
    }

    /// Releases one entry in its own tokio task on the tree's runtime, bounded by the release
    /// timeout, and reports the outcome from there.
    fn start_release(self: &Arc<Self>, entry: Entry) -> tokio::task::JoinHandle<()> {
        let stack = Arc::clone(self);
        self.hub
            .spawn(async move { stack.release_one(entry).await })
    }

    async fn release_one(&self, entry: Entry) {
        let Entry { name, release } = entry;
        let mut future = CatchUnwind::new(release());
        let outcome = tokio::time::timeout(self.timeout, &mut future).await;
        // A release cut off by the timeout is dropped here. A panic in a `Drop` of its state
        // must not end this task before the outcome is recorded, because the owner's `wait`
        // waits for every release to be recorded.
        if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(move || drop(future))) {
            tracing::warn!(
                scope.name = %self.owner.scope,
                scope.id = %self.owner.scope_id,
                resource.name = %name,
                panic = %panic_message(panic),
                "resource release panicked while it was dropped"
            );
        }
        let failure = match outcome {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(error))) => Some(ReleaseFailure::Failed(Arc::from(error))),
            Ok(Err(panic)) => Some(ReleaseFailure::Panicked(panic)),
            Err(_elapsed) => Some(ReleaseFailure::TimedOut(self.timeout)),
        };
        self.record(&name, failure);
    }

    /// Counts, logs and reports the outcome of one release.
    fn record(&self, name: &Name, failure: Option<ReleaseFailure>) {
        let error = failure.map(|failure| ReleaseError {
            scope: self.owner.scope.clone(),
            scope_id: self.owner.scope_id,
            task: self.owner.task.clone(),
            resource: name.clone(),
            failure,
        });
        match &error {
            None => {
                tracing::trace!(
                    scope.name = %self.owner.scope,
                    scope.id = %self.owner.scope_id,
                    resource.name = %name,
                    "resource released"
                );
                self.hub.stats.resource_released(false);
            }
            Some(error) => {
                tracing::warn!(
                    scope.name = %self.owner.scope,
                    scope.id = %self.owner.scope_id,
                    resource.name = %name,
                    error = %error.failure,
                    "resource release failed"
                );
                self.hub.stats.resource_released(true);
                self.hub.report_release_failure(error);
            }
        }
        self.group.released(error.as_ref());
    }
}
