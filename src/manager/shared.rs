use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ractor::{ActorCell, ActorId, ActorRef};
use std::collections::HashMap;
use tokio::sync::watch;

use super::actor::ManagerMsg;
use super::{ManagerConfig, ManagerError};
use crate::cancel::CancelNode;
use crate::observe::Hub;
use crate::resource::{Owner, ReleaseStack};
use crate::util::lock;
use crate::{ManagerId, ScopeId, ScopeRef};

/// State of one manager shared by its actor, its handles and its shutdown task.
pub(crate) struct ManagerShared {
    pub(crate) id: ManagerId,
    pub(crate) config: ManagerConfig,
    pub(crate) hub: Arc<Hub>,
    pub(crate) cancel: Arc<CancelNode>,
    /// Live top-level scopes, in creation order (ids grow).
    pub(crate) scopes: Mutex<Scopes>,
    /// Set once shutdown begins; no scope opens after that.
    pub(crate) closing: AtomicBool,
    pub(crate) actor: OnceLock<ActorRef<ManagerMsg>>,
    pub(crate) supervisor: Option<ActorCell>,
    /// The failure that made the manager shut down, with escalation on.
    pub(crate) escalated: Mutex<Option<ManagerError>>,
    pub(crate) outcome: watch::Sender<Option<Result<(), ManagerError>>>,
    /// Resources registered with the manager, released after every scope.
    pub(crate) resources: Arc<ReleaseStack>,
    /// Supervised scopes, in creation order; stopped newest first, before the scopes.
    pub(crate) supervisors: Mutex<Vec<crate::supervisor::StopHandle>>,
}

impl ManagerShared {
    pub(crate) fn new(
        id: ManagerId,
        config: ManagerConfig,
        hub: Arc<Hub>,
        supervisor: Option<ActorCell>,
    ) -> Self {
        let resources = ReleaseStack::new(
            Owner {
                scope: config.name.clone(),
                scope_id: ScopeId::next(),
                task: None,
            },
            // A group of its own: the tree's group counts the scopes' resources, which shutdown
            // waits for before it releases these.
            crate::resource::ReleaseGroup::root(),
            Arc::clone(&hub),
            config.release_timeout,
        );
        ManagerShared {
            resources,
            supervisors: Mutex::new(Vec::new()),
            id,
            config,
            hub,
            cancel: CancelNode::root(),
            scopes: Mutex::new(Scopes::default()),
            closing: AtomicBool::new(false),
            actor: OnceLock::new(),
            supervisor,
            escalated: Mutex::new(None),
            outcome: watch::Sender::new(None),
        }
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Marks shutdown as begun. Returns `false` when it already had.
    pub(crate) fn begin_closing(&self) -> bool {
        !self.closing.swap(true, Ordering::SeqCst)
    }

    /// Forgets a top-level scope whose actor exited.
    pub(crate) fn forget_scope(&self, actor: &ActorCell) {
        lock(&self.scopes).remove_actor(actor.get_id());
    }

    /// Makes the shutdown outcome final, keeping the first one.
    pub(crate) fn set_outcome(&self, outcome: Result<(), ManagerError>) {
        self.outcome.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(outcome);
            true
        });
    }
}

/// The live top-level scopes of a manager, by id (creation order) and by actor.
#[derive(Default)]
pub(crate) struct Scopes {
    by_id: BTreeMap<ScopeId, ScopeRef>,
    by_actor: HashMap<ActorId, ScopeId>,
}

impl Scopes {
    pub(crate) fn insert(&mut self, scope: ScopeRef) {
        self.by_actor.insert(scope.actor.get_id(), scope.id());
        self.by_id.insert(scope.id(), scope);
    }

    pub(crate) fn remove(&mut self, id: ScopeId) {
        if let Some(scope) = self.by_id.remove(&id) {
            self.by_actor.remove(&scope.actor.get_id());
        }
    }

    pub(crate) fn remove_actor(&mut self, actor: ActorId) {
        if let Some(id) = self.by_actor.remove(&actor) {
            self.by_id.remove(&id);
        }
    }

    /// Every live scope, newest first.
    pub(crate) fn all(&self) -> Vec<ScopeRef> {
        self.by_id.values().rev().cloned().collect()
    }

    /// The most recently created live scope.
    pub(crate) fn newest(&self) -> Option<ScopeRef> {
        self.by_id.values().next_back().cloned()
    }

    pub(crate) fn clear(&mut self) {
        self.by_id.clear();
        self.by_actor.clear();
    }
}
