//! Scopes and tasks: first error, cancellation causes, timeouts, panics, isolation, nesting.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{fail, live_below};
use ractor::ActorStatus;
use ractor_scope::{
    ActorKind, BoxError, CancelCause, Context, Manager, ManagerConfig, ScopeError, ScopeOptions,
    Task, TaskError, TaskState,
};

async fn manager() -> Manager {
    Manager::start(ManagerConfig::new("test")).await.unwrap()
}

fn sleeper(name: &str, for_ms: u64) -> Task<&'static str> {
    Task::new(name, move |_ctx: Context| async move {
        tokio::time::sleep(Duration::from_millis(for_ms)).await;
        Ok::<_, BoxError>("done")
    })
}

fn failer(name: &str, after_ms: u64) -> Task<()> {
    Task::new(name, move |_ctx: Context| async move {
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        Err::<(), _>(fail("boom"))
    })
}

#[tokio::test(start_paused = true)]
async fn failure_cancels_siblings_only_in_its_scope() {
    let manager = manager().await;
    let scope = manager.scope("failing").await.unwrap();
    let other = manager.scope("other").await.unwrap();

    let slow_a = scope.spawn(sleeper("slow_a", 10_000)).unwrap();
    let slow_b = scope.spawn(sleeper("slow_b", 10_000)).unwrap();
    let bad = scope.spawn(failer("bad", 100)).unwrap();
    let outside = other.spawn(sleeper("outside", 500)).unwrap();

    let error = scope.wait().await.unwrap_err();
    let task_error = error.task_error().expect("a task failure");
    assert_eq!(task_error.task().as_ref(), "bad");
    assert_eq!(bad.state(), TaskState::Failed);
    for sibling in [&slow_a, &slow_b] {
        assert_eq!(sibling.state(), TaskState::Cancelled);
        match sibling.result().unwrap_err().cancel_cause() {
            Some(CancelCause::SiblingFailed { task, task_id, .. }) => {
                assert_eq!(task.as_ref(), "bad");
                assert_eq!(*task_id, bad.id());
            }
            other => panic!("unexpected cause {other:?}"),
        }
    }

    other.wait().await.unwrap();
    assert_eq!(*outside.result().unwrap(), "done");
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn simultaneous_failures_have_one_winner() {
    let manager = manager().await;
    for round in 0..50 {
        let scope = manager.scope(format!("race-{round}")).await.unwrap();
        let mut handles = Vec::new();
        for i in 0..20 {
            handles.push(scope.spawn(failer(&format!("f{i}"), 10)).unwrap());
        }
        let error = scope.wait().await.unwrap_err();
        let winner = error.task_error().unwrap().task().clone();

        let failed: Vec<_> = handles
            .iter()
            .filter(|h| h.state() == TaskState::Failed)
            .collect();
        let cancelled = handles
            .iter()
            .filter(|h| h.state() == TaskState::Cancelled)
            .count();
        assert!(failed.iter().any(|h| *h.name() == winner));
        assert_eq!(failed.len() + cancelled, 20);
        // Losers that failed before seeing the cancellation are failures, not the error.
        for handle in &handles {
            if let Err(TaskError::Cancelled { cause, .. }) = handle.result() {
                assert!(
                    matches!(cause, CancelCause::SiblingFailed { ref task, .. } if *task == winner)
                );
            }
        }
    }
    let stats = manager.stats();
    assert!(stats.tasks_balanced(), "{stats:?}");
    assert_eq!(stats.tasks_added, 50 * 20);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn failure_after_cancellation_is_a_cancellation() {
    let manager = manager().await;
    for _ in 0..20 {
        let scope = manager.scope("late").await.unwrap();
        // Fails as soon as it observes its cancellation, which the first failure requested.
        let late = scope
            .spawn(Task::new("late", |ctx: Context| async move {
                let cancelled = ctx.cancelled();
                cancelled.await;
                Err::<(), _>(fail("failed while winding down"))
            }))
            .unwrap();
        let first = scope.spawn(failer("first", 5)).unwrap();
        let error = scope.wait().await.unwrap_err();
        assert_eq!(error.task_error().unwrap().task_id(), first.id());
        assert_eq!(late.state(), TaskState::Cancelled);
    }
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn timeout_drops_the_body() {
    let manager = manager().await;
    let scope = manager.scope("timeouts").await.unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let set = Arc::clone(&flag);
    let task = scope
        .spawn(
            Task::new("slow_write", move |_ctx: Context| async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                set.store(true, Ordering::SeqCst);
                Ok::<_, BoxError>(())
            })
            .timeout(Duration::from_millis(50)),
        )
        .unwrap();
    let error = scope.wait().await.unwrap_err();
    // Give the (dropped) body every chance to run on.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!flag.load(Ordering::SeqCst));
    assert_eq!(task.state(), TaskState::TimedOut);
    let message = error.to_string();
    assert!(message.contains("slow_write"), "{message}");
    assert!(message.contains("50ms"), "{message}");
    assert!(matches!(
        error.task_error(),
        Some(TaskError::TimedOut { timeout, .. }) if *timeout == Duration::from_millis(50)
    ));
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn panic_fails_the_scope_and_nothing_else() {
    let manager = manager().await;
    let scope = manager.scope("panics").await.unwrap();
    scope
        .spawn(Task::new("bad", |_ctx: Context| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if true {
                panic!("index out of range in bad");
            }
            Ok::<_, BoxError>(())
        }))
        .unwrap();
    let error = scope.wait().await.unwrap_err();
    match error.task_error() {
        Some(TaskError::Panicked { message, .. }) => {
            assert!(message.contains("index out of range in bad"))
        }
        other => panic!("unexpected {other:?}"),
    }

    // The manager and a new scope still work.
    let after = manager.scope("after").await.unwrap();
    let ok = after.spawn(sleeper("ok", 5)).unwrap();
    after.wait().await.unwrap();
    assert_eq!(*ok.result().unwrap(), "done");
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn same_names_run_side_by_side() {
    let manager = manager().await;
    let first = manager.scope("twin").await.unwrap();
    let second = manager.scope("twin").await.unwrap();
    let a1 = first.spawn(sleeper("job", 10)).unwrap();
    let a2 = first.spawn(sleeper("job", 20)).unwrap();
    let b1 = second.spawn(sleeper("job", 30)).unwrap();
    assert_ne!(first.id(), second.id());
    assert_ne!(a1.id(), a2.id());
    first.wait().await.unwrap();
    second.wait().await.unwrap();
    for handle in [a1, a2, b1] {
        assert_eq!(*handle.result().unwrap(), "done");
    }
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn wait_leaves_no_task_actor_alive() {
    let manager = manager().await;
    let scope = manager.scope("many").await.unwrap();
    for i in 0..200 {
        scope.spawn(sleeper(&format!("t{i}"), i % 7)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    let scope_id = scope.id().as_u64();
    let cells: Vec<_> = manager
        .live_actors()
        .into_iter()
        .filter(|a| a.parent == Some(scope_id))
        .collect();
    assert!(!cells.is_empty());
    scope.wait().await.unwrap();
    for actor in &cells {
        assert_eq!(actor.status(), ActorStatus::Stopped, "{}", actor.name);
    }
    assert!(manager
        .live_actors()
        .iter()
        .all(|a| a.parent != Some(scope_id)));
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn cancel_reaches_descendants_not_parent() {
    let manager = manager().await;
    let outer = manager.scope("outer").await.unwrap();
    let inner_cause = Arc::new(std::sync::Mutex::new(None));
    let seen = Arc::clone(&inner_cause);
    let opener = outer
        .spawn(Task::new("opener", move |ctx: Context| async move {
            let inner = ctx.open_scope("inner").await?;
            let victim = inner.spawn(sleeper("deep", 60_000))?;
            // Cancel only the inner scope; the outer task carries on.
            inner.cancel();
            let result = inner.wait().await;
            *seen.lock().unwrap() = victim
                .result()
                .err()
                .and_then(|e| e.cancel_cause().cloned());
            assert!(result.unwrap_err().is_cancelled());
            Ok::<_, BoxError>("outer survived")
        }))
        .unwrap();
    outer.wait().await.unwrap();
    assert_eq!(*opener.result().unwrap(), "outer survived");
    assert!(matches!(
        inner_cause.lock().unwrap().clone(),
        Some(CancelCause::UserCancelled { ref scope }) if scope.as_ref() == "inner"
    ));
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn parent_cancel_cascades_with_cause() {
    let manager = manager().await;
    let outer = manager.scope("outer").await.unwrap();
    let deep: Arc<std::sync::Mutex<Option<ractor_scope::TaskHandle<&'static str>>>> =
        Default::default();
    let keep = Arc::clone(&deep);
    outer
        .spawn(Task::new("opener", move |ctx: Context| async move {
            let inner = ctx.open_scope("inner").await?;
            *keep.lock().unwrap() = Some(inner.spawn(sleeper("deep", 60_000))?);
            inner.wait().await?;
            Ok::<_, BoxError>(())
        }))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    outer.cancel();
    let error = outer.wait().await.unwrap_err();
    assert!(matches!(error, ScopeError::Cancelled { .. }));
    let deep = deep.lock().unwrap().clone().unwrap();
    assert_eq!(
        deep.result().unwrap_err().cancel_cause(),
        Some(&CancelCause::ParentCancelled(Box::new(
            CancelCause::UserCancelled {
                scope: "outer".into()
            }
        )))
    );
    manager.shutdown().await.unwrap();
}

#[derive(Debug, thiserror::Error)]
#[error("card declined: {code}")]
struct Declined {
    code: u32,
}

#[tokio::test(start_paused = true)]
async fn nested_failure_reaches_parent_through_its_task() {
    let manager = manager().await;
    let outer = manager.scope("checkout").await.unwrap();
    let sibling = outer.spawn(sleeper("audit", 60_000)).unwrap();
    outer
        .spawn(Task::new("pay", |ctx: Context| async move {
            let inner = ctx.open_scope("payment").await?;
            inner.spawn(Task::new("charge", |_ctx: Context| async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Err::<(), _>(Declined { code: 51 })
            }))?;
            inner.wait().await?;
            Ok::<_, BoxError>(())
        }))
        .unwrap();
    let error = outer.wait().await.unwrap_err();
    // The outer error names its own task...
    assert_eq!(error.task_error().unwrap().task().as_ref(), "pay");
    // ...and the source chain reaches the task where the failure started.
    let inner = error
        .task_error()
        .unwrap()
        .downcast_ref::<ScopeError>()
        .unwrap();
    assert_eq!(inner.task_error().unwrap().task().as_ref(), "charge");
    assert_eq!(error.downcast_ref::<Declined>().unwrap().code, 51);
    assert_eq!(sibling.state(), TaskState::Cancelled);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn open_child_scope_closed_with_task() {
    let manager = manager().await;
    let outer = manager.scope("outer").await.unwrap();
    let leaked: Arc<std::sync::Mutex<Option<ractor_scope::TaskHandle<&'static str>>>> =
        Default::default();
    let keep = Arc::clone(&leaked);
    let opener = outer
        .spawn(Task::new("opener", move |ctx: Context| async move {
            let inner = ctx.open_scope("forgotten").await?;
            *keep.lock().unwrap() = Some(inner.spawn(sleeper("orphan", 60_000))?);
            // Move the handle somewhere it outlives the task.
            std::mem::forget(inner);
            Ok::<_, BoxError>("returned")
        }))
        .unwrap();
    let finished = opener.join().await;
    assert_eq!(*finished.unwrap(), "returned");
    // When the opener's outcome is final, the orphan has already ended.
    let orphan = leaked.lock().unwrap().clone().unwrap();
    assert_eq!(orphan.state(), TaskState::Cancelled);
    assert!(matches!(
        orphan.result().unwrap_err().cancel_cause(),
        Some(CancelCause::OpenerEnded { task }) if task.as_ref() == "opener"
    ));
    outer.wait().await.unwrap();
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn idle_scopes_finish_when_cancelled() {
    let manager = manager().await;

    // A child scope with no task, whose handle outlives its opener: cancelling the outer
    // scope ends the opener, which cancels the child scope, and the child finishes unwaited.
    let outer = manager.scope("outer").await.unwrap();
    let child: Arc<std::sync::Mutex<Option<ractor_scope::ScopeRef>>> = Default::default();
    let keep = Arc::clone(&child);
    outer
        .spawn(Task::new("opener", move |ctx: Context| async move {
            let inner = ctx.open_scope("idle_child").await?;
            *keep.lock().unwrap() = Some(inner.handle());
            std::mem::forget(inner);
            std::future::pending::<()>().await;
            Ok::<(), BoxError>(())
        }))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    outer.cancel();
    let waited = tokio::time::timeout(Duration::from_secs(60), outer.wait()).await;
    assert!(waited.is_ok(), "the outer scope finished");
    let child = child.lock().unwrap().clone().expect("the opener ran");
    assert!(child.is_finished(), "the idle child scope finished");

    // A top-level scope with no task whose handle is kept and never waited for: shutdown
    // cancels it, and it finishes without `wait`.
    let idle = manager.scope("idle").await.unwrap();
    let shutdown = tokio::time::timeout(Duration::from_secs(60), manager.shutdown()).await;
    assert!(matches!(shutdown, Ok(Ok(()))), "{shutdown:?}");
    assert!(idle.is_finished(), "the idle scope finished");
}

#[tokio::test(start_paused = true)]
async fn deadline_cancels_with_cause_and_composes() {
    let manager = manager().await;
    let outer = manager
        .scope_with(ScopeOptions::new("outer").deadline(Duration::from_millis(100)))
        .await
        .unwrap();
    let deadlines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&deadlines);
    let start = tokio::time::Instant::now();
    outer
        .spawn(Task::new("opener", move |ctx: Context| async move {
            // The inner scope requests more time than the outer one has left.
            let inner = ctx
                .open_scope_with(ScopeOptions::new("inner").deadline(Duration::from_secs(60)))
                .await?;
            let task = inner.spawn(Task::new("deep", |ctx: Context| async move {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok::<_, BoxError>(ctx.deadline())
            }))?;
            seen.lock().unwrap().push(inner.deadline());
            seen.lock().unwrap().push(ctx.deadline());
            let _ = inner.wait().await;
            Ok::<_, BoxError>(task.state())
        }))
        .unwrap();
    let error = outer.wait().await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(
        error.cancel_cause(),
        Some(&CancelCause::DeadlinePassed {
            scope: "outer".into(),
            after: Duration::from_millis(100)
        })
    );
    let deadlines = deadlines.lock().unwrap().clone();
    assert_eq!(deadlines[0], deadlines[1]);
    assert_eq!(deadlines[0], Some(start + Duration::from_millis(100)));
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn spawn_into_cancelled_scope_is_rejected() {
    let manager = manager().await;
    let scope = manager.scope("closed").await.unwrap();
    scope.cancel();
    let error = scope.spawn(sleeper("late", 1)).unwrap_err();
    assert!(matches!(error, ScopeError::Closed { .. }), "{error}");
    // Nothing was cut short, so the cancellation is not the result.
    scope.wait().await.unwrap();
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn tasks_spawn_siblings_and_read_results() {
    let manager = manager().await;
    let scope = manager.scope("spawner").await.unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    scope
        .spawn(Task::new("parent", move |ctx: Context| async move {
            for i in 0..10 {
                let counter = Arc::clone(&counter);
                ctx.scope().spawn(Task::new(
                    format!("child{i}"),
                    move |_ctx: Context| async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, BoxError>(())
                    },
                ))?;
            }
            Ok::<_, BoxError>(())
        }))
        .unwrap();
    scope.wait().await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 10);
    assert!(live_below(&manager).is_empty());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn join_returns_typed_result() {
    let manager = manager().await;
    let scope = manager.scope("join").await.unwrap();
    let task = scope
        .spawn(Task::new("answer", |_ctx: Context| async {
            tokio::time::sleep(Duration::from_millis(3)).await;
            Ok::<u64, BoxError>(42)
        }))
        .unwrap();
    assert!(matches!(task.result(), Err(TaskError::NotFinished { .. })));
    assert_eq!(*task.join().await.unwrap(), 42);
    scope.wait().await.unwrap();
    assert_eq!(
        manager
            .live_actors()
            .iter()
            .filter(|a| a.kind == ActorKind::Task)
            .count(),
        0
    );
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn dropping_wait_future_cancels_scope() {
    let manager = manager().await;
    let scope = manager.scope("impatient").await.unwrap();
    let task = scope.spawn(sleeper("slow", 60_000)).unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(10), scope.wait()).await;
    assert!(waited.is_err(), "the wait timed out and was dropped");
    let error = task.join().await.unwrap_err();
    assert!(matches!(
        error.cancel_cause(),
        Some(CancelCause::HandleDropped { scope }) if scope.as_ref() == "impatient"
    ));
    manager.shutdown().await.unwrap();
    assert!(live_below(&manager).is_empty());
}

#[tokio::test(start_paused = true)]
async fn effective_deadline_is_the_earlier() {
    let manager = manager().await;
    let scope = manager
        .scope_with(ScopeOptions::new("bounded").deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let short = scope
        .spawn(
            Task::new("short", |ctx: Context| async move {
                Ok::<_, BoxError>(ctx.deadline())
            })
            .timeout(Duration::from_secs(1)),
        )
        .unwrap();
    let long = scope
        .spawn(
            Task::new("long", |ctx: Context| async move {
                Ok::<_, BoxError>(ctx.deadline())
            })
            .timeout(Duration::from_secs(60)),
        )
        .unwrap();
    scope.wait().await.unwrap();
    assert_eq!(
        *short.result().unwrap(),
        Some(start + Duration::from_secs(1))
    );
    assert_eq!(
        *long.result().unwrap(),
        Some(start + Duration::from_secs(10))
    );
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn task_queued_behind_cancellation_never_runs() {
    let manager = manager().await;
    let scope = manager.scope("cancelled-early").await.unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    let task = scope
        .spawn(Task::new("never", move |_ctx: Context| async move {
            flag.store(true, Ordering::SeqCst);
            Ok::<_, BoxError>(())
        }))
        .unwrap();
    // Cancelled before the scope actor had a chance to start the task actor.
    scope.cancel();
    assert!(scope.wait().await.unwrap_err().is_cancelled());
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(task.state(), TaskState::Cancelled);
    let stats = manager.stats();
    assert_eq!(stats.tasks_cancelled, 1);
    assert!(stats.task_execution_time.is_zero());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn timeout_survives_panicking_drop() {
    struct Grumpy;
    impl Drop for Grumpy {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("guard dropped before completion");
            }
        }
    }
    let manager = manager().await;
    let scope = manager.scope("grumpy").await.unwrap();
    let task = scope
        .spawn(
            Task::new("slow", |_ctx: Context| async move {
                let guard = Grumpy;
                tokio::time::sleep(Duration::from_secs(10)).await;
                std::mem::forget(guard);
                Ok::<(), BoxError>(())
            })
            .timeout(Duration::from_secs(1)),
        )
        .unwrap();
    let error = scope.wait().await.unwrap_err();
    assert!(
        matches!(error.task_error(), Some(TaskError::TimedOut { .. })),
        "{error}"
    );
    assert_eq!(task.state(), TaskState::TimedOut);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn deadline_after_completion_is_success() {
    let manager = manager().await;
    let scope = manager
        .scope_with(ScopeOptions::new("quick").deadline(Duration::from_secs(1)))
        .await
        .unwrap();
    let task = scope.spawn(sleeper("instant", 0)).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    scope.wait().await.unwrap();
    assert_eq!(task.state(), TaskState::Completed);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn open_scope_after_task_ended_is_closed() {
    let manager = manager().await;
    let scope = manager.scope("outer").await.unwrap();
    let kept = Arc::new(std::sync::Mutex::new(None));
    let keep = Arc::clone(&kept);
    scope
        .spawn(Task::new("done", move |ctx: Context| async move {
            *keep.lock().unwrap() = Some(ctx);
            Ok::<(), BoxError>(())
        }))
        .unwrap();
    scope.wait().await.unwrap();
    let ctx = kept.lock().unwrap().take().unwrap();
    let error = ctx.open_scope("child-of-finished").await.unwrap_err();
    assert!(matches!(error, ScopeError::Closed { .. }), "{error}");
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn child_scope_inherits_opener_deadline() {
    // The opener has a 1 s timeout and its scope no deadline. Tasks in the child scopes it
    // opens see the opener's deadline, with or without a longer deadline of their own.
    let manager = manager().await;
    let scope = manager.scope("outer").await.unwrap();
    let opener = scope
        .spawn(
            Task::new("opener", |ctx: Context| async move {
                let own = ctx.deadline().expect("the opener has a timeout");
                let plain = ctx.open_scope("plain").await?;
                let leaf = plain.spawn(Task::new("leaf", |ctx: Context| async move {
                    Ok::<_, BoxError>(ctx.deadline())
                }))?;
                plain.wait().await?;
                let in_plain = *leaf.result()?;
                let in_longer = ctx
                    .with_timeout("longer", Duration::from_secs(60), |child| async move {
                        let leaf = child.spawn(Task::new("leaf", |ctx: Context| async move {
                            Ok::<_, BoxError>(ctx.deadline())
                        }))?;
                        child.wait().await?;
                        Ok(leaf.result().map(|deadline| *deadline))
                    })
                    .await??;
                Ok::<_, BoxError>((own, in_plain, in_longer))
            })
            .timeout(Duration::from_secs(1)),
        )
        .unwrap();
    scope.wait().await.unwrap();

    let (own, in_plain, in_longer) = *opener.result().unwrap();
    assert_eq!(in_plain, Some(own));
    assert_eq!(in_longer, Some(own));
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn child_scope_shows_under_its_opener() {
    let manager = manager().await;
    let scope = manager.scope("outer").await.unwrap();
    let (opened_tx, opened_rx) = tokio::sync::oneshot::channel();
    let opener = scope
        .spawn(Task::new("opener", move |ctx: Context| async move {
            let inner = ctx.open_scope("inner").await?;
            inner.spawn(Task::new("leaf", |_ctx: Context| async {
                std::future::pending::<()>().await;
                Ok::<_, BoxError>(())
            }))?;
            let _ = opened_tx.send(inner.id());
            inner.wait().await?;
            Ok::<_, BoxError>(())
        }))
        .unwrap();
    let inner_id = opened_rx.await.unwrap();

    let actors = live_below(&manager);
    let inner = actors
        .iter()
        .find(|actor| actor.id == inner_id.as_u64())
        .expect("the child scope is live");
    assert_eq!(inner.kind, ActorKind::Scope);
    assert_eq!(inner.parent, Some(opener.id().as_u64()));
    let tree = manager.tree().to_string();
    let opener_line = tree
        .lines()
        .position(|line| line.contains("'opener'"))
        .unwrap();
    let inner_line = tree
        .lines()
        .position(|line| line.contains("'inner'"))
        .unwrap();
    let indent = |index: usize| {
        let line = tree.lines().nth(index).unwrap();
        line.find(|c: char| c.is_alphanumeric()).unwrap()
    };
    assert!(indent(inner_line) > indent(opener_line), "{tree}");

    scope.cancel();
    let _ = scope.wait().await;
    manager.shutdown().await.unwrap();
}
