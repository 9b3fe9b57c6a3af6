//! Races on a multi-threaded runtime, in real time: failures at the same instant, kills racing
//! cancellation, and shutdown racing new work. Each case is bounded so a hang fails the test.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{live_actor, Log, Recorded};
use ractor_scope::{
    ActorKind, BoxError, Context, Manager, ManagerConfig, ScopeError, Task, TaskState,
};
use tokio::sync::Barrier;

const BOUND: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barrier_failures_have_one_winner() {
    let manager = Manager::start(ManagerConfig::new("race")).await.unwrap();
    for round in 0..100 {
        let scope = manager.scope(format!("round-{round}")).await.unwrap();
        let barrier = Arc::new(Barrier::new(8));
        let mut handles = Vec::new();
        for i in 0..8 {
            let barrier = Arc::clone(&barrier);
            handles.push(
                scope
                    .spawn(Task::new(
                        format!("f{i}"),
                        move |_ctx: Context| async move {
                            barrier.wait().await;
                            Err::<(), BoxError>("boom".into())
                        },
                    ))
                    .unwrap(),
            );
        }
        let error = tokio::time::timeout(BOUND, scope.wait())
            .await
            .expect("scope finished")
            .unwrap_err();
        let winner = error.task_error().unwrap().task_id();
        let winners = handles.iter().filter(|h| h.id() == winner).count();
        assert_eq!(winners, 1);
        assert!(handles.iter().all(|h| h.state().is_finished()));
        assert_eq!(
            handles.iter().find(|h| h.id() == winner).map(|h| h.state()),
            Some(TaskState::Failed)
        );
    }
    let stats = manager.stats();
    assert!(stats.tasks_balanced(), "{stats:?}");
    assert_eq!(stats.tasks_added, 800);
    assert_eq!(stats.error_reports_published, stats.tasks_failed);
    tokio::time::timeout(BOUND, manager.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_racing_cancel_releases_once() {
    let manager = Manager::start(ManagerConfig::new("kill-race"))
        .await
        .unwrap();
    for round in 0..50 {
        let log = Log::default();
        let scope = manager.scope(format!("kill-{round}")).await.unwrap();
        let task_log = log.clone();
        scope
            .spawn(Task::new("holder", move |ctx: Context| async move {
                for name in ["A", "B", "C"] {
                    ctx.register(Recorded::new(name, &task_log))?;
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok::<(), BoxError>(())
            }))
            .unwrap();
        // Wait until the task has registered its resources.
        while manager.stats().resources_registered < 3 * (round + 1) {
            tokio::task::yield_now().await;
        }
        let task = manager
            .live_actors()
            .into_iter()
            .find(|a| a.kind == ActorKind::Task)
            .unwrap();
        // Cancel and kill at once: whichever path runs first releases, never both.
        scope.cancel();
        task.cell.kill();
        let _ = tokio::time::timeout(BOUND, scope.wait()).await.unwrap();
        let mut released = log.entries();
        assert_eq!(released.len(), 3, "{released:?}");
        released.sort();
        assert_eq!(released, vec!["released:A", "released:B", "released:C"]);
    }
    let stats = manager.stats();
    assert_eq!(stats.resources_released, 150);
    tokio::time::timeout(BOUND, manager.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_racing_new_work_never_hangs() {
    for _ in 0..50 {
        let manager = Manager::start(ManagerConfig::new("busy")).await.unwrap();
        let spawned = Arc::new(AtomicUsize::new(0));
        let producer = {
            let manager = manager.clone();
            let spawned = Arc::clone(&spawned);
            tokio::spawn(async move {
                loop {
                    let scope = match manager.scope("work").await {
                        Ok(scope) => scope,
                        Err(ScopeError::ManagerStopped { .. }) => return,
                        Err(other) => panic!("unexpected {other}"),
                    };
                    for _ in 0..10 {
                        match scope.spawn(Task::new("t", |_ctx: Context| async {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            Ok::<(), BoxError>(())
                        })) {
                            Ok(_) => {
                                spawned.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(ScopeError::Closed { .. }) => break,
                            Err(other) => panic!("unexpected {other}"),
                        }
                    }
                    let _ = scope.wait().await;
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        tokio::time::timeout(BOUND, manager.shutdown())
            .await
            .expect("shutdown finished")
            .unwrap();
        tokio::time::timeout(BOUND, producer)
            .await
            .expect("producer stopped")
            .unwrap();
        let stats = manager.stats();
        assert!(stats.tasks_balanced(), "{stats:?}");
        assert_eq!(stats.tasks_added as usize, spawned.load(Ordering::SeqCst));
        assert_eq!(stats.tasks_pending + stats.tasks_running, 0, "{stats:?}");
        assert!(manager.live_actors().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_kill_while_tasks_finish() {
    let manager = Manager::start(ManagerConfig::new("kill-finish"))
        .await
        .unwrap();
    for round in 0..100 {
        let scope = manager.scope(format!("r{round}")).await.unwrap();
        let go = Arc::new(tokio::sync::Notify::new());
        let mut handles = Vec::new();
        for i in 0..40 {
            let go = Arc::clone(&go);
            handles.push(
                scope
                    .spawn(Task::new(
                        format!("p{i}"),
                        move |_ctx: Context| async move {
                            go.notified().await;
                            Ok::<(), BoxError>(())
                        },
                    ))
                    .unwrap(),
            );
        }
        let scope_id = scope.id().as_u64();
        // Wait until every task is parked.
        let cells = loop {
            let cells: Vec<_> = manager
                .live_actors()
                .into_iter()
                .filter(|a| a.parent == Some(scope_id))
                .collect();
            if cells.len() == 40 {
                break cells;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let scope_cell = manager
            .live_actors()
            .into_iter()
            .find(|a| a.kind == ActorKind::Scope && a.id == scope_id)
            .unwrap();
        go.notify_waiters();
        tokio::task::yield_now().await;
        scope_cell.cell.kill();
        let _ = tokio::time::timeout(BOUND, scope.wait())
            .await
            .expect("wait returned");
        for actor in &cells {
            assert_eq!(
                actor.status(),
                ractor::ActorStatus::Stopped,
                "round {round}: {}",
                actor.name
            );
        }
        assert!(
            handles.iter().all(|h| h.state().is_finished()),
            "round {round}"
        );
        let stats = manager.stats();
        assert!(stats.tasks_balanced(), "{stats:?}");
    }
    let stats = manager.stats();
    assert_eq!(stats.tasks_running + stats.tasks_pending, 0, "{stats:?}");
    tokio::time::timeout(BOUND, manager.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_racing_shutdown_ends() {
    for _ in 0..2_000 {
        let manager = Manager::start(ManagerConfig::new("bus")).await.unwrap();
        let other = manager.clone();
        let subscriber = tokio::spawn(async move {
            tokio::task::yield_now().await;
            let mut reports = other.errors();
            drop(other);
            tokio::time::timeout(Duration::from_secs(5), reports.recv()).await
        });
        manager.shutdown().await.unwrap();
        let received = subscriber.await.unwrap();
        assert!(matches!(received, Ok(None)), "{received:?}");
    }
}

/// Builds a task that sleeps for `for_ms`.
fn sleeper(name: &str, for_ms: u64) -> Task<()> {
    Task::new(name, move |_ctx: Context| async move {
        tokio::time::sleep(Duration::from_millis(for_ms)).await;
        Ok::<(), BoxError>(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_scope_ends_tasks_not_started() {
    // One task runs under a limit of 1, two wait for the slot and two wait for a dependency.
    // None of the four has an actor when the scope is killed; each must still end.
    let manager = Manager::start(ManagerConfig::new("kill-unstarted"))
        .await
        .unwrap();
    let scope = manager
        .scope_with(ractor_scope::ScopeOptions::new("limited").limit(1))
        .await
        .unwrap();
    let running = scope.spawn(sleeper("running", 30_000)).unwrap();
    let mut waiting = Vec::new();
    for index in 0..2 {
        waiting.push(
            scope
                .spawn(sleeper(&format!("slot-{index}"), 30_000))
                .unwrap(),
        );
        waiting.push(
            scope
                .spawn(sleeper(&format!("dependent-{index}"), 30_000).after(&running))
                .unwrap(),
        );
    }
    tokio::time::timeout(BOUND, async {
        while manager.stats().tasks_running == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the first task runs");

    live_actor(&manager, ActorKind::Scope).cell.kill();
    let result = tokio::time::timeout(BOUND, scope.wait())
        .await
        .expect("wait returns");
    assert!(
        matches!(result, Err(ScopeError::Killed { .. })),
        "{result:?}"
    );

    for handle in &waiting {
        let joined = tokio::time::timeout(BOUND, handle.join())
            .await
            .expect("a task that never started still ends");
        assert!(joined.unwrap_err().is_cancelled());
        assert_eq!(handle.state(), TaskState::Cancelled);
    }
    let stats = manager.stats();
    assert_eq!(stats.tasks_pending, 0, "{stats:?}");
    assert_eq!(stats.tasks_running, 0, "{stats:?}");
    assert_eq!(stats.tasks_cancelled, 5, "{stats:?}");
    manager.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_task_killed_in_cleanup_stays_failed() {
    // The task fails, then its actor is killed while its resource is being released. Its own
    // failure cancelled the scope, but its outcome stays the failure.
    let manager = Manager::start(ManagerConfig::new("fail-then-kill"))
        .await
        .unwrap();
    let scope = manager.scope("failing").await.unwrap();
    let (releasing_tx, releasing_rx) = tokio::sync::oneshot::channel::<()>();
    let task = scope
        .spawn(Task::new("failing", move |ctx: Context| async move {
            ctx.register(ractor_scope::release_fn("slow", move || async move {
                let _ = releasing_tx.send(());
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok::<(), std::io::Error>(())
            }))?;
            Err::<(), BoxError>("boom".into())
        }))
        .unwrap();
    tokio::time::timeout(BOUND, releasing_rx)
        .await
        .expect("the release starts")
        .unwrap();
    live_actor(&manager, ActorKind::Task).cell.kill();

    let result = tokio::time::timeout(BOUND, scope.wait())
        .await
        .expect("wait returns");
    assert!(
        matches!(result, Err(ScopeError::TaskFailed { .. })),
        "{result:?}"
    );
    assert_eq!(task.state(), TaskState::Failed);
    let stats = manager.stats();
    assert_eq!(stats.tasks_failed, 1, "{stats:?}");
    assert_eq!(stats.tasks_cancelled, 0, "{stats:?}");
    assert_eq!(
        stats.error_reports_published, stats.tasks_failed,
        "{stats:?}"
    );
    manager.shutdown().await.unwrap();
}
