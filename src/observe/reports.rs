use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::util::lock;
use crate::{Name, ScopeId, TaskId};

/// What an [`ErrorReport`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportKind {
    /// A task failure that became its scope's error.
    FirstError,
    /// A task failure that came after the scope already had its error.
    LaterFailure,
    /// A resource release that failed, timed out or panicked.
    ReleaseFailed,
}

/// One failure, as sent on the error stream.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ErrorReport {
    /// What the report is about.
    pub kind: ReportKind,
    /// Scope where it happened.
    pub scope: Name,
    /// Id of that scope.
    pub scope_id: ScopeId,
    /// Task where it happened, if any.
    pub task: Option<(Name, TaskId)>,
    /// The error: a [`TaskError`](crate::TaskError) or a
    /// [`ReleaseError`](crate::ReleaseError), reachable by `downcast_ref`.
    pub error: Arc<dyn std::error::Error + Send + Sync + 'static>,
}

/// The buffer of one subscriber.
#[derive(Debug)]
struct Queue {
    reports: Mutex<VecDeque<ErrorReport>>,
    capacity: usize,
    missed: AtomicU64,
    ready: Notify,
    closed: AtomicBool,
    dropped: AtomicBool,
}

/// Fans error reports out to subscribers without ever waiting on one.
#[derive(Debug)]
pub(crate) struct ErrorBus {
    subscribers: Mutex<Vec<Arc<Queue>>>,
    capacity: usize,
    closed: AtomicBool,
}

impl ErrorBus {
    pub(crate) fn new(capacity: usize) -> Self {
        ErrorBus {
            subscribers: Mutex::new(Vec::new()),
            capacity,
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn subscribe(&self) -> ErrorReports {
        // `closed` is read under the subscribers' lock, which `close` holds while it sets it,
        // so a subscription either finds the bus closed or is closed by it.
        let mut subscribers = lock(&self.subscribers);
        let queue = Arc::new(Queue {
            reports: Mutex::new(VecDeque::new()),
            capacity: self.capacity,
            missed: AtomicU64::new(0),
            ready: Notify::new(),
            closed: AtomicBool::new(self.closed.load(Ordering::SeqCst)),
            dropped: AtomicBool::new(false),
        });
        subscribers.push(Arc::clone(&queue));
        ErrorReports { queue }
    }

    /// Offers `report` to every subscriber and returns how many of them missed it because
    /// their buffer was full. It never waits for a subscriber, only for short internal locks.
    pub(crate) fn publish(&self, report: &ErrorReport) -> u64 {
        let mut missed = 0;
        let mut subscribers = lock(&self.subscribers);
        subscribers.retain(|queue| !queue.dropped.load(Ordering::SeqCst));
        for queue in subscribers.iter() {
            let mut reports = lock(&queue.reports);
            if reports.len() >= queue.capacity {
                queue.missed.fetch_add(1, Ordering::SeqCst);
                missed += 1;
            } else {
                reports.push_back(report.clone());
                drop(reports);
                queue.ready.notify_one();
            }
        }
        missed
    }

    /// Ends every stream: receivers get what is buffered, then `None`.
    pub(crate) fn close(&self) {
        let mut subscribers = lock(&self.subscribers);
        self.closed.store(true, Ordering::SeqCst);
        for queue in subscribers.drain(..) {
            queue.closed.store(true, Ordering::SeqCst);
            queue.ready.notify_one();
        }
    }
}

/// A subscription to a manager's error reports, from
/// [`Manager::errors`](crate::Manager::errors).
///
/// Each subscriber has a bounded buffer. Publishing never waits for a subscriber. When its buffer is full, the
/// report is counted as missed for this subscriber ([`ErrorReports::missed`]) and in the
/// manager's [`Stats::error_reports_missed`](crate::Stats::error_reports_missed).
///
/// Dropping it unsubscribes.
#[derive(Debug)]
#[must_use = "reports are buffered only while the subscription is kept"]
pub struct ErrorReports {
    queue: Arc<Queue>,
}

impl ErrorReports {
    /// Receives the next report, waiting for one. Returns `None` once the manager has shut
    /// down and the buffer is empty.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a report is taken from the buffer only when this future completes.
    pub async fn recv(&mut self) -> Option<ErrorReport> {
        let queue = Arc::clone(&self.queue);
        loop {
            let ready = queue.ready.notified();
            if let Some(report) = self.try_recv() {
                return Some(report);
            }
            if queue.closed.load(Ordering::SeqCst) {
                return self.try_recv();
            }
            ready.await;
        }
    }

    /// Takes the next buffered report, if any, without waiting.
    pub fn try_recv(&mut self) -> Option<ErrorReport> {
        lock(&self.queue.reports).pop_front()
    }

    /// Number of reports buffered and not yet received.
    pub fn len(&self) -> usize {
        lock(&self.queue.reports).len()
    }

    /// Returns whether no report is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of reports this subscriber missed because its buffer was full.
    pub fn missed(&self) -> u64 {
        self.queue.missed.load(Ordering::SeqCst)
    }
}

impl Drop for ErrorReports {
    fn drop(&mut self) {
        self.queue.dropped.store(true, Ordering::SeqCst);
    }
}
