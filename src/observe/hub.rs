use std::sync::Arc;

use super::reports::{ErrorBus, ErrorReport, ReportKind};
use super::stats::StatsCell;
use crate::resource::{ReleaseError, ReleaseGroup};
use crate::{Name, ScopeId, TaskError};

/// What every actor of one tree shares: statistics, the error stream, the tree's resource
/// counter and its root span. A manager owns one; a scope started without a manager owns its
/// own.
#[derive(Debug)]
pub(crate) struct Hub {
    pub(crate) root_id: u64,
    pub(crate) stats: StatsCell,
    pub(crate) errors: ErrorBus,
    pub(crate) resources: Arc<ReleaseGroup>,
    pub(crate) span: tracing::Span,
    /// The runtime the tree was started on, for background cleanup started from `Drop` or
    /// from a thread outside the runtime.
    runtime: tokio::runtime::Handle,
}

impl Hub {
    /// Creates the hub of a new tree. Must be called inside a tokio runtime.
    pub(crate) fn new(
        root_id: u64,
        error_buffer: usize,
        span: tracing::Span,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Self> {
        Arc::new(Hub {
            root_id,
            stats: StatsCell::default(),
            errors: ErrorBus::new(error_buffer),
            resources: ReleaseGroup::root(),
            span,
            runtime,
        })
    }

    /// Runs `future` in the background on the tree's runtime, from any thread.
    pub(crate) fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.runtime.spawn(future)
    }

    fn publish(&self, report: ErrorReport) {
        let missed = self.errors.publish(&report);
        self.stats.reports_published(missed);
    }

    pub(crate) fn report_task_failure(
        &self,
        first: bool,
        scope: &Name,
        scope_id: ScopeId,
        error: &TaskError,
    ) {
        let kind = if first {
            ReportKind::FirstError
        } else {
            ReportKind::LaterFailure
        };
        self.publish(ErrorReport {
            kind,
            scope: scope.clone(),
            scope_id,
            task: Some((error.task().clone(), error.task_id())),
            error: Arc::new(error.clone()),
        });
    }

    pub(crate) fn report_release_failure(&self, error: &ReleaseError) {
        self.publish(ErrorReport {
            kind: ReportKind::ReleaseFailed,
            scope: error.scope.clone(),
            scope_id: error.scope_id,
            task: error.task.clone(),
            error: Arc::new(error.clone()),
        });
    }
}
