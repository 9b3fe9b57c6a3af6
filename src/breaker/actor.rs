use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::broadcast;

use super::core::Core;
use super::{BreakerState, Transition, TransitionReason};

/// The actor of one breaker. Callers admit themselves and record outcomes on the shared
/// [`Core`]; this actor logs every transition and sends it to subscribers, applies the manual
/// controls, and reopens a breaker whose trials stop making progress.
pub(crate) struct BreakerActor;

pub(crate) enum BreakerMsg {
    /// A caller made a transition.
    Transitioned(Transition),
    /// Move to `state` by hand.
    Force {
        state: BreakerState,
        reason: TransitionReason,
        reply: RpcReplyPort<Transition>,
    },
    /// Check that a half-open breaker's trials made progress since `seen`.
    CheckHalfOpen { generation: u32, seen: u32 },
}

#[cfg(feature = "cluster")]
impl ractor::Message for BreakerMsg {}

pub(crate) struct BreakerActorState {
    core: Arc<Core>,
    events: broadcast::Sender<Transition>,
}

/// Logs a transition: opening at `warn`, because an operator may need to act; the others at
/// `info`.
pub(crate) fn log_transition(transition: &Transition) {
    match transition.to {
        BreakerState::Open | BreakerState::ForcedOpen => tracing::warn!(
            breaker.name = %transition.breaker,
            breaker.from = %transition.from,
            breaker.to = %transition.to,
            breaker.reason = %transition.reason,
            breaker.generation = transition.generation,
            breaker.reset_timeout = ?transition.reset_timeout,
            "circuit breaker opened"
        ),
        _ => tracing::info!(
            breaker.name = %transition.breaker,
            breaker.from = %transition.from,
            breaker.to = %transition.to,
            breaker.reason = %transition.reason,
            breaker.generation = transition.generation,
            "circuit breaker changed state"
        ),
    }
}

impl BreakerActor {
    fn publish(myself: &ActorRef<BreakerMsg>, state: &BreakerActorState, transition: Transition) {
        log_transition(&transition);
        if transition.to == BreakerState::HalfOpen {
            let word = state.core.word();
            if word.generation == transition.generation {
                Self::watch_half_open(myself, &state.core, word.generation, word.data);
            }
        }
        // No subscriber is not an error: the transition was logged.
        let _ = state.events.send(transition);
    }

    fn watch_half_open(myself: &ActorRef<BreakerMsg>, core: &Core, generation: u32, seen: u32) {
        let config = &core.config;
        let delay: Duration = config
            .half_open_timeout
            .or(config.call_timeout)
            .unwrap_or(config.reset_timeout);
        myself.send_after(delay, move || BreakerMsg::CheckHalfOpen {
            generation,
            seen,
        });
    }
}

impl Actor for BreakerActor {
    type Msg = BreakerMsg;
    type State = BreakerActorState;
    type Arguments = (Arc<Core>, broadcast::Sender<Transition>);

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (core, events): Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let _ = core.actor.set(myself);
        Ok(BreakerActorState { core, events })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            BreakerMsg::Transitioned(transition) => Self::publish(&myself, state, transition),
            BreakerMsg::Force {
                state: target,
                reason,
                reply,
            } => {
                let transition = state.core.force(target, reason);
                Self::publish(&myself, state, transition.clone());
                let _ = reply.send(transition);
            }
            BreakerMsg::CheckHalfOpen { generation, seen } => {
                // A trial that finished changed the word; only a breaker with no progress
                // since the last check is reopened (which announces the transition).
                if !state.core.expire_trials(generation, seen) {
                    let word = state.core.word();
                    if word.state == BreakerState::HalfOpen && word.generation == generation {
                        Self::watch_half_open(&myself, &state.core, generation, word.data);
                    }
                }
            }
        }
        Ok(())
    }
}
