//! Live heap over many tasks run in batches. A counting global allocator, this test binary's
//! own, measures the bytes allocated and not yet freed. The count must not grow once the first
//! batches have warmed up the library's, ractor's and tokio's structures.
//!
//! `million_tasks_leave_heap_flat` is ignored by default; run it with
//! `cargo test --release --test heap -- --ignored --nocapture`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use ractor_scope::{release_fn, BoxError, Context, Manager, ManagerConfig, Task};

/// Bytes allocated and not yet freed, by anything in this process.
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting live bytes.
struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only adds
// and subtracts sizes in an atomic counter, which allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from this allocator, so from `System`, with `layout`.
        unsafe { System.dealloc(pointer, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller upholds `realloc`'s contract.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            let change = new_size as isize - layout.size() as isize;
            LIVE_BYTES.fetch_add(change, Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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

        let live = LIVE_BYTES.load(Ordering::Relaxed);
        if round + 1 == WARM_UP_BATCHES {
            baseline = live;
        } else if round >= WARM_UP_BATCHES {
            largest = largest.max(live);
        }
    }
    let end = LIVE_BYTES.load(Ordering::Relaxed);
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
