use std::sync::Arc;

use ractor::{Actor, ActorCell, ActorRef};

use super::actor::{
    new_shared, Args, Shared, StopHandle, SupervisorActor, SupervisorMsg, STOP_WAIT,
};
use super::spec::ChildSpec;
use super::{SupervisorError, SupervisorEvents, SupervisorOptions};
use crate::observe::Hub;
use crate::util::lock;
use crate::Name;

/// A supervised scope: runs long-lived children from their specifications, in specification
/// order, and restarts them by its [`RestartPolicy`](crate::RestartPolicy).
///
/// Dropping the handle stops the scope (its children are stopped in reverse start order), as
/// [`Supervisor::shutdown`] does without waiting.
#[must_use = "dropping a Supervisor stops it; call `wait` or `shutdown`"]
pub struct Supervisor {
    shared: Arc<Shared>,
    actor: ActorRef<SupervisorMsg>,
    armed: bool,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if self.armed {
            self.stop_handle().stop();
        }
    }
}

impl Supervisor {
    /// Starts a supervised scope on its own. Returns once each child's first start has been
    /// attempted, in specification order: a child whose start succeeded is running. A child
    /// whose start failed is restarted by the policy afterwards.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NoRuntime`] outside a tokio runtime, [`SupervisorError::Config`] for a
    /// child with a zero graceful timeout, [`SupervisorError::Stopped`] when the actor could not
    /// start, or was stopped (by its owner's shutdown) before its children had started.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped while the children start, the scope is stopped, as dropping
    /// the handle would: a child start still running is abandoned and the children already
    /// started are stopped. Dropped earlier, while the scope's own actor starts, the scope
    /// keeps running until its children end; prefer awaiting it.
    pub async fn start(
        options: SupervisorOptions,
        children: Vec<ChildSpec>,
    ) -> Result<Supervisor, SupervisorError> {
        let starting = Supervisor::start_under(options, children, None, true, None, None).await?;
        starting.children_started().await
    }

    /// Starts a supervised scope linked under `parent`, a ractor actor of the user's. When the
    /// scope gives up, `parent` receives `ActorFailed` carrying the [`SupervisorError`]; a clean
    /// end unlinks first, so `parent` keeps running even with ractor's default handling.
    ///
    /// When `parent` stops, ractor kills the scope and its children right after the parent's
    /// `post_stop`, so they skip their graceful stop. To stop them in reverse start order,
    /// call [`Supervisor::shutdown`] from the parent's `post_stop`.
    ///
    /// # Errors
    ///
    /// As [`Supervisor::start`].
    ///
    /// # Cancel safety
    ///
    /// As [`Supervisor::start`].
    pub async fn start_linked(
        options: SupervisorOptions,
        children: Vec<ChildSpec>,
        parent: ActorCell,
    ) -> Result<Supervisor, SupervisorError> {
        let starting =
            Supervisor::start_under(options, children, Some(parent), true, None, None).await?;
        starting.children_started().await
    }

    /// Starts a supervised scope under `parent` (if any), in the tree of `hub` (if any), with
    /// `parent_id` as its parent in the live-actor registry. Returns once its actor runs; the
    /// caller records the actor where its owner stops it, then waits for the children with
    /// [`Starting::children_started`].
    pub(crate) async fn start_under(
        options: SupervisorOptions,
        children: Vec<ChildSpec>,
        parent: Option<ActorCell>,
        parent_is_user: bool,
        hub: Option<Arc<Hub>>,
        parent_id: Option<u64>,
    ) -> Result<Starting, SupervisorError> {
        if !crate::util::in_runtime() {
            return Err(SupervisorError::NoRuntime);
        }
        for child in &children {
            child.shutdown.validate()?;
            child.validate_significance()?;
        }
        let root = hub.as_ref().map(|hub| hub.root_id);
        let parent_span = hub.as_ref().map(|hub| hub.span.clone());
        let (shared, events) = new_shared(
            &options,
            hub,
            parent_id,
            root,
            true,
            tokio_util::sync::CancellationToken::new(),
            parent_span.as_ref(),
        );
        let name = options.name.clone();
        let (started, children_started) = tokio::sync::oneshot::channel();
        let args = Args {
            options,
            specs: children,
            shared: Arc::clone(&shared),
            user_parent: parent.clone().filter(|_| parent_is_user),
            started: Some(started),
            events,
        };
        let spawned = match parent {
            Some(parent) => Actor::spawn_linked(None, SupervisorActor, args, parent).await,
            None => Actor::spawn(None, SupervisorActor, args).await,
        };
        let (actor, _) = spawned.map_err(|error| SupervisorError::Stopped {
            supervisor: name,
            reason: match error {
                // ractor's words when the parent is shutting down and takes no new child.
                ractor::SpawnErr::StartupFailed(inner)
                    if inner.to_string() == "Supervisor is shutting down" =>
                {
                    "its parent (a manager, a task or your actor) is shutting down".to_string()
                }
                error => error.to_string(),
            },
        })?;
        Ok(Starting {
            supervisor: Supervisor {
                shared,
                actor,
                armed: true,
            },
            children_started,
        })
    }

