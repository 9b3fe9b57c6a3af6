use std::ops::Deref;
use std::sync::atomic::Ordering;

use ractor::ActorCell;

use super::actor::ScopeMsg;
use super::{ScopeError, ScopeOptions, ScopeRef};
use crate::CancelCause;

/// The owning handle of a scope: the one that waits for it.
///
/// It dereferences to [`ScopeRef`] for `spawn`, `register`, `cancel` and `progress`.
///
/// Dropping it before [`Scope::wait`] returns cancels the scope with cause
/// [`CancelCause::HandleDropped`]; the scope's tasks are then stopped and its resources
/// released in the background.
#[must_use = "dropping a Scope cancels it; call `wait` to let its tasks finish"]
#[derive(Debug)]
pub struct Scope {
    scope: ScopeRef,
    armed: bool,
}

impl Scope {
    pub(crate) fn new(scope: ScopeRef) -> Self {
        Scope { scope, armed: true }
    }

    /// Starts a scope without a manager. It has its own statistics and error stream, which
    /// nobody reads; use a [`Manager`](crate::Manager) to observe scopes.
    ///
    /// # Errors
    ///
    /// [`ScopeError::NoRuntime`] outside a tokio runtime, [`ScopeError::Config`] for invalid
    /// options, [`ScopeError::Spawn`] when the actor could not start.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped after the actor started, the scope is cancelled and finishes
    /// in the background.
    pub async fn start(options: ScopeOptions) -> Result<Scope, ScopeError> {
        super::start::start_standalone(options, None).await
    }

    /// Starts a scope without a manager, linked under `supervisor`, a ractor actor of the
    /// user's.
    ///
    /// When the scope fails (see [`ScopeError::is_failure`]), `supervisor` receives
    /// `SupervisionEvent::ActorFailed` carrying the [`ScopeError`]. When it finishes otherwise,
    /// it unlinks itself first, so `supervisor` receives nothing and keeps running even with
    /// ractor's default supervision handling. A kill of the scope's actor reaches `supervisor`
    /// as ractor reports kills: `ActorTerminated` with the reason "killed".
    ///
    /// # Errors
    ///
    /// As [`Scope::start`].
    ///
    /// # Cancel safety
    ///
    /// As [`Scope::start`].
    pub async fn start_linked(
        options: ScopeOptions,
        supervisor: ActorCell,
    ) -> Result<Scope, ScopeError> {
        super::start::start_standalone(options, Some(supervisor)).await
    }

    /// A cloneable reference to the scope, for tasks or other code that spawn into it.
    pub fn handle(&self) -> ScopeRef {
        self.scope.clone()
    }

    /// Waits until every task of the scope has ended and every resource registered with the
    /// scope or its tasks has been released, then returns the scope's result.
    ///
    /// Tasks may still be spawned into the scope (by its tasks, through
    /// [`Context::scope`](crate::Context::scope)) until the last one ends.
    ///
    /// When this returns, every task actor of the scope has terminated. Work that a task
    /// detached on purpose (`tokio::spawn`, `spawn_blocking`) is not waited for.
    ///
    /// # Errors
    ///
    /// The first task failure ([`ScopeError::TaskFailed`]); otherwise
    /// [`ScopeError::Cancelled`] if the scope was cancelled; otherwise the first failed
    /// release ([`ScopeError::ReleaseFailed`]); [`ScopeError::Killed`] if the scope's actor
    /// was killed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the scope (cause [`CancelCause::HandleDropped`]); its
    /// tasks stop and its resources are released in the background.
    pub async fn wait(mut self) -> Result<(), ScopeError> {
        let scope = self.scope.clone();
        scope.shared.waited.store(true, Ordering::SeqCst);
        // If the actor is already gone, `terminated` returns at once and the result says why.
        let _ = scope.actor.cast(ScopeMsg::Wait);
        scope.terminated().await;
        self.armed = false;
        scope.final_result()
    }
}

impl Deref for Scope {
    type Target = ScopeRef;

    fn deref(&self) -> &ScopeRef {
        &self.scope
    }
}

impl AsRef<ScopeRef> for Scope {
    fn as_ref(&self) -> &ScopeRef {
        &self.scope
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if self.armed && !self.scope.is_finished() {
            self.scope.cancel_with(CancelCause::HandleDropped {
                scope: self.scope.name().clone(),
            });
        }
    }
}
