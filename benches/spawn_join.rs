//! Spawn and join N trivial tasks: a ractor-scope scope against a bare ractor parent with
//! `spawn_linked` children and a tokio `JoinSet`, in the same run.
//!
//! Run with `cargo bench --bench spawn_join`.

mod common;

use common::{bare_ractor, join_set, scope};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ractor_scope::{Manager, ManagerConfig};

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
    group.warm_up_time(std::time::Duration::from_secs(1));
    group.measurement_time(std::time::Duration::from_secs(3));
    for count in [1usize, 100, 1_000, 10_000] {
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
