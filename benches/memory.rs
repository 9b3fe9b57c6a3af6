//! Memory and scale, measured with a counting global allocator.
//!
//! - Idle tasks: 10,000 tasks alive, each parked on a `Notify`, in one ractor-scope scope,
//!   as bare ractor actors (children of one parent, parked in `post_start`) and as tokio tasks
//!   in a `JoinSet`. Reported as live heap bytes per task: the heap while they are parked minus
//!   the heap before they were spawned, divided by the count.
//! - Allocations per task: heap allocations made while spawning and joining 10,000 trivial
//!   tasks, divided by the count.
//! - Scale: 100,000 trivial tasks in one scope (and, for comparison, under one bare ractor
//!   parent and in one `JoinSet`): wall time per task and peak live heap. Then 1,000,000 tasks
//!   through one manager, in 100 scopes of 10,000 run one after the other: the live heap after
//!   the first 100,000 and after the whole run.
//!
//! The allocator counts the bytes requested from `System`, not the allocator's own overhead.
//! Everything runs on one current-thread runtime. Results are printed and written to
//! `target/bench-results/memory.csv` for `scripts/bench_chart.py`.
//!
//! Run with `cargo bench --bench memory`.

use std::fmt::Write as _;
use std::time::Instant;

mod common;

use common::Parked;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use ractor_scope::{BoxError, Context, Manager, ManagerConfig, Task};
use tokio::sync::oneshot;

#[path = "../tests/alloc/counting.rs"]
mod counting;

use counting::{allocations, live, peak, reset_peak};

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

const IDLE_TASKS: usize = 10_000;
const SCALE_TASKS: usize = 100_000;
const BATCH: usize = 10_000;
const BATCHES: usize = 100;

/// Live heap bytes per parked task, for 10,000 tasks in one scope.
async fn idle_scope(manager: &Manager) -> f64 {
    let before = live();
    let scope = manager.scope("idle").await.expect("scope opens");
    let parked = Parked::new(IDLE_TASKS);
    for _ in 0..IDLE_TASKS {
        let parked = parked.clone();
        // The handle is dropped: the measure is what the library keeps per task.
        let _ = scope
            .spawn(Task::new("idle", move |_ctx: Context| async move {
                parked.park().await;
                Ok::<(), BoxError>(())
            }))
            .expect("task spawns");
    }
    parked.wait_all().await;
    let during = live();
    parked.release_all();
    scope.wait().await.expect("scope succeeds");
    per_task(before, during, IDLE_TASKS)
}

/// A child parked in `post_start` until released, then stopping itself.
struct IdleChild {
    parked: Parked,
}

impl Actor for IdleChild {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn post_start(&self, myself: ActorRef<()>, _: &mut ()) -> Result<(), ActorProcessingErr> {
        self.parked.park().await;
        myself.stop(None);
        Ok(())
    }
}

/// A parent that starts its children and reports once all of them have terminated.
struct IdleParent;