    /// Name of the supervised scope.
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// The supervised scope's ractor actor.
    pub fn actor(&self) -> ActorCell {
        self.actor.get_cell()
    }

    /// The children by name, in specification order, each with its actor while it runs.
    pub fn children(&self) -> Vec<(Name, Option<ActorCell>)> {
        lock(&self.shared.children).clone()
    }

    /// Subscribes to the scope's decisions: restarts, children left stopped, kills past a
    /// graceful timeout, giving up, auto-shutdown.
    ///
    /// The first call also receives the decisions made since the scope started, such as the
    /// restart of a child that crashed at once. It keeps up to 256 of them and counts older
    /// ones as missed. Later calls receive the decisions made after the call.
    pub fn events(&self) -> SupervisorEvents {
        let first = lock(&self.shared.first_events).take();
        let receiver = first.unwrap_or_else(|| match self.shared.events.upgrade() {
            Some(sender) => sender.subscribe(),
            // The scope has ended: a subscription that is closed from the start.
            None => tokio::sync::broadcast::channel(1).1,
        });
        SupervisorEvents {
            receiver,
            missed: 0,
        }
    }

    /// Waits until the scope ends: it gave up, a significant child ended it, or it was stopped.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::RestartLimit`] when it gave up; [`SupervisorError::Stopped`] when its
    /// actor was killed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the scope, as dropping the handle does.
    pub async fn wait(mut self) -> Result<(), SupervisorError> {
        let _ = self.actor.get_cell().wait(None).await;
        self.armed = false;
        self.outcome()
    }

    /// Stops the scope: its children are stopped in reverse start order (gracefully, then
    /// killed past their timeout), then the scope's actor stops.
    ///
    /// # Errors
    ///
    /// As [`Supervisor::wait`].
    ///
    /// # Cancel safety
    ///
    /// The scope stops whether or not the future is polled to the end.
    pub async fn shutdown(mut self) -> Result<(), SupervisorError> {
        self.stop_handle().stop();
        let _ = self.actor.get_cell().wait(Some(STOP_WAIT)).await;
        self.armed = false;
        self.outcome()
    }

    fn stop_handle(&self) -> StopHandle {
        StopHandle {
            cell: self.actor.get_cell(),
            stopping: self.shared.stopping.clone(),
        }
    }

    fn outcome(&self) -> Result<(), SupervisorError> {
        match self.shared.outcome.borrow().clone() {
            Some(outcome) => outcome,
            None => Err(SupervisorError::Stopped {
                supervisor: self.shared.name.clone(),
                reason: "its actor was killed".to_string(),
            }),
        }
    }
}

/// A supervised scope whose actor runs and whose children may still be starting. Dropping it
/// stops the scope, as dropping a [`Supervisor`] does.
pub(crate) struct Starting {
    supervisor: Supervisor,
    children_started: tokio::sync::oneshot::Receiver<()>,
}

impl Starting {
    /// Returns the handle the scope's owner keeps to stop it.
    pub(crate) fn stop_handle(&self) -> StopHandle {
        self.supervisor.stop_handle()
    }

    /// Waits until each child's first start was attempted.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Stopped`] when the scope was stopped or its actor ended before
    /// then.
    pub(crate) async fn children_started(self) -> Result<Supervisor, SupervisorError> {
        let stopped = |reason: &str| SupervisorError::Stopped {
            supervisor: self.supervisor.shared.name.clone(),
            reason: reason.to_string(),
        };
        if self.children_started.await.is_err() {
            return Err(stopped("its actor ended before its children started"));
        }
        if self.supervisor.shared.stopping.is_cancelled() {
            return Err(stopped("it was stopped while its children started"));
        }
        Ok(self.supervisor)
    }
}
