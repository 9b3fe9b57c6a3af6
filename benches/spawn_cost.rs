//! Spawns and joins tasks in a loop, one variant per run, so that a tool that counts work (for
//! example `valgrind --tool=callgrind`, which counts instructions) can compare a ractor-scope
//! scope with a bare ractor parent and a tokio `JoinSet` without timing noise.
//!
//! ```sh
//! cargo bench --bench spawn_cost --no-run
//! valgrind --tool=callgrind target/release/deps/spawn_cost-<hash> scope 100 200
//! valgrind --tool=callgrind target/release/deps/spawn_cost-<hash> bare 100 200
//! ```
//!
//! Arguments: variant (`scope`, `bare`, `joinset` or `none`), tasks per round, rounds. Under
//! `cargo bench` (no variant given) it runs each variant once and prints the wall time.

use std::time::Instant;

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

async fn run(manager: &Manager, variant: &str, count: usize, rounds: usize) {
    for _ in 0..rounds {
        match variant {
            "scope" => scope(manager, count).await,
            "bare" => bare_ractor(count).await,
            "joinset" => join_set(count).await,
            _ => {}
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime builds");
    runtime.block_on(async {
        let manager = Manager::start(ManagerConfig::new("cost"))
            .await
            .expect("manager starts");
        match args.first().map(String::as_str) {
            Some(variant @ ("scope" | "bare" | "joinset" | "none")) => {
                let count = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
                let rounds = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
                run(&manager, variant, count, rounds).await;
            }
            _ => {
                for variant in ["scope", "bare", "joinset"] {
                    let start = Instant::now();
                    run(&manager, variant, 100, 200).await;
                    println!(
                        "{variant}: 200 rounds of 100 tasks in {:?}",
                        start.elapsed()
                    );
                }
            }
        }
        manager.shutdown().await.expect("manager shuts down");
    });
}
