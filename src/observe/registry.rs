use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};

use dashmap::DashMap;
use ractor::{ActorCell, ActorStatus};
use tokio::time::Instant;

use crate::task::TaskSlot;
use crate::util::IdHash;
use crate::{Name, TaskState};

/// Kind of a library actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ActorKind {
    /// A manager, the root of a tree.
    Manager,
    /// A scope.
    Scope,
    /// A task.
    Task,
    /// A supervised scope.
    Supervisor,
    /// A child of a supervised scope.
    Child,
}

impl std::fmt::Display for ActorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ActorKind::Manager => "manager",
            ActorKind::Scope => "scope",
            ActorKind::Task => "task",
            ActorKind::Supervisor => "supervisor",
            ActorKind::Child => "child",
        })
    }
}

/// A live entry, owned by the registry.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) kind: ActorKind,
    pub(crate) name: Name,
    pub(crate) parent: Option<u64>,
    pub(crate) root: u64,
    pub(crate) cell: ActorCell,
    pub(crate) started: Instant,
    pub(crate) task: Option<Arc<dyn TaskSlot>>,
}

/// Every manager, scope and task actor of the library that is alive, keyed by the library's id.
/// ractor itself cannot list actors.
static LIVE: LazyLock<DashMap<u64, Entry, IdHash>> =
    LazyLock::new(|| DashMap::with_hasher(IdHash::default()));

/// Registers an actor and returns a guard that removes it when dropped.
pub(crate) fn register(id: u64, entry: Entry) -> Registration {
    LIVE.insert(id, entry);
    Registration {
        id,
        removed: std::sync::atomic::AtomicBool::new(false),
    }
}

/// Removes its actor from the registry when dropped, on every exit path of the actor.
#[derive(Debug)]
pub(crate) struct Registration {
    id: u64,
    removed: std::sync::atomic::AtomicBool,
}

impl Registration {
    /// Removes the actor now, when it has finished its work and is about to stop. ractor may
    /// drop the actor's state (and with it this guard) later, inside a supervision event its
    /// parent has not read yet.
    pub(crate) fn remove(&self) {
        if !self.removed.swap(true, Ordering::SeqCst) {
            LIVE.remove(&self.id);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A snapshot of one live library actor.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LiveActor {
    /// Manager, scope or task.
    pub kind: ActorKind,
    /// The library's id of the actor (a manager, scope or task id as a number).
    pub id: u64,
    /// The user's label.
    pub name: Name,
    /// Id of the parent in the library's tree, if any.
    pub parent: Option<u64>,
    /// Id of the tree's root: a manager, or a scope started without one.
    pub root: u64,
    /// How long the actor has existed.
    pub age: std::time::Duration,
    /// State of the task, for task actors.
    pub task_state: Option<TaskState>,
    /// The ractor actor, to check its status or link to it.
    pub cell: ActorCell,
}

impl LiveActor {
    /// Status of the ractor actor at this moment.
    pub fn status(&self) -> ActorStatus {
        self.cell.get_status()
    }
}

/// Returns a snapshot of every live library actor in this process, in no particular order.
///
/// An actor appears from the start of its `pre_start` until it has finished its work and is
/// about to stop (or, when it is killed, until ractor drops its state). Use
/// [`LiveActor::status`] for ractor's own view.
pub fn live_actors() -> Vec<LiveActor> {
    live_actors_where(|_| true)
}

pub(crate) fn live_actors_where(filter: impl Fn(&LiveActor) -> bool) -> Vec<LiveActor> {
    let now = Instant::now();
    LIVE.iter()
        .map(|item| {
            let entry = item.value();
            LiveActor {
                kind: entry.kind,
                id: *item.key(),
                name: entry.name.clone(),
                parent: entry.parent,
                root: entry.root,
                age: now.saturating_duration_since(entry.started),
                task_state: entry.task.as_ref().map(|task| task.state()),
                cell: entry.cell.clone(),
            }
        })
        .filter(|actor| filter(actor))
        .collect()
}

/// Returns the live actors whose tree root is `root`.
pub(crate) fn live_under_root(root: u64) -> Vec<LiveActor> {
    live_actors_where(|actor| actor.root == root)
}
