use std::sync::Arc;

use ractor::{Actor, ActorCell};

use super::actor::ManagerActor;
use super::shared::ManagerShared;
use super::{ManagerConfig, ManagerError};
use crate::cancel::Inherit;
use crate::observe::{live_under_root, ErrorReports, Hub, LiveActor, Stats, Tree};
use crate::resource::ReleaseGroup;
use crate::scope::{ParentKind, Seed};
use crate::util::lock;
use crate::{CancelCause, ManagerId, Name, Resource, Scope, ScopeError, ScopeId, ScopeOptions};

/// The root of a tree of scopes: opens scopes, keeps statistics, publishes error reports and
/// shuts everything down in order.
///
/// Cloning is cheap; clones refer to the same manager. Dropping the last clone starts a
/// shutdown in the background, as [`Manager::shutdown`] would.
///
/// # Examples
///
/// ```
/// use ractor_scope::{Context, Manager, ManagerConfig, Task};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = Manager::start(ManagerConfig::default()).await?;
/// let scope = manager.scope("greet").await?;
/// let hello = scope.spawn(Task::new("hello", |_ctx: Context| async {
///     Ok::<_, std::io::Error>("hello")
/// }))?;
/// scope.wait().await?;
/// assert_eq!(*hello.result()?, "hello");
/// manager.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use = "dropping the last Manager handle shuts the manager down"]
pub struct Manager {
    inner: Arc<Owner>,
}

