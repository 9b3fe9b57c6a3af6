//! Shared by the benchmarks: the spawn variants (a ractor-scope scope, a bare ractor parent with
//! `spawn_linked` children, a tokio `JoinSet`) and a counter of parked tasks.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use ractor_scope::{BoxError, Context, Manager, Task};
use tokio::sync::Notify;

/// A child that does nothing and stops at once.
struct Child;

impl Actor for Child {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn post_start(&self, myself: ActorRef<()>, _: &mut ()) -> Result<(), ActorProcessingErr> {
        myself.stop(None);
        Ok(())
    }
}

/// A parent that spawns N linked children and replies once all have terminated.
struct Parent;

/// Spawn this many children and reply once all have terminated.
struct Run(usize, RpcReplyPort<()>);

#[cfg(feature = "cluster")]
impl ractor::Message for Run {}

struct ParentState {
    remaining: usize,
    reply: Option<RpcReplyPort<()>>,
}

impl Actor for Parent {
    type Msg = Run;
    type State = ParentState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        _: (),
    ) -> Result<ParentState, ActorProcessingErr> {
        Ok(ParentState {
            remaining: 0,
            reply: None,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        Run(count, reply): Self::Msg,
        state: &mut ParentState,
    ) -> Result<(), ActorProcessingErr> {
        state.remaining = count;
        state.reply = Some(reply);
        for _ in 0..count {
            Actor::spawn_linked(None, Child, (), myself.get_cell()).await?;
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut ParentState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorTerminated(..) | SupervisionEvent::ActorFailed(..) = event {
            state.remaining -= 1;
            if state.remaining == 0 {
                if let Some(reply) = state.reply.take() {
                    let _ = reply.send(());
                }
                myself.stop(None);
            }
        }
        Ok(())
    }
}

pub async fn bare_ractor(count: usize) {
    let (parent, handle) = Actor::spawn(None, Parent, ()).await.expect("parent starts");
    ractor::call!(parent, |reply| Run(count, reply)).expect("children finish");
    handle.await.expect("parent stops");
}

pub async fn scope(manager: &Manager, count: usize) {
    let scope = manager.scope("bench").await.expect("scope opens");
    for _ in 0..count {
        scope
            .spawn(Task::new("noop", |_ctx: Context| async {
                Ok::<(), BoxError>(())
            }))
            .expect("task spawns");
    }
    scope.wait().await.expect("scope succeeds");
}

pub async fn join_set(count: usize) {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..count {
        set.spawn(async {});
    }
    while set.join_next().await.is_some() {}
}

/// Counts tasks that reached their await and wakes the driver when all `expected` have.
#[derive(Clone)]
pub struct Parked {
    count: Arc<AtomicUsize>,
    expected: usize,
    all: Arc<Notify>,
    release: Arc<Notify>,
}

impl Parked {
    pub fn new(expected: usize) -> Self {
        Parked {
            count: Arc::new(AtomicUsize::new(0)),
            expected,
            all: Arc::new(Notify::new()),
            release: Arc::new(Notify::new()),
        }
    }

    /// Counts this task in.
    pub fn arrive(&self) {
        if self.count.fetch_add(1, Ordering::SeqCst) + 1 == self.expected {
            // `notify_one` keeps a permit, so the driver cannot miss it.
            self.all.notify_one();
        }
    }

    /// Counts this task in, then waits until the driver releases every task.
    pub async fn park(&self) {
        let released = self.release.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        self.arrive();
        released.await;
    }

    pub async fn wait_all(&self) {
        self.all.notified().await;
    }

    pub fn release_all(&self) {
        self.release.notify_waiters();
    }
}
