/// Counts of one scope's tasks, published as a watch value by
/// [`ScopeRef::progress`](crate::ScopeRef::progress) each time a task changes state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Tasks accepted by the scope.
    pub added: u64,
    /// Tasks accepted and not yet running.
    pub pending: u64,
    /// Tasks whose body is running.
    pub running: u64,
    /// Tasks that completed.
    pub completed: u64,
    /// Tasks that failed (an error or a panic).
    pub failed: u64,
    /// Tasks that were cancelled.
    pub cancelled: u64,
    /// Tasks stopped by their own timeout.
    pub timed_out: u64,
    /// Tasks skipped because a dependency did not complete.
    pub skipped: u64,
}

impl Progress {
    /// Number of tasks in a final state.
    pub fn done(&self) -> u64 {
        self.completed + self.failed + self.cancelled + self.timed_out + self.skipped
    }
}