/// Shuts the manager down when the last handle goes.
struct Owner {
    shared: Arc<ManagerShared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        super::shutdown::begin(&self.shared);
    }
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("id", &self.shared().id)
            .field("name", &self.shared().config.name)
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// Starts a manager on its own.
    ///
    /// # Errors
    ///
    /// [`ManagerError::NoRuntime`] outside a tokio runtime, [`ManagerError::Config`] for
    /// invalid settings, [`ManagerError::Spawn`] when its actor could not start.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped after the actor started, the manager shuts down in the
    /// background.
    pub async fn start(config: ManagerConfig) -> Result<Manager, ManagerError> {
        Manager::start_inner(config, None).await
    }

    /// Starts a manager linked under `supervisor`, a ractor actor of the user's.
    ///
    /// When the manager fails (its shutdown had to kill, or a scope failed or a supervised
    /// scope gave up with [`ManagerConfig::escalate_failures`] on), `supervisor` receives
    /// `SupervisionEvent::ActorFailed` carrying the [`ManagerError`]. After a clean shutdown
    /// the manager unlinks itself before it stops, so `supervisor` keeps running even with
    /// ractor's default supervision handling. If `supervisor` stops, ractor kills the manager
    /// and everything under it; resources are then still released, in the background.
    ///
    /// # Errors
    ///
    /// As [`Manager::start`].
    ///
    /// # Cancel safety
    ///
    /// As [`Manager::start`].
    pub async fn start_linked(
        config: ManagerConfig,
        supervisor: ActorCell,
    ) -> Result<Manager, ManagerError> {
        Manager::start_inner(config, Some(supervisor)).await
    }

    async fn start_inner(
        config: ManagerConfig,
        supervisor: Option<ActorCell>,
    ) -> Result<Manager, ManagerError> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(ManagerError::NoRuntime);
        };
        config.validate()?;

        let id = ManagerId::next();
        let span = tracing::info_span!(
            "manager",
            manager.name = %config.name,
            manager.id = %id,
        );
        let hub = Hub::new(id.as_u64(), config.error_buffer, span, runtime);
        let name = config.name.clone();
        let shared = Arc::new(ManagerShared::new(id, config, hub, supervisor.clone()));
        let args = Arc::clone(&shared);
        let spawned = match supervisor {
            Some(supervisor) => Actor::spawn_linked(None, ManagerActor, args, supervisor).await,
            None => Actor::spawn(None, ManagerActor, args).await,
        };
        if let Err(error) = spawned {
            return Err(ManagerError::Spawn {
                manager: name,
                reason: error.to_string(),
            });
        }
        Ok(Manager {
            inner: Arc::new(Owner { shared }),
        })
    }

    pub(super) fn shared(&self) -> &Arc<ManagerShared> {
        &self.inner.shared
    }

    /// Name of the manager.
    pub fn name(&self) -> &Name {
        &self.shared().config.name
    }

    /// Id of the manager.
    pub fn id(&self) -> ManagerId {
        self.shared().id
    }

    /// The manager's ractor actor, for linking or monitoring it from the user's actors.
    pub fn actor(&self) -> Option<ActorCell> {
        self.shared().actor.get().map(|actor| actor.get_cell())
    }

    /// Opens a scope named `name`. See [`Manager::scope_with`].
    ///
    /// # Errors
    ///
    /// As [`Manager::scope_with`].
    ///
    /// # Cancel safety
    ///
    /// As [`Manager::scope_with`].
    pub async fn scope(&self, name: impl Into<Name>) -> Result<Scope, ScopeError> {
        self.scope_with(ScopeOptions::new(name)).await
    }

    /// Opens a top-level scope. Its actor is a child of the manager's actor.
    ///
    /// # Errors
    ///
    /// [`ScopeError::ManagerStopped`] once shutdown has begun, [`ScopeError::Config`] for
    /// invalid options, [`ScopeError::NoRuntime`] outside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped after the scope's actor started, the scope is cancelled
    /// (cause: handle dropped) and finishes in the background.
    pub async fn scope_with(&self, options: ScopeOptions) -> Result<Scope, ScopeError> {
        let shared = self.shared();
        let stopped = || ScopeError::ManagerStopped {
            manager: shared.config.name.clone(),
        };
        if shared.is_closing() {
            return Err(stopped());
        }
        let Some(actor) = shared.actor.get() else {
            return Err(stopped());
        };
        let id = ScopeId::next();
        let seed = Seed {
            id,
            hub: Arc::clone(&shared.hub),
            cancel: crate::cancel::CancelNode::child(&shared.cancel, Inherit::AsIs),
            parent_deadline: None,
            release_timeout: shared.config.release_timeout,
            group: ReleaseGroup::child(&shared.hub.resources),
            span: shared.hub.span.clone(),
            parent: ParentKind::Manager,
            parent_id: Some(shared.id.as_u64()),
            supervisor: Some(actor.get_cell()),
        };
        let scope = match crate::scope::start(options, seed).await {
            Ok(scope) => scope,
            Err(ScopeError::Spawn { .. }) if shared.is_closing() => return Err(stopped()),
            Err(error) => return Err(error),
        };
        lock(&shared.scopes).insert(scope.handle());
        // Shutdown may have begun while the actor started; it then missed this scope.
        if shared.is_closing() {
            scope.cancel_with(CancelCause::ManagerShutdown);
        }
        Ok(scope)
    }

    /// Registers a resource with the manager. It is released when the manager shuts down,
    /// after every scope has finished, after resources registered later. A
    /// [`ResourcePool`](crate::ResourcePool) or a connection shared by all scopes fits here.
    ///
    /// # Errors
    ///
    /// [`ScopeError::ManagerStopped`] when the shutdown has already released the manager's
    /// resources; the resource is then released at once in the background.
    pub fn register<R: Resource>(&self, resource: R) -> Result<(), ScopeError> {
        let shared = self.shared();
        if !shared.resources.push(resource) {
            return Err(ScopeError::ManagerStopped {
                manager: shared.config.name.clone(),
            });
        }
        Ok(())
    }

    pub(crate) fn supervisor_parent(&self) -> (Option<ActorCell>, Arc<Hub>) {
        let shared = self.shared();
        (
            shared.actor.get().map(|actor| actor.get_cell()),
            Arc::clone(&shared.hub),
        )
    }

    pub(crate) fn track_supervisor(&self, supervisor: crate::supervisor::StopHandle) {
        let mut supervisors = lock(&self.shared().supervisors);
        supervisors.retain(|known| known.cell.get_status() < ractor::ActorStatus::Stopping);
        supervisors.push(supervisor);
    }

    /// A consistent snapshot of the manager's statistics.
    pub fn stats(&self) -> Stats {
        self.shared().hub.stats.snapshot()
    }

    /// Subscribes to error reports: task failures (the first of each scope and later ones) and
    /// failed releases. Reports published before the subscription are not included.
    pub fn errors(&self) -> ErrorReports {
        self.shared().hub.errors.subscribe()
    }

    /// A snapshot of the live tree under this manager.
    pub fn tree(&self) -> Tree {
        Tree::new(self.shared().id.as_u64(), self.live_actors())
    }

    /// The live actors under this manager, the manager's own included.
    pub fn live_actors(&self) -> Vec<LiveActor> {
        live_under_root(self.shared().id.as_u64())
    }

    /// Shuts the manager down. No new scopes open. The supervised scopes are stopped, newest
    /// first. Then the scopes are cancelled (cause [`CancelCause::ManagerShutdown`]) and waited
    /// for one at a time, newest first, and the manager's own resources are released. Returns
    /// once every actor of the tree has terminated and every resource has been released.
    ///
    /// Calling it again, from any clone, waits for the same shutdown.
    ///
    /// # Errors
    ///
    /// [`ManagerError::ShutdownTimedOut`] when the shutdown timeout passed first: what was left
    /// was killed (their resources are released in the background, each bounded by the
    /// release timeout), and the error lists it. [`ManagerError::ScopeFailed`] or
    /// [`ManagerError::SupervisorFailed`] when a scope failure or a supervised scope that gave
    /// up triggered the shutdown under escalation.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not stop the shutdown; it goes on in the background.
    pub async fn shutdown(&self) -> Result<(), ManagerError> {
        let shared = self.shared();
        super::shutdown::begin(shared);
        let mut outcome = shared.outcome.subscribe();
        let result = match outcome.wait_for(Option::is_some).await {
            Ok(result) => result.clone().expect("waited for an outcome"),
            Err(_) => Err(ManagerError::Killed {
                manager: shared.config.name.clone(),
            }),
        };
        // Make sure the manager's own actor is gone too.
        if let Some(actor) = shared.actor.get() {
            let _ = actor.get_cell().wait(None).await;
        }
        result
    }
}
