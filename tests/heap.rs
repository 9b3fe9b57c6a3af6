//! Live heap over many tasks run in batches. A counting global allocator
//! (`alloc/counting.rs`) measures the bytes allocated and not yet freed. The count must not
//! grow once the first batches have warmed up the library's, ractor's and tokio's structures.
//!
//! `million_tasks_leave_heap_flat` is ignored by default; run it with
//! `cargo test --release --test heap -- --ignored --nocapture`.

use ractor_scope::{release_fn, BoxError, Context, Manager, ManagerConfig, Task};

#[path = "alloc/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// The tests of this binary measure one process-wide counter, so they run one at a time.
static MEASURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Batches run before the baseline is taken.
const WARM_UP_BATCHES: usize = 5;

/// Runs `batches` scopes of `batch` tasks one after another on one manager and returns the
/// live bytes after the warm-up and at the end, and the largest value seen after a batch.
async fn live_bytes_over_batches(batches: usize, batch: usize) -> (isize, isize, isize) {
    let manager = Manager::start(ManagerConfig::new("heap")).await.unwrap();
    let mut baseline = 0;
    let mut largest = isize::MIN;
    for round in 0..WARM_UP_BATCHES + batches {
        let scope = manager.scope("batch").await.unwrap();
        for index in 0..batch {
            scope
                .spawn(Task::new("task", move |ctx: Context| async move {
                    ctx.register(release_fn("buffer", || async { Ok::<_, BoxError>(()) }))?;
                    tokio::task::yield_now().await;
                    Ok::<_, BoxError>(index)
                }))
                .unwrap();
        }
        scope.wait().await.unwrap();

        let live = counting::live() as isize;
        if round + 1 == WARM_UP_BATCHES {
            baseline = live;
        } else if round >= WARM_UP_BATCHES {
            largest = largest.max(live);
        }
    }
    let end = counting::live() as isize;
    let stats = manager.stats();
    assert_eq!(
        stats.tasks_completed,
        ((WARM_UP_BATCHES + batches) * batch) as u64
    );
    assert_eq!(stats.resources_released, stats.resources_registered);
    manager.shutdown().await.unwrap();
    (baseline, end, largest)
}

/// Checks that the live heap after `batches` batches is within `slack` bytes of the baseline.
async fn heap_stays_flat(batches: usize, batch: usize, slack: isize) {
    let _measuring = MEASURING.lock().await;
    let (baseline, end, largest) = live_bytes_over_batches(batches, batch).await;
    println!(
        "{} tasks: live heap {baseline} B after warm-up, {end} B at the end, \
         at most {largest} B after a batch",
        batches * batch
    );
    assert!(end - baseline <= slack, "grew {} B", end - baseline);
    assert!(
        largest - baseline <= slack,
        "grew to {} B",
        largest - baseline
    );
}

#[tokio::test(start_paused = true)]
async fn heap_stays_flat_over_batches() {
    heap_stays_flat(20, 1_000, 64 * 1024).await;
}

#[tokio::test(start_paused = true)]
#[ignore = "long: a million tasks; run with --release -- --ignored"]
async fn million_tasks_leave_heap_flat() {
    heap_stays_flat(1_000, 1_000, 64 * 1024).await;
}
