//! Heap use of many short tasks, measured with a counting allocator. This file contains a single
//! test, because the allocator counts every thread of the test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ractor_scope::{BoxError, Context, Manager, ManagerConfig, Task};

/// Wraps the system allocator and counts live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is met as it is for `System`. The counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grow(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as received.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grow(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

async fn run_scope(manager: &Manager, tasks: usize) {
    let scope = manager.scope("short").await.unwrap();
    for _ in 0..tasks {
        let _ = scope
            .spawn(Task::new("short", |_ctx: Context| async {
                Ok::<(), BoxError>(())
            }))
            .unwrap();
    }
    scope.wait().await.unwrap();
}

#[tokio::test]
async fn short_tasks_keep_heap_bounded() {
    let manager = Manager::start(ManagerConfig::new("memory")).await.unwrap();
    // Warm up, so lazily made global state is not counted.
    run_scope(&manager, 2_000).await;

    // A burst of short tasks in one scope. The scope starts them in batches and reads the
    // supervision events of ended tasks in between, so ended task actors do not pile up in
    // its mailbox, each holding its final state (several kilobytes).
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    run_scope(&manager, 20_000).await;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert!(peak < 40 << 20, "peak heap {peak} bytes for 20,000 tasks");

    // Scopes run one after the other leave nothing behind.
    let after_first = LIVE.load(Ordering::Relaxed);
    for _ in 0..10 {
        run_scope(&manager, 2_000).await;
    }
    let after_all = LIVE.load(Ordering::Relaxed);
    let grown = after_all.saturating_sub(after_first);
    assert!(
        grown < 64 << 10,
        "heap grew by {grown} bytes over 10 scopes"
    );

    manager.shutdown().await.unwrap();
}
