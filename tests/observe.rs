//! Statistics, the error stream, the tree and tracing spans.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ractor_scope::{
    ActorKind, BoxError, Context, Manager, ManagerConfig, ReportKind, Task, TaskError,
};

#[tokio::test(start_paused = true)]
async fn stats_balance_after_mixed_run() {
    let manager = Manager::start(ManagerConfig::new("mixed")).await.unwrap();
    let first = manager.scope("mixed-1").await.unwrap();
    first
        .spawn(Task::new("ok", |_ctx: Context| async {
            Ok::<(), BoxError>(())
        }))
        .unwrap();
    first
        .spawn(
            Task::new("slow", |_ctx: Context| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok::<(), BoxError>(())
            })
            .timeout(Duration::from_millis(20)),
        )
        .unwrap();
    first
        .spawn(Task::new("sibling", |_ctx: Context| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<(), BoxError>(())
        }))
        .unwrap();
    let _ = first.wait().await;

    let second = manager.scope("mixed-2").await.unwrap();
    second
        .spawn(Task::new("panics", |_ctx: Context| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if true {
                panic!("bad");
            }
            Ok::<(), BoxError>(())
        }))
        .unwrap();
    for i in 0..5 {
        second
            .spawn(Task::new(format!("ok{i}"), |_ctx: Context| async {
                Ok::<(), BoxError>(())
            }))
            .unwrap();
    }
    let _ = second.wait().await;

    let third = manager.scope("mixed-3").await.unwrap();
    third
        .spawn(Task::new("ok", |_ctx: Context| async {
            Ok::<(), BoxError>(())
        }))
        .unwrap();
    third.wait().await.unwrap();

    let stats = manager.stats();
    assert!(stats.tasks_balanced(), "{stats:?}");
    assert_eq!(stats.tasks_added, 10);
    assert_eq!(stats.tasks_completed, 7);
    assert_eq!(stats.tasks_timed_out, 1);
    assert_eq!(stats.tasks_cancelled, 1);
    assert_eq!(stats.tasks_failed, 1);
    assert_eq!(stats.tasks_pending + stats.tasks_running, 0);
    assert_eq!(stats.scopes_created, 3);
    assert_eq!(stats.scopes_completed, 1);
    assert_eq!(stats.scopes_failed, 2);
    assert_eq!(stats.scopes_active, 0);
    assert!(stats.task_execution_time >= Duration::from_millis(25));
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn stats_balance_while_running() {
    let manager = Manager::start(ManagerConfig::new("live")).await.unwrap();
    let scope = manager.scope("live").await.unwrap();
    for i in 0..50 {
        scope
            .spawn(Task::new(
                format!("t{i}"),
                move |_ctx: Context| async move {
                    tokio::time::sleep(Duration::from_millis(i)).await;
                    Ok::<(), BoxError>(())
                },
            ))
            .unwrap();
    }
    let mut progress = scope.progress();
    for _ in 0..20 {
        let stats = manager.stats();
        assert!(stats.tasks_balanced(), "{stats:?}");
        let seen = progress.borrow_and_update().clone();
        assert_eq!(seen.added, seen.pending + seen.running + seen.done());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    scope.wait().await.unwrap();
    assert_eq!(progress.borrow().completed, 50);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn slow_subscriber_misses_are_counted() {
    const FAILURES: u64 = 10_000;
    let manager = Manager::start(ManagerConfig::new("noisy").error_buffer(100))
        .await
        .unwrap();
    let mut never_reads = manager.errors();
    let mut scopes = Vec::new();
    for i in 0..FAILURES {
        let scope = manager.scope(format!("s{i}")).await.unwrap();
        scope
            .spawn(Task::new("fails", |_ctx: Context| async {
                Err::<(), BoxError>("boom".into())
            }))
            .unwrap();
        scopes.push(scope);
    }
    for scope in scopes {
        assert!(scope.wait().await.is_err());
    }
    let stats = manager.stats();
    assert_eq!(stats.tasks_failed, FAILURES);
    assert_eq!(stats.error_reports_published, FAILURES);
    let mut delivered = 0;
    while let Some(report) = never_reads.try_recv() {
        assert_eq!(report.kind, ReportKind::FirstError);
        delivered += 1;
    }
    assert_eq!(delivered, 100);
    assert_eq!(delivered + never_reads.missed(), FAILURES);
    assert_eq!(stats.error_reports_missed, never_reads.missed());
    manager.shutdown().await.unwrap();
    // The stream ends after shutdown.
    assert!(never_reads.recv().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn reports_name_scope_task_and_error() {
    let manager = Manager::start(ManagerConfig::new("reports")).await.unwrap();
    let mut reports = manager.errors();
    let scope = manager.scope("payments").await.unwrap();
    let task = scope
        .spawn(Task::new("charge", |_ctx: Context| async {
            Err::<(), _>(std::io::Error::other("gateway down"))
        }))
        .unwrap();
    let _ = scope.wait().await;
    let report = reports.recv().await.unwrap();
    assert_eq!(report.kind, ReportKind::FirstError);
    assert_eq!(report.scope.as_ref(), "payments");
    assert_eq!(report.task.as_ref().map(|(_, id)| *id), Some(task.id()));
    let error = report.error.downcast_ref::<TaskError>().unwrap();
    assert_eq!(
        error.downcast_ref::<std::io::Error>().unwrap().to_string(),
        "gateway down"
    );
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn tree_shows_live_actors_only() {
    let manager = Manager::start(ManagerConfig::new("treed")).await.unwrap();
    let scope = manager.scope("fetch").await.unwrap();
    let gate = Arc::new(tokio::sync::Notify::new());
    for name in ["users", "orders"] {
        let gate = Arc::clone(&gate);
        scope
            .spawn(Task::new(name, move |_ctx: Context| async move {
                gate.notified().await;
                Ok::<(), BoxError>(())
            }))
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let tree = manager.tree();
    assert_eq!(tree.count(ActorKind::Manager), 1);
    assert_eq!(tree.count(ActorKind::Scope), 1);
    assert_eq!(tree.count(ActorKind::Task), 2);
    let text = tree.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("manager 'treed'"), "{text}");
    assert!(lines[1].contains("scope 'fetch'"), "{text}");
    assert!(
        text.contains("task 'users'") && text.contains("running"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("   ├─ task") || lines[2].starts_with("   └─ task"),
        "{text}"
    );

    gate.notify_waiters();
    scope.wait().await.unwrap();
    let tree = manager.tree();
    assert_eq!(tree.count(ActorKind::Task), 0);
    assert_eq!(tree.count(ActorKind::Scope), 0);
    assert_eq!(manager.stats().tasks_completed, 2);
    manager.shutdown().await.unwrap();
    assert_eq!(manager.tree().to_string(), "(no live actors)\n");
}

#[tokio::test(start_paused = true)]
async fn tree_text_escapes_names() {
    // Names are labels of any text. With control characters escaped, a newline or a fake
    // branch in a name cannot split an actor over several lines of the tree.
    let manager = Manager::start(ManagerConfig::new("")).await.unwrap();
    let scope = manager.scope("first\nsecond └─ fake").await.unwrap();
    let gate = Arc::new(tokio::sync::Notify::new());
    for name in ["", "two\nlines", "quote ' inside", "ünïcødé"] {
        let gate = Arc::clone(&gate);
        scope
            .spawn(Task::new(name, move |_ctx: Context| async move {
                gate.notified().await;
                Ok::<(), BoxError>(())
            }))
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;

    let tree = manager.tree();
    let text = tree.to_string();
    assert_eq!(text.lines().count(), tree.actors().len(), "{text}");
    assert!(text.contains(r"'first\nsecond └─ fake'"), "{text}");
    assert!(text.contains(r"'two\nlines'"), "{text}");
    assert!(text.contains("'quote ' inside'"), "{text}");
    assert!(text.contains("'ünïcødé'"), "{text}");

    gate.notify_waiters();
    scope.wait().await.unwrap();
    manager.shutdown().await.unwrap();
}
