use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ractor::ActorCell;
use tokio_util::sync::CancellationToken;

use super::{RestartType, ShutdownPolicy, SupervisorOptions};
use crate::{BoxError, ConfigError, Name};

type StartFuture = Pin<Box<dyn Future<Output = Result<Started, BoxError>> + Send>>;

/// Starts one child under the given supervisor.
pub(crate) type StartFn = Arc<dyn Fn(Parent) -> StartFuture + Send + Sync>;

/// The supervisor a child starts under: its cell, its id in the live-actor registry and the
/// tree it belongs to.
#[derive(Clone)]
pub(crate) struct Parent {
    pub(crate) cell: ActorCell,
    pub(crate) id: u64,
    pub(crate) root: u64,
    pub(crate) hub: Option<Arc<crate::observe::Hub>>,
    /// The parent scope's `stopping` token, which a nested scope's own token descends from.
    pub(crate) stopping: CancellationToken,
    /// The parent scope's span, which a child's span descends from.
    pub(crate) span: tracing::Span,
}

/// A started child: its actor, for a task child the token that stops it gracefully, and for
/// a nested scope the token that makes it abandon a start in progress.
pub(crate) struct Started {
    pub(crate) cell: ActorCell,
    pub(crate) token: Option<CancellationToken>,
    pub(crate) abandon: Option<CancellationToken>,
}

/// What a supervised task child's body receives: its name, how many times it was restarted,
/// and its cancellation (a graceful stop).
#[derive(Debug, Clone)]
pub struct ChildContext {
    pub(crate) name: Name,
    pub(crate) restarts: u64,
    pub(crate) token: CancellationToken,
}

impl ChildContext {
    /// Name of the child.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// How many times the child was restarted before this run.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Returns whether the supervisor asked the child to stop.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when the supervisor requests the child to stop. The body is dropped then
    /// anyway, so use this in work it hands off elsewhere.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub fn cancelled(&self) -> impl Future<Output = ()> + Send + 'static {
        self.token.clone().cancelled_owned()
    }
}

/// How to start, restart and stop one child of a supervised scope.
#[derive(Clone)]
#[must_use = "a child specification does nothing until it is given to a supervised scope"]
pub struct ChildSpec {
    pub(crate) name: Name,
    pub(crate) start: StartFn,
    pub(crate) restart: RestartType,
    pub(crate) shutdown: ShutdownPolicy,
    pub(crate) significant: bool,
    /// Whether `start` is the user's code, which may hang: the scope then abandons it when
    /// it is stopped. The library's own starts (task children, nested scopes) return promptly
    /// and are awaited, so that what they spawned is always recorded.
    pub(crate) user_start: bool,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("significant", &self.significant)
            .finish_non_exhaustive()
    }
}

impl ChildSpec {
    /// A child that is a ractor actor of the user's: `start` spawns it linked under the
    /// supervisor cell it is given (`Actor::spawn_linked(None, .., supervisor)`) and returns
    /// its cell. A graceful stop is ractor's `stop`.
    ///
    /// When the scope is stopped while `start` runs (its handle dropped, a shutdown), the
    /// `start` future is dropped at its next await. So spawn the actor as its last step, and
    /// let anything made before that (a connection) clean up in its `Drop`. An actor that a
    /// dropped or failed `start` had already spawned under the supervisor is stopped. A
    /// `start` that returns an actor not linked under the supervisor fails, and that actor is
    /// stopped.
    pub fn actor<F, Fut>(name: impl Into<Name>, start: F) -> Self
    where
        F: Fn(ActorCell) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorCell, BoxError>> + Send + 'static,
    {
        let start = Arc::new(start);
        let spec = ChildSpec::new(
            name.into(),
            Arc::new(move |parent: Parent| {
                let started = start(parent.cell);
                Box::pin(async move {
                    Ok(Started {
                        cell: started.await?,
                        token: None,
                        abandon: None,
                    })
                })
            }),
        );
        ChildSpec {
            user_start: true,
            ..spec
        }
    }

    /// A child that is a long-running task body. Returning `Ok` is a normal exit; an error or
    /// a panic is a failure. A graceful stop cancels it: the body is dropped at its next await.
    pub fn task<F, Fut>(name: impl Into<Name>, body: F) -> Self
    where
        F: Fn(ChildContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let name: Name = name.into();
        let body: super::child::ChildBody = Arc::new(move |ctx| Box::pin(body(ctx)));
        let child_name = name.clone();
        let runs = Arc::new(std::sync::atomic::AtomicU64::new(0));
        ChildSpec::new(
            name,
            Arc::new(move |parent: Parent| {
                let body = Arc::clone(&body);
                let name = child_name.clone();
                let restarts = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Box::pin(super::child::start_task_child(
                    parent.cell,
                    parent.span,
                    name,
                    restarts,
                    body,
                ))
            }),
        )
    }

    /// A child that is itself a supervised scope. When it gives up, this supervisor applies its
    /// own strategy to it.
    pub fn supervisor(
        name: impl Into<Name>,
        options: SupervisorOptions,
        children: Vec<ChildSpec>,
    ) -> Self {
        ChildSpec::new(
            name.into(),
            Arc::new(move |parent: Parent| {
                let options = options.clone();
                let children = children.clone();
                Box::pin(async move {
                    let (cell, abandon) =
                        super::actor::spawn_nested(options, children, parent).await?;
                    Ok(Started {
                        cell,
                        token: None,
                        abandon: Some(abandon),
                    })
                })
            }),
        )
    }

    fn new(name: Name, start: StartFn) -> Self {
        ChildSpec {
            name,
            start,
            restart: RestartType::Permanent,
            shutdown: ShutdownPolicy::default(),
            significant: false,
            user_start: false,
        }
    }

    /// When the child is restarted. Default: [`RestartType::Permanent`].
    pub fn restart(mut self, restart: RestartType) -> Self {
        self.restart = restart;
        self
    }

    /// How the child is stopped. Default: graceful with a 5 s timeout, then kill.
    pub fn shutdown(mut self, shutdown: ShutdownPolicy) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Marks a transient or temporary child significant: when it exits (or when all significant
    /// children have, see [`AutoShutdown`](crate::AutoShutdown)), the supervised scope shuts
    /// down. Default: `false`.
    ///
    /// Starting a supervised scope with a permanent child marked significant fails with
    /// [`SupervisorError::Config`](crate::SupervisorError::Config).
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Name of the child.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Rejects a permanent child marked significant: it is restarted after every exit, so it
    /// never ends and could never shut the scope down. OTP rejects it too.
    pub(crate) fn validate_significance(&self) -> Result<(), ConfigError> {
        if self.significant && self.restart == RestartType::Permanent {
            return Err(ConfigError::new(
                "significant",
                format!("child '{}' is permanent", self.name),
                "only a transient or temporary child can be significant; set its restart type to transient or temporary, or leave it not significant",
            ));
        }
        Ok(())
    }
}
