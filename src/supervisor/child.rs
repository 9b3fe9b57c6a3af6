use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::spec::{ChildContext, Started};
use crate::util::CatchUnwind;
use crate::{BoxError, Name};

type BodyFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;
pub(crate) type ChildBody = Arc<dyn Fn(ChildContext) -> BodyFuture + Send + Sync>;

/// The actor of a supervised task child: runs the body in `post_start`, raced against its
/// cancellation. `Ok` stops it normally; an error or a panic fails it, which its supervisor
/// receives as `ActorFailed`.
pub(crate) struct TaskChild;

pub(crate) enum TaskChildMsg {}

#[cfg(feature = "cluster")]
impl ractor::Message for TaskChildMsg {}

pub(crate) struct TaskChildState {
    ctx: ChildContext,
    body: ChildBody,
    span: tracing::Span,
}

impl Actor for TaskChild {
    type Msg = TaskChildMsg;
    type State = TaskChildState;
    type Arguments = (ChildContext, ChildBody, tracing::Span);

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        (ctx, body, span): Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(TaskChildState { ctx, body, span })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let token = state.ctx.token.clone();
        let body = (state.body)(state.ctx.clone()).instrument(state.span.clone());
        let body = CatchUnwind::new(body);
        let outcome = tokio::select! {
            biased;
            () = token.cancelled() => Ok(Ok(())),
            result = body => result,
        };
        match outcome {
            Ok(Ok(())) => {
                myself.stop(None);
                Ok(())
            }
            Ok(Err(error)) => Err(error),
            Err(panic) => Err(format!("child '{}' panicked: {panic}", state.ctx.name).into()),
        }
    }
}

/// Starts a task child linked under `supervisor`, running its body in a span under
/// `supervisor_span`.
pub(crate) async fn start_task_child(
    supervisor: ActorCell,
    supervisor_span: tracing::Span,
    name: Name,
    restarts: u64,
    body: ChildBody,
) -> Result<Started, BoxError> {
    let span = tracing::info_span!(
        parent: &supervisor_span,
        "child",
        child.name = %name,
        child.restarts = restarts,
    );
    let token = CancellationToken::new();
    let ctx = ChildContext {
        name,
        restarts,
        token: token.clone(),
    };
    let (actor, _) = Actor::spawn_linked(None, TaskChild, (ctx, body, span), supervisor).await?;
    Ok(Started {
        cell: actor.get_cell(),
        token: Some(token),
        abandon: None,
    })
}
