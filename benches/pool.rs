//! Pool throughput: 64 tasks share 10 items, each task acquiring an item, yielding once before
//! releasing it, in a loop. A ractor-scope `ResourcePool` against a managed
//! `deadpool` pool, with the same item type (a counter, no I/O) on the same runtime, in the same
//! run. The yield keeps items busy, so most acquires wait for a release, as under load.
//!
//! Reported per acquire and release. Measured on a current-thread runtime and on a
//! two-worker multi-thread runtime.
//!
//! Run with `cargo bench --bench pool`.

use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ractor_scope::ResourcePool;

const ITEMS: usize = 10;
const TASKS: usize = 64;
/// Acquire and release rounds per task in one measured batch.
const ROUNDS: usize = 100;

/// The pooled item: a counter, so the work between acquire and release is trivial.
#[derive(Debug, Default)]
struct Counter {
    uses: u64,
}

struct CounterManager;

impl deadpool::managed::Manager for CounterManager {
    type Type = Counter;
    type Error = Infallible;

    async fn create(&self) -> Result<Counter, Infallible> {
        Ok(Counter::default())
    }

    async fn recycle(
        &self,
        _: &mut Counter,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Infallible> {
        Ok(())
    }
}

type Deadpool = deadpool::managed::Pool<CounterManager>;

/// Runs `TASKS` tasks, each the future `task` returns (`ROUNDS` rounds), `iters` times, and
/// returns the time taken.
async fn batches<F, Fut>(iters: u64, task: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    for _ in 0..iters {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..TASKS {
            set.spawn(task());
        }
        while let Some(joined) = set.join_next().await {
            joined.expect("no task panics");
        }
    }
    start.elapsed()
}

async fn start_ours() -> ResourcePool<Counter> {
    let pool = ResourcePool::builder(ITEMS, || async { Ok::<_, Infallible>(Counter::default()) })
        .name("bench")
        .start()
        .await
        .expect("pool starts");
    // Make every item before measuring.
    let mut held = Vec::new();
    for _ in 0..ITEMS {
        held.push(pool.acquire(()).await.expect("item made"));
    }
    drop(held);
    pool
}

async fn start_deadpool() -> Deadpool {
    let pool = Deadpool::builder(CounterManager)
        .max_size(ITEMS)
        .build()
        .expect("deadpool builds");
    let mut held = Vec::new();
    for _ in 0..ITEMS {
        held.push(pool.get().await.expect("item made"));
    }
    drop(held);
    pool
}

fn pool(c: &mut Criterion) {
    let runtimes = [
        (
            "current_thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime builds"),
        ),
        (
            "two_workers",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime builds"),
        ),
    ];

    let mut group = c.benchmark_group("pool");
    group.throughput(Throughput::Elements((TASKS * ROUNDS) as u64));
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (flavor, runtime) in &runtimes {
        let ours = runtime.block_on(start_ours());
        group.bench_function(BenchmarkId::new("ractor_scope", flavor), |b| {
            b.to_async(runtime).iter_custom(|iters| {
                batches(iters, || {
                    let pool = ours.clone();
                    async move {
                        for _ in 0..ROUNDS {
                            let mut item = pool.acquire(()).await.expect("item acquired");
                            item.uses += 1;
                            tokio::task::yield_now().await;
                        }
                    }
                })
            });
        });
        runtime.block_on(ours.close());

        let theirs = runtime.block_on(start_deadpool());
        group.bench_function(BenchmarkId::new("deadpool", flavor), |b| {
            b.to_async(runtime).iter_custom(|iters| {
                batches(iters, || {
                    let pool = theirs.clone();
                    async move {
                        for _ in 0..ROUNDS {
                            let mut item = pool.get().await.expect("item acquired");
                            item.uses += 1;
                            tokio::task::yield_now().await;
                        }
                    }
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, pool);
criterion_main!(benches);
