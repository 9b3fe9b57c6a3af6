/// What a task failure does to the rest of its scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// The first failure cancels the whole scope (cause
    /// [`SiblingFailed`](crate::CancelCause::SiblingFailed)). Tasks that never started end as
    /// skipped when a dependency failed, cancelled otherwise.
    #[default]
    CancelScope,
    /// A failure skips only the tasks that depend on the failed task, directly or through
    /// other skipped tasks; independent tasks run on and keep their results. The first failure
    /// is still the scope's error.
    CancelDependents,
}
