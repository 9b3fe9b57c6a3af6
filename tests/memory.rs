//! Heap use of many short tasks, measured with a counting allocator. This file contains a single
//! test, because the allocator counts every thread of the test binary.

use ractor_scope::{BoxError, Context, Manager, ManagerConfig, Task};

#[path = "alloc/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

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
    let before = counting::live();
    counting::reset_peak();
    run_scope(&manager, 20_000).await;
    let peak = counting::peak() - before;
    assert!(peak < 40 << 20, "peak heap {peak} bytes for 20,000 tasks");

    // Scopes run one after the other leave nothing behind.
    let after_first = counting::live();
    for _ in 0..10 {
        run_scope(&manager, 2_000).await;
    }
    let after_all = counting::live();
    let grown = after_all.saturating_sub(after_first);
    assert!(
        grown < 64 << 10,
        "heap grew by {grown} bytes over 10 scopes"
    );

    manager.shutdown().await.unwrap();
}
