//! Spawn and join N trivial tasks: a ractor-scope scope against a bare ractor parent with
//! `spawn_linked` children and a tokio `JoinSet`, in the same run.
//!
//! Run with `cargo bench --bench spawn_join`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use ractor_scope::{BoxError, Context, Manager, ManagerConfig, Task};

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

async fn bare_ractor(count: usize) {
    let (parent, handle) = Actor::spawn(None, Parent, ()).await.expect("parent starts");
    ractor::call!(parent, |reply| Run(count, reply)).expect("children finish");
    handle.await.expect("parent stops");
}

async fn scope(manager: &Manager, count: usize) {
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

async fn join_set(count: usize) {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..count {
        set.spawn(async {});
    }
    while set.join_next().await.is_some() {}
}

fn spawn_join(c: &mut Criterion) {
    // One thread: the measure is the work each variant does, without the run-to-run noise of
    // work stealing between two threads on a two-core machine.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime builds");
    let manager = runtime
        .block_on(Manager::start(ManagerConfig::new("bench")))
        .expect("manager starts");

    let mut group = c.benchmark_group("spawn_join");
    for count in [1usize, 100, 10_000] {
        group.throughput(Throughput::Elements(count as u64));
        if count == 10_000 {
            group.sample_size(10);
        }
        group.bench_with_input(BenchmarkId::new("ractor_scope", count), &count, |b, &n| {
            b.to_async(&runtime).iter(|| scope(&manager, n));
        });
        group.bench_with_input(BenchmarkId::new("bare_ractor", count), &count, |b, &n| {
            b.to_async(&runtime).iter(|| bare_ractor(n));
        });
        group.bench_with_input(BenchmarkId::new("tokio_joinset", count), &count, |b, &n| {
            b.to_async(&runtime).iter(|| join_set(n));
        });
    }
    group.finish();
    runtime
        .block_on(manager.shutdown())
        .expect("manager shuts down");
}

criterion_group!(benches, spawn_join);
criterion_main!(benches);