struct IdleParentState {
    remaining: usize,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for IdleParent {
    type Msg = ();
    type State = IdleParentState;
    type Arguments = (usize, Parked, oneshot::Sender<()>);

    async fn pre_start(
        &self,
        myself: ActorRef<()>,
        (children, parked, done): Self::Arguments,
    ) -> Result<IdleParentState, ActorProcessingErr> {
        for _ in 0..children {
            let child = IdleChild {
                parked: parked.clone(),
            };
            Actor::spawn_linked(None, child, (), myself.get_cell()).await?;
        }
        Ok(IdleParentState {
            remaining: children,
            done: Some(done),
        })
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<()>,
        event: SupervisionEvent,
        state: &mut IdleParentState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorTerminated(..) | SupervisionEvent::ActorFailed(..) = event {
            state.remaining -= 1;
            if state.remaining == 0 {
                if let Some(done) = state.done.take() {
                    let _ = done.send(());
                }
                myself.stop(None);
            }
        }
        Ok(())
    }
}

/// Live heap bytes per parked bare ractor actor, for 10,000 children of one parent.
async fn idle_bare() -> f64 {
    let before = live();
    let parked = Parked::new(IDLE_TASKS);
    let (done, all_done) = oneshot::channel();
    let (_parent, handle) = Actor::spawn(None, IdleParent, (IDLE_TASKS, parked.clone(), done))
        .await
        .expect("parent starts");
    parked.wait_all().await;
    let during = live();
    parked.release_all();
    all_done.await.expect("children terminate");
    handle.await.expect("parent stops");
    per_task(before, during, IDLE_TASKS)
}

/// Live heap bytes per parked tokio task in a `JoinSet`.
async fn idle_tokio() -> f64 {
    let before = live();
    let parked = Parked::new(IDLE_TASKS);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..IDLE_TASKS {
        let parked = parked.clone();
        set.spawn(async move { parked.park().await });
    }
    parked.wait_all().await;
    let during = live();
    parked.release_all();
    while set.join_next().await.is_some() {}
    per_task(before, during, IDLE_TASKS)
}

fn per_task(before: usize, during: usize, tasks: usize) -> f64 {
    during.saturating_sub(before) as f64 / tasks as f64
}

/// Heap allocations per task while spawning and joining `count` trivial tasks with `run`.
async fn allocations_per_task<F, Fut>(count: usize, run: F) -> f64
where
    F: FnOnce(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let before = allocations();
    run(count).await;
    (allocations() - before) as f64 / count as f64
}

/// Wall time per task and peak live heap above the start, for `count` trivial tasks.
async fn scale<F, Fut>(count: usize, run: F) -> (f64, usize)
where
    F: FnOnce(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let before = live();
    reset_peak();
    let start = Instant::now();
    run(count).await;
    let nanos = start.elapsed().as_nanos() as f64 / count as f64;
    (nanos, peak() - before)
}

struct Report {
    csv: String,
}

impl Report {
    fn row(&mut self, measure: &str, variant: &str, n: usize, value: f64, unit: &str) {
        // Ratios get three decimals, so a ratio near a target shows which side it is on.
        let decimals = if unit == "x" { 3 } else { 1 };
        println!("{measure:<24} {variant:<14} n={n:<9} {value:>14.decimals$} {unit}");
        let _ = writeln!(
            self.csv,
            "{measure},{variant},{n},{value:.decimals$},{unit}"
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that names nothing here skips the run.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    if filter.as_deref().is_some_and(|f| !"memory".contains(f)) {
        return;
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime builds");
    let mut report = Report {
        csv: String::from("measure,variant,n,value,unit\n"),
    };
    runtime.block_on(async {
        let manager = Manager::start(ManagerConfig::new("memory"))
            .await
            .expect("manager starts");
        // One warm-up round of each, so lazily made global state is not counted.
        idle_scope(&manager).await;
        idle_bare().await;
        idle_tokio().await;

        let scope = idle_scope(&manager).await;
        let bare = idle_bare().await;
        let tokio = idle_tokio().await;
        report.row(
            "idle_bytes_per_task",
            "ractor_scope",
            IDLE_TASKS,
            scope,
            "B",
        );
        report.row("idle_bytes_per_task", "bare_ractor", IDLE_TASKS, bare, "B");
        report.row("idle_bytes_per_task", "tokio", IDLE_TASKS, tokio, "B");
        report.row(
            "idle_ratio_to_bare",
            "ractor_scope",
            IDLE_TASKS,
            scope / bare,
            "x",
        );

        let n = IDLE_TASKS;
        let scope = allocations_per_task(n, |n| common::scope(&manager, n)).await;
        let bare = allocations_per_task(n, common::bare_ractor).await;
        let tokio = allocations_per_task(n, common::join_set).await;
        report.row(
            "allocations_per_task",
            "ractor_scope",
            n,
            scope,
            "allocations",
        );
        report.row(
            "allocations_per_task",
            "bare_ractor",
            n,
            bare,
            "allocations",
        );
        report.row("allocations_per_task", "tokio", n, tokio, "allocations");

        let n = SCALE_TASKS;
        let (scope_ns, scope_peak) = scale(n, |n| common::scope(&manager, n)).await;
        let (bare_ns, bare_peak) = scale(n, common::bare_ractor).await;
        let (tokio_ns, tokio_peak) = scale(n, common::join_set).await;
        report.row("scale_ns_per_task", "ractor_scope", n, scope_ns, "ns");
        report.row("scale_ns_per_task", "bare_ractor", n, bare_ns, "ns");
        report.row("scale_ns_per_task", "tokio", n, tokio_ns, "ns");
        report.row("scale_peak_heap", "ractor_scope", n, scope_peak as f64, "B");
        report.row("scale_peak_heap", "bare_ractor", n, bare_peak as f64, "B");
        report.row("scale_peak_heap", "tokio", n, tokio_peak as f64, "B");

        // A million tasks in batches through one manager: the heap after the run should be
        // where it was after the first 100,000.
        let before = live();
        let start = Instant::now();
        let mut after_first = 0;
        for batch in 1..=BATCHES {
            common::scope(&manager, BATCH).await;
            if batch * BATCH == SCALE_TASKS {
                after_first = live();
            }
        }
        let total = BATCH * BATCHES;
        let nanos = start.elapsed().as_nanos() as f64 / total as f64;
        let after_all = live();
        report.row("million_ns_per_task", "ractor_scope", total, nanos, "ns");
        report.row(
            "million_heap_before",
            "ractor_scope",
            total,
            before as f64,
            "B",
        );
        report.row(
            "million_heap_100k",
            "ractor_scope",
            total,
            after_first as f64,
            "B",
        );
        report.row(
            "million_heap_1m",
            "ractor_scope",
            total,
            after_all as f64,
            "B",
        );
        report.row(
            "million_heap_ratio",
            "ractor_scope",
            total,
            after_all as f64 / after_first as f64,
            "x",
        );

        manager.shutdown().await.expect("manager shuts down");
    });

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results");
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("memory.csv"), &report.csv));
    if let Err(error) = written {
        eprintln!("could not write {}: {error}", dir.display());
    }
}
