use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use super::shared::ManagerShared;
use super::ManagerError;
use crate::observe::{register, ActorKind, Entry, Registration};
use crate::util::lock;
use crate::{CancelCause, ScopeError, SupervisorError};

/// The root actor of a manager's tree. Its children are the top-level scope actors.
///
/// Shutdown itself runs in a tokio task (see `shutdown.rs`), so that it goes on when the
/// caller drops the `shutdown` future. It ends by sending this actor `ManagerMsg::Exit`.
pub(crate) struct ManagerActor;

pub(crate) enum ManagerMsg {
    /// Shutdown finished: exit cleanly, or with the error so that a supervising actor receives
    /// `ActorFailed`.
    Exit(Result<(), ManagerError>),
}

#[cfg(feature = "cluster")]
impl ractor::Message for ManagerMsg {}

pub(crate) struct ManagerState {
    shared: Arc<ManagerShared>,
    guard: ManagerGuard,
}

/// Cancels everything when the manager's actor is killed from outside (for example its
/// supervisor exited), since its `post_stop` does not run then.
struct ManagerGuard {
    shared: Arc<ManagerShared>,
    registration: Registration,
}

impl Drop for ManagerGuard {
    fn drop(&mut self) {
        let shared = &self.shared;
        if shared.outcome.borrow().is_some() {
            return;
        }
        shared.begin_closing();
        shared.cancel.cancel(CancelCause::ManagerShutdown);
        tracing::warn!(
            manager.name = %shared.config.name,
            manager.id = %shared.id,
            "manager killed"
        );
        // ractor kills the scopes too; `shutdown` returns once they and their resources are
        // gone.
        let shared = Arc::clone(shared);
        let hub = Arc::clone(&shared.hub);
        hub.spawn(async move {
            let scopes = lock(&shared.scopes).all();
            for scope in scopes {
                scope.terminated().await;
            }
            shared.resources.drain().await;
            shared.hub.resources.wait_idle().await;
            shared.hub.errors.close();
            shared.set_outcome(Err(ManagerError::Killed {
                manager: shared.config.name.clone(),
            }));
        });
    }
}

impl Actor for ManagerActor {
    type Msg = ManagerMsg;
    type State = ManagerState;
    type Arguments = Arc<ManagerShared>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        shared: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let registration = register(
            shared.id.as_u64(),
            Entry {
                kind: ActorKind::Manager,
                name: shared.config.name.clone(),
                parent: None,
                root: shared.id.as_u64(),
                cell: myself.get_cell(),
                task: None,
                started: tokio::time::Instant::now(),
            },
        );
        let _ = shared.actor.set(myself);
        tracing::info!(parent: &shared.hub.span, "manager started");
        Ok(ManagerState {
            shared: Arc::clone(&shared),
            guard: ManagerGuard {
                shared,
                registration,
            },
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.guard.registration.remove();
        match message {
            ManagerMsg::Exit(Ok(())) => {
                // Unlink first: ractor's default supervision handling would stop the user's
                // actor on any child exit, even a clean one.
                if let Some(supervisor) = &state.shared.supervisor {
                    myself.get_cell().unlink(supervisor.clone());
                }
                myself.stop(None);
                Ok(())
            }
            ManagerMsg::Exit(Err(error)) => Err(Box::new(error)),
        }
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, ..) => state.shared.forget_scope(&cell),
            SupervisionEvent::ActorFailed(cell, error) => {
                state.shared.forget_scope(&cell);
                if state.shared.config.escalate {
                    let manager = state.shared.config.name.clone();
                    let escalated = if let Some(source) = error.downcast_ref::<ScopeError>() {
                        ManagerError::ScopeFailed {
                            manager,
                            source: source.clone(),
                        }
                    } else if let Some(source) = error.downcast_ref::<SupervisorError>() {
                        ManagerError::SupervisorFailed {
                            manager,
                            source: source.clone(),
                        }
                    } else {
                        ManagerError::ActorFailed {
                            manager,
                            reason: error.to_string(),
                        }
                    };
                    lock(&state.shared.escalated).get_or_insert(escalated);
                    super::shutdown::begin(&state.shared);
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Stopped from outside, not by our own shutdown: shut the scopes down in order here.
        let shared = &state.shared;
        let clean = if shared.begin_closing() {
            let outcome = super::shutdown::stop_all(shared).await;
            let clean = outcome.is_ok();
            shared.set_outcome(outcome);
            clean
        } else {
            // A shutdown already runs in the background; it sets the outcome before it waits
            // for this actor.
            let mut outcome = shared.outcome.subscribe();
            let clean = matches!(
                outcome.wait_for(Option::is_some).await.as_deref(),
                Ok(Some(Ok(())))
            );
            clean
        };
        // As after `Manager::shutdown`, a clean end unlinks first, so that a user's actor
        // with ractor's default supervision handling is not stopped.
        if clean {
            if let Some(supervisor) = &shared.supervisor {
                myself.get_cell().unlink(supervisor.clone());
            }
        }
        state.guard.registration.remove();
        Ok(())
    }
}
