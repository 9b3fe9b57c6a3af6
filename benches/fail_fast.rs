//! Fail-fast latency: the time from one task failing to every sibling terminated, with 1,000
//! and 10,000 siblings parked in an await. Three variants in the same run:
//!
//! - `ractor_scope`: one scope; the siblings wait on a future that never completes, one more
//!   task fails on a signal, and `Scope::wait` returns once every task actor has terminated.
//! - `tokio_token`: a `JoinSet` whose tasks wait on a `CancellationToken`; the driver cancels
//!   the token when it joins the failed task, then joins the rest.
//! - `bare_ractor`: a parent actor with `spawn_linked` children idle in their mailboxes; one
//!   child fails on a message, and the parent kills every other child and counts their
//!   supervision events.
//!
//! Only the time from the signal to the last termination is measured; starting the siblings is
//! not. Run with `cargo bench --bench fail_fast`.
//!
//! To count the instructions of the measured part, run one variant once under callgrind. The
//! two marker functions split its output into the start-up, the measured part and the rest:
//!
//! ```sh
//! cargo bench --bench fail_fast --no-run
//! B=$(ls -t target/release/deps/fail_fast-* | grep -v '\.d$' | head -1)
//! valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
//!     --dump-before='*measured_part_starts*' --dump-before='*measured_part_ends*' \
//!     "$B" cost ractor_scope 10000     # or tokio_token, bare_ractor
//! grep summary callgrind.out.*.2       # the measured part
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::Parked;
use criterion::{criterion_group, BenchmarkId, Criterion, SamplingMode};
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use ractor_scope::{BoxError, Context, Manager, ManagerConfig, Task};
use tokio::sync::{oneshot, Notify};
use tokio_util::sync::CancellationToken;

async fn scope(manager: &Manager, siblings: usize) -> Duration {
    let scope = manager.scope("fail_fast").await.expect("scope opens");
    let parked = Parked::new(siblings + 1);
    for _ in 0..siblings {
        let parked = parked.clone();
        scope
            .spawn(Task::new("sibling", move |_ctx: Context| async move {
                parked.arrive();
                std::future::pending::<()>().await;
                Ok::<(), BoxError>(())
            }))
            .expect("sibling spawns");
    }
    let trigger = Arc::new(Notify::new());
    let signal = Arc::clone(&trigger);
    let failing_parked = parked.clone();
    scope
        .spawn(Task::new("failing", move |_ctx: Context| async move {
            failing_parked.arrive();
            signal.notified().await;
            Err::<(), BoxError>("failed on purpose".into())
        }))
        .expect("failing task spawns");
    parked.wait_all().await;

    measured_part_starts();
    let start = Instant::now();
    trigger.notify_one();
    let result = scope.wait().await;
    let elapsed = start.elapsed();
    measured_part_ends();
    assert!(result.is_err(), "the scope reports the failure");
    elapsed
}

async fn tokio_token(siblings: usize) -> Duration {
    let token = CancellationToken::new();
    let parked = Parked::new(siblings + 1);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..siblings {
        let token = token.clone();
        let parked = parked.clone();
        set.spawn(async move {
            parked.arrive();
            token.cancelled().await;
            Ok::<(), ()>(())
        });
    }
    let trigger = Arc::new(Notify::new());
    let signal = Arc::clone(&trigger);
    let failing_parked = parked.clone();
    set.spawn(async move {
        failing_parked.arrive();
        signal.notified().await;
        Err::<(), ()>(())
    });
    parked.wait_all().await;

    measured_part_starts();
    let start = Instant::now();
    trigger.notify_one();
    let mut failed = false;
    while let Some(joined) = set.join_next().await {
        if joined.expect("no task panics").is_err() {
            failed = true;
            token.cancel();
        }
    }
    let elapsed = start.elapsed();
    measured_part_ends();
    assert!(failed, "the failing task was joined");
    elapsed
}

/// A child that idles in its mailbox; any message makes it fail.
struct Child {
    parked: Parked,
}

impl Actor for Child {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn post_start(&self, _: ActorRef<()>, _: &mut ()) -> Result<(), ActorProcessingErr> {
        self.parked.arrive();
        Ok(())
    }

    async fn handle(&self, _: ActorRef<()>, _: (), _: &mut ()) -> Result<(), ActorProcessingErr> {
        Err("failed on purpose".into())
    }
}

/// A parent that starts its children, then on the first failure kills the others and reports
/// once every child has terminated.
struct Parent;

struct ParentArgs {
    children: usize,
    parked: Parked,
    done: oneshot::Sender<()>,
}

struct ParentState {
    children: Vec<ActorCell>,
    remaining: usize,
    done: Option<oneshot::Sender<()>>,
}

#[derive(Debug)]
enum ParentMsg {}

