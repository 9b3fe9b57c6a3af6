use std::time::Duration;

use super::scheduler::Skip;
use super::Progress;
use super::ScopeRef;
use crate::task::TaskLaunch;
use crate::{CancelCause, FailurePolicy, TaskError, TaskState};

/// How the scope counts its tasks in and out, ends the ones that never run, and records
/// failures.
impl ScopeRef {
    /// Ends a task that was rejected before it was counted in, so that its handles do not wait
    /// forever. It is not counted in the statistics.
    pub(crate) fn cancel_unspawned(&self, slot: &dyn crate::task::TaskSlot) {
        slot.finish(Err(TaskError::Cancelled {
            task: slot.name().clone(),
            task_id: slot.id(),
            cause: self
                .shared
                .cancel
                .cause()
                .unwrap_or(CancelCause::NotSpawned),
        }));
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
            dependency_state: self.ended_state(dependency.as_ref()),
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

    /// Returns how a dependency ended, for a skip report. A failing task claims the scope's error and
    /// cancels the scope before it releases its resources and makes its own state final, so a
    /// dependent skipped in between reads the state from the scope's error.
    fn ended_state(&self, dependency: &dyn crate::task::TaskSlot) -> TaskState {
        let state = dependency.state();
        if state.is_finished() {
            return state;
        }
        match self.shared.first_error.get() {
            Some(error) if error.task_id() == dependency.id() => error.state(),
            _ => state,
        }
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
