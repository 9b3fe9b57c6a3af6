use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorCell};
use tokio::time::Instant;

use super::actor::ScopeActor;
use super::shared::{ParentKind, ScopeShared};
use super::{Scope, ScopeError, ScopeOptions, ScopeRef};
use crate::cancel::{CancelNode, Inherit};
use crate::observe::Hub;
use crate::resource::{Owner, ReleaseGroup, ReleaseStack};
use crate::ScopeId;

/// Release timeout of a scope started without a manager, when its options set none.
pub(crate) const DEFAULT_RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Capacity of each error-stream subscriber of a scope started without a manager.
const STANDALONE_ERROR_BUFFER: usize = 64;

/// Where a new scope hangs: everything it inherits from its parent.
pub(crate) struct Seed {
    pub(crate) id: ScopeId,
    pub(crate) hub: Arc<Hub>,
    pub(crate) cancel: Arc<CancelNode>,
    pub(crate) parent_deadline: Option<Instant>,
    pub(crate) release_timeout: Duration,
    pub(crate) group: Arc<ReleaseGroup>,
    pub(crate) span: tracing::Span,
    pub(crate) parent: ParentKind,
    pub(crate) parent_id: Option<u64>,
    pub(crate) supervisor: Option<ActorCell>,
}

/// Starts the actor of a new scope described by `options` under `seed`.
pub(crate) async fn start(options: ScopeOptions, seed: Seed) -> Result<Scope, ScopeError> {
    if !crate::util::in_runtime() {
        return Err(ScopeError::NoRuntime);
    }
    options.validate()?;

    let now = Instant::now();
    // A deadline too far to add to the clock is no deadline at all.
    let own_deadline = options
        .deadline
        .and_then(|after| now.checked_add(after).map(|at| (at, after)));
    // A nested scope can shorten its parent's deadline, never extend it.
    let deadline = match (own_deadline.map(|(at, _)| at), seed.parent_deadline) {
        (Some(own), Some(parent)) => Some(own.min(parent)),
        (own, parent) => own.or(parent),
    };
    let release_timeout = options.release_timeout.unwrap_or(seed.release_timeout);
    let name = options.name.clone();
    let span = tracing::debug_span!(
        parent: &seed.span,
        "scope",
        scope.name = %name,
        scope.id = %seed.id,
    );
    let resources = ReleaseStack::new(
        Owner {
            scope: name.clone(),
            scope_id: seed.id,
            task: None,
        },
        Arc::clone(&seed.group),
        Arc::clone(&seed.hub),
        release_timeout,
    );
    let shared = Arc::new(ScopeShared::new(
        seed.id,
        name.clone(),
        seed.hub,
        seed.cancel,
        deadline,
        own_deadline,
        release_timeout,
        resources,
        seed.group,
        span,
        seed.parent,
        seed.parent_id,
        options.limit,
        options.failure_policy,
    ));

    // No ractor name: user names are labels and may repeat, ractor's names are global.
    let args = Arc::clone(&shared);
    let spawned = match seed.supervisor {
        Some(supervisor) => Actor::spawn_linked(None, ScopeActor, args, supervisor).await,
        None => Actor::spawn(None, ScopeActor, args).await,
    };
    match spawned {
        Ok((actor, _join)) => Ok(Scope::new(ScopeRef { shared, actor })),
        Err(error) => Err(ScopeError::Spawn {
            scope: name,
            reason: error.to_string(),
        }),
    }
}

/// The task that opens a child scope: its actor, its id in the live-actor registry and its
/// effective deadline.
pub(crate) struct Opener {
    pub(crate) actor: ActorCell,
    pub(crate) id: u64,
    pub(crate) deadline: Option<Instant>,
}

/// Starts a child scope of `parent`, linked under the task actor that opens it. The scope
/// shows under that task in the tree, and its deadline is at most the task's effective
/// deadline, which already includes the task's own timeout and `parent`'s deadline.
pub(crate) async fn start_child(
    parent: &ScopeRef,
    options: ScopeOptions,
    opener: Opener,
) -> Result<Scope, ScopeError> {
    let shared = parent.shared();
    let id = ScopeId::next();
    let parent_deadline = match (shared.deadline, opener.deadline) {
        (Some(scope), Some(task)) => Some(scope.min(task)),
        (scope, task) => scope.or(task),
    };
    let seed = Seed {
        id,
        hub: Arc::clone(&shared.hub),
        cancel: CancelNode::child(&shared.cancel, Inherit::Wrapped),
        parent_deadline,
        release_timeout: shared.release_timeout,
        group: ReleaseGroup::child(&shared.tasks),
        span: shared.span.clone(),
        parent: ParentKind::Task,
        parent_id: Some(opener.id),
        supervisor: Some(opener.actor),
    };
    start(options, seed).await
}

/// Starts a scope with no manager, optionally linked under a user's actor.
pub(crate) async fn start_standalone(
    options: ScopeOptions,
    supervisor: Option<ActorCell>,
) -> Result<Scope, ScopeError> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Err(ScopeError::NoRuntime);
    };
    let id = ScopeId::next();
    let span = tracing::info_span!("standalone", scope.id = %id);
    let hub = Hub::new(id.as_u64(), STANDALONE_ERROR_BUFFER, span.clone(), runtime);
    let group = ReleaseGroup::child(&hub.resources);
    let parent = match &supervisor {
        Some(cell) => ParentKind::User(cell.clone()),
        None => ParentKind::None,
    };
    let seed = Seed {
        id,
        hub,
        cancel: CancelNode::root(),
        parent_deadline: None,
        release_timeout: DEFAULT_RELEASE_TIMEOUT,
        group,
        span,
        parent,
        parent_id: None,
        supervisor,
    };
    start(options, seed).await
}