#[cfg(feature = "cluster")]
impl ractor::Message for ParentMsg {}

impl Actor for Parent {
    type Msg = ParentMsg;
    type State = ParentState;
    type Arguments = ParentArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ParentMsg>,
        args: ParentArgs,
    ) -> Result<ParentState, ActorProcessingErr> {
        let mut children = Vec::with_capacity(args.children);
        for _ in 0..args.children {
            let child = Child {
                parked: args.parked.clone(),
            };
            let (actor, _) = Actor::spawn_linked(None, child, (), myself.get_cell()).await?;
            children.push(actor.get_cell());
        }
        Ok(ParentState {
            remaining: children.len(),
            children,
            done: Some(args.done),
        })
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<ParentMsg>,
        event: SupervisionEvent,
        state: &mut ParentState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(failed, _) => {
                for child in &state.children {
                    if child.get_id() != failed.get_id() {
                        child.kill();
                    }
                }
            }
            SupervisionEvent::ActorTerminated(..) => {}
            _ => return Ok(()),
        }
        state.remaining -= 1;
        if state.remaining == 0 {
            if let Some(done) = state.done.take() {
                let _ = done.send(());
            }
            myself.stop(None);
        }
        Ok(())
    }
}

async fn bare_ractor(siblings: usize) -> Duration {
    let parked = Parked::new(siblings + 1);
    let (done, all_terminated) = oneshot::channel();
    let args = ParentArgs {
        children: siblings + 1,
        parked: parked.clone(),
        done,
    };
    let (parent, handle) = Actor::spawn(None, Parent, args)
        .await
        .expect("parent starts");
    let failing = parent
        .get_children()
        .into_iter()
        .next()
        .expect("the parent has children");
    parked.wait_all().await;

    measured_part_starts();
    let start = Instant::now();
    failing
        .send_message(())
        .expect("the failing child takes the message");
    all_terminated.await.expect("every child terminates");
    let elapsed = start.elapsed();
    measured_part_ends();
    handle.await.expect("parent stops");
    elapsed
}

/// Marks where the measured part starts, for `--dump-before` in callgrind.
#[inline(never)]
fn measured_part_starts() {
    black_box("the measured part starts");
}

/// Marks where the measured part ends; its body differs from the start marker's, so that the
/// linker does not merge the two functions.
#[inline(never)]
fn measured_part_ends() {
    black_box(0x5eed_u32);
}

fn fail_fast(c: &mut Criterion) {
    // One thread, as in the spawn benchmarks: the measure is the work each variant does.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime builds");
    let manager = runtime
        .block_on(Manager::start(ManagerConfig::new("bench")))
        .expect("manager starts");

    let mut group = c.benchmark_group("fail_fast");
    // Starting 10,000 siblings takes longer than the measured part, so few, flat samples.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(200));
    group.measurement_time(Duration::from_secs(1));
    for siblings in [1_000usize, 10_000] {
        group.bench_with_input(
            BenchmarkId::new("ractor_scope", siblings),
            &siblings,
            |b, &n| {
                b.to_async(&runtime).iter_custom(|iters| {
                    let manager = &manager;
                    async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += scope(manager, n).await;
                        }
                        total
                    }
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("tokio_token", siblings),
            &siblings,
            |b, &n| {
                b.to_async(&runtime).iter_custom(|iters| async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += tokio_token(n).await;
                    }
                    total
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("bare_ractor", siblings),
            &siblings,
            |b, &n| {
                b.to_async(&runtime).iter_custom(|iters| async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += bare_ractor(n).await;
                    }
                    total
                });
            },
        );
    }
    group.finish();
    runtime
        .block_on(manager.shutdown())
        .expect("manager shuts down");
}

/// Runs one variant once (`cost <variant> <siblings>`), for callgrind.
fn cost(variant: &str, siblings: usize) {
    if !["ractor_scope", "tokio_token", "bare_ractor"].contains(&variant) {
        eprintln!("unknown variant '{variant}': use ractor_scope, tokio_token or bare_ractor");
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime builds");
    let elapsed = runtime.block_on(async {
        let manager = Manager::start(ManagerConfig::new("cost"))
            .await
            .expect("manager starts");
        let elapsed = match variant {
            "ractor_scope" => scope(&manager, siblings).await,
            "tokio_token" => tokio_token(siblings).await,
            _ => bare_ractor(siblings).await,
        };
        manager.shutdown().await.expect("manager shuts down");
        elapsed
    });
    println!("{variant}, {siblings} siblings: {elapsed:?}");
}

criterion_group!(benches, fail_fast);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, variant, siblings] = args.as_slice() {
        if mode == "cost" {
            match siblings.parse() {
                Ok(siblings) => cost(variant, siblings),
                Err(_) => eprintln!("siblings must be a number, not '{siblings}'"),
            }
            return;
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
