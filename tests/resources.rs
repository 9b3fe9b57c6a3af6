//! Resources: released exactly once, in reverse order, on every exit path.

mod common;

use std::time::Duration;

use common::{fail, live_below, Log, Recorded};
use ractor_scope::{
    release_fn, ActorKind, BoxError, Context, Manager, ManagerConfig, ReleaseFailure, ReportKind,
    ScopeError, ScopeOptions, Task, TaskError,
};

async fn manager() -> Manager {
    Manager::start(ManagerConfig::new("resources").release_timeout(Duration::from_millis(200)))
        .await
        .unwrap()
}

/// Builds a task that registers A, B and C with itself, then runs `then`.
fn holder<F, Fut>(log: &Log, then: F) -> Task<()>
where
    F: FnOnce(Context) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let log = log.clone();
    Task::new("holder", move |ctx: Context| async move {
        for name in ["A", "B", "C"] {
            ctx.register(Recorded::new(name, &log))?;
        }
        then(ctx).await
    })
}

fn released(log: &Log) -> Vec<String> {
    log.with_prefix("released:")
}

fn reverse_order() -> Vec<String> {
    vec![
        "released:C".to_string(),
        "released:B".to_string(),
        "released:A".to_string(),
    ]
}

#[tokio::test(start_paused = true)]
async fn released_in_reverse_on_success() {
    let manager = manager().await;
    let log = Log::default();
    let scope = manager.scope("success").await.unwrap();
    scope.spawn(holder(&log, |_| async { Ok(()) })).unwrap();
    scope.wait().await.unwrap();
    assert_eq!(released(&log), reverse_order());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn released_in_reverse_on_error() {
    let manager = manager().await;
    let log = Log::default();
    let scope = manager.scope("error").await.unwrap();
    scope
        .spawn(holder(&log, |_| async { Err(fail("boom")) }))
        .unwrap();
    assert!(scope.wait().await.is_err());
    assert_eq!(released(&log), reverse_order());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn released_in_reverse_on_panic() {
    let manager = manager().await;
    let log = Log::default();
    let scope = manager.scope("panic").await.unwrap();
    scope
        .spawn(holder(&log, |_| async {
            tokio::task::yield_now().await;
            panic!("holder panicked")
        }))
        .unwrap();
    assert!(scope.wait().await.is_err());
    assert_eq!(released(&log), reverse_order());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn released_in_reverse_on_timeout() {
    let manager = manager().await;
    let log = Log::default();
    let scope = manager.scope("timeout").await.unwrap();
    scope
        .spawn(
            holder(&log, |_| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            })
            .timeout(Duration::from_millis(50)),
        )
        .unwrap();
    let error = scope.wait().await.unwrap_err();
    assert!(matches!(
        error.task_error(),
        Some(TaskError::TimedOut { .. })
    ));
    assert_eq!(released(&log), reverse_order());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn released_in_reverse_on_sibling_failure() {
    let manager = manager().await;
    let log = Log::default();
    let scope = manager.scope("sibling").await.unwrap();
    scope
        .spawn(holder(&log, |_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }))
        .unwrap();
    scope
        .spawn(Task::new("bad", |_ctx: Context| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err::<(), _>(fail("boom"))
        }))
        .unwrap();
    assert!(scope.wait().await.is_err());
    assert_eq!(released(&log), reverse_order());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn released_in_reverse_when_parent_scope_cancelled() {
    let manager = manager().await;
    let log = Log::default();
    let outer = manager.scope("outer").await.unwrap();
    let inner_log = log.clone();
    outer
        .spawn(Task::new("opener", move |ctx: Context| async move {
            let inner = ctx.open_scope("inner").await?;
            inner.spawn(holder(&inner_log, |_| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            }))?;
            inner.wait().await?;
            Ok::<_, BoxError>(())
        }))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    outer.cancel();
    assert!(outer.wait().await.unwrap_err().is_cancelled());
    assert_eq!(released(&log), reverse_order());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn released_in_reverse_on_manager_shutdown() {
    let manager = manager().await;
    let log = Log::default();
    let scope = manager.scope("shutdown").await.unwrap();
    scope
        .spawn(holder(&log, |_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }))
        .unwrap();
    scope.register(Recorded::new("scope-level", &log)).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    manager.shutdown().await.unwrap();
    // Task resources first, then the scope's own.
    let mut expected = reverse_order();
    expected.push("released:scope-level".to_string());
    assert_eq!(released(&log), expected);
    assert!(scope.wait().await.unwrap_err().is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn released_in_reverse_when_handle_dropped() {
    let manager = manager().await;
    let log = Log::default();
    let scope = manager.scope("dropped").await.unwrap();
    let task = scope
        .spawn(holder(&log, |_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(scope);
    let error = task.join().await.unwrap_err();
    assert!(matches!(
        error.cancel_cause(),
        Some(ractor_scope::CancelCause::HandleDropped { .. })
    ));
    assert_eq!(released(&log), reverse_order());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn released_in_reverse_after_kill() {
    let manager = manager().await;
    let log = Log::default();
    let scope = manager.scope("killed").await.unwrap();
    let task = scope
        .spawn(holder(&log, |_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let actor = live_below(&manager)
        .into_iter()
        .find(|a| a.kind == ActorKind::Task)
        .expect("task actor is live");
    actor.cell.kill();
    assert!(matches!(
        task.join().await.unwrap_err(),
        TaskError::Killed { .. }
    ));
    // A killed task fails its scope, which finishes once the task's releases are done.
    let error = scope.wait().await.unwrap_err();
    assert!(
        matches!(error.task_error(), Some(TaskError::Killed { .. })),
        "{error}"
    );
    assert_eq!(released(&log), reverse_order());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn scope_resources_released_after_scope_actor_killed() {
    let manager = manager().await;
    let log = Log::default();
    let scope = manager.scope("scope-killed").await.unwrap();
    for name in ["A", "B", "C"] {
        scope.register(Recorded::new(name, &log)).unwrap();
    }
    scope
        .spawn(holder(&Log::default(), |_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let actor = live_below(&manager)
        .into_iter()
        .find(|a| a.kind == ActorKind::Scope)
        .unwrap();
    actor.cell.kill();
    let error = scope.wait().await.unwrap_err();
    assert!(matches!(error, ScopeError::Killed { .. }), "{error}");
    assert_eq!(released(&log), reverse_order());
    assert!(live_below(&manager).is_empty());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn failed_release_reported_without_replacing_primary_error() {
    let manager = manager().await;
    let mut reports = manager.errors();
    let log = Log::default();
    let scope = manager.scope("release-fails").await.unwrap();
    let later = log.clone();
    scope
        .spawn(Task::new("worker", move |ctx: Context| async move {
            ctx.register(Recorded::new("A", &later))?;
            ctx.register(release_fn("broken", || async {
                Err::<(), _>(std::io::Error::other("disk full"))
            }))?;
            ctx.register(Recorded::new("C", &later))?;
            Err::<(), _>(fail("primary"))
        }))
        .unwrap();
    let error = scope.wait().await.unwrap_err();
    assert!(error.to_string().contains("primary"), "{error}");
    // The failed release did not stop the ones after it.
    assert_eq!(released(&log), vec!["released:C", "released:A"]);
    let stats = manager.stats();
    assert_eq!(stats.resources_failed, 1);
    assert_eq!(stats.resources_released, 2);
    let kinds: Vec<_> = std::iter::from_fn(|| reports.try_recv())
        .map(|r| r.kind)
        .collect();
    assert!(kinds.contains(&ReportKind::ReleaseFailed), "{kinds:?}");
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn failed_release_becomes_error_of_successful_scope() {
    let manager = manager().await;
    let scope = manager.scope("only-release-fails").await.unwrap();
    scope
        .register(release_fn("socket", || async {
            Err::<(), _>(std::io::Error::other("reset by peer"))
        }))
        .unwrap();
    scope
        .spawn(Task::new("fine", |_ctx: Context| async {
            Ok::<_, BoxError>(())
        }))
        .unwrap();
    let error = scope.wait().await.unwrap_err();
    match &error {
        ScopeError::ReleaseFailed { source, .. } => {
            assert_eq!(source.resource.as_ref(), "socket");
            assert!(matches!(source.failure, ReleaseFailure::Failed(_)));
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(
        error.downcast_ref::<std::io::Error>().unwrap().to_string(),
        "reset by peer"
    );
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn hanging_release_is_cut_off() {
    let manager = manager().await;
    let log = Log::default();
    let scope = manager
        .scope_with(ScopeOptions::new("hangs").release_timeout(Duration::from_millis(100)))
        .await
        .unwrap();
    scope.register(Recorded::new("after", &log)).unwrap();
    scope
        .register(release_fn("stuck", || async {
            std::future::pending::<()>().await;
            Ok::<(), std::io::Error>(())
        }))
        .unwrap();
    let start = tokio::time::Instant::now();
    let error = scope.wait().await.unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert!(start.elapsed() < Duration::from_secs(1));
    match error {
        ScopeError::ReleaseFailed { source, .. } => {
            assert!(
                matches!(source.failure, ReleaseFailure::TimedOut(t) if t == Duration::from_millis(100))
            );
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(released(&log), vec!["released:after"]);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn panicking_release_is_reported() {
    let manager = manager().await;
    let scope = manager.scope("release-panics").await.unwrap();
    scope
        .register(release_fn("fragile", || async {
            if true {
                panic!("release exploded");
            }
            Ok::<(), std::io::Error>(())
        }))
        .unwrap();
    let error = scope.wait().await.unwrap_err();
    match error {
        ScopeError::ReleaseFailed { source, .. } => {
            assert!(
                matches!(source.failure, ReleaseFailure::Panicked(ref m) if m.contains("release exploded"))
            );
        }
        other => panic!("unexpected {other}"),
    }
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn register_after_finish_releases_at_once() {
    let manager = manager().await;
    let log = Log::default();
    let scope = manager.scope("late-register").await.unwrap();
    let handle = scope.handle();
    scope.wait().await.unwrap();
    let error = handle.register(Recorded::new("late", &log)).unwrap_err();
    assert!(matches!(error, ScopeError::Closed { .. }));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(released(&log), vec!["released:late"]);
    manager.shutdown().await.unwrap();
}

/// A resource whose release takes `delay_ms` and then logs `released:<name>`.
fn slow(name: &'static str, log: &Log, delay_ms: u64) -> impl ractor_scope::Resource {
    let log = log.clone();
    release_fn(name, move || async move {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        log.push(format!("released:{name}"));
        Ok::<(), BoxError>(())
    })
}

/// Opens a scope `s` with resource S and a task that registers T1, then T2 (slow to
/// release), and parks. Returns once the task has registered both.
async fn scope_with_parked_holder(
    manager: &Manager,
    log: &Log,
) -> (ractor_scope::Scope, ractor_scope::TaskHandle<()>) {
    let scope = manager.scope("s").await.unwrap();
    scope.register(slow("S", log, 0)).unwrap();
    let task_log = log.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let handle = scope
        .spawn(Task::new("holder", move |ctx: Context| async move {
            ctx.register(slow("T1", &task_log, 0))?;
            ctx.register(slow("T2", &task_log, 50))?;
            let _ = ready_tx.send(());
            std::future::pending::<()>().await;
            Ok::<(), BoxError>(())
        }))
        .unwrap();
    ready_rx.await.unwrap();
    (scope, handle)
}

fn owners_in_reverse() -> Vec<String> {
    ["released:T2", "released:T1", "released:S"]
        .map(String::from)
        .to_vec()
}

#[tokio::test(start_paused = true)]
async fn task_kill_keeps_order_across_owners() {
    let manager = manager().await;
    let log = Log::default();
    let (scope, _handle) = scope_with_parked_holder(&manager, &log).await;
    let task = live_below(&manager)
        .into_iter()
        .find(|a| a.kind == ActorKind::Task)
        .unwrap();
    task.cell.kill();
    let _ = scope.wait().await;
    assert_eq!(released(&log), owners_in_reverse());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn scope_kill_keeps_order_across_owners() {
    let manager = manager().await;
    let log = Log::default();
    let (scope, _handle) = scope_with_parked_holder(&manager, &log).await;
    let actor = live_below(&manager)
        .into_iter()
        .find(|a| a.kind == ActorKind::Scope)
        .unwrap();
    actor.cell.kill();
    assert!(matches!(scope.wait().await, Err(ScopeError::Killed { .. })));
    assert_eq!(released(&log), owners_in_reverse());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn timed_out_shutdown_keeps_order_across_owners() {
    let manager = Manager::start(
        ManagerConfig::new("stubborn")
            .shutdown_timeout(Duration::from_millis(100))
            .release_timeout(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    let log = Log::default();
    let (scope, _handle) = scope_with_parked_holder(&manager, &log).await;
    // A release that outlasts the shutdown timeout, so the shutdown has to kill.
    scope.register(slow("hangs", &log, 60_000)).unwrap();
    let error = manager.shutdown().await.unwrap_err();
    assert!(
        matches!(error, ractor_scope::ManagerError::ShutdownTimedOut { .. }),
        "{error}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let order: Vec<String> = released(&log)
        .into_iter()
        .filter(|entry| entry != "released:hangs")
        .collect();
    assert_eq!(order, owners_in_reverse());
}

#[tokio::test(start_paused = true)]
async fn opener_kill_releases_child_scope_first() {
    let manager = manager().await;
    let log = Log::default();
    let outer = manager.scope("outer").await.unwrap();
    outer.register(slow("outer-S", &log, 0)).unwrap();
    let opener_log = log.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    outer
        .spawn(Task::new("opener", move |ctx: Context| async move {
            ctx.register(slow("opener-T", &opener_log, 0))?;
            let inner = ctx.open_scope("inner").await?;
            inner.register(slow("inner-S", &opener_log, 50))?;
            inner.spawn(Task::new("parked", |_ctx: Context| async {
                std::future::pending::<()>().await;
                Ok::<(), BoxError>(())
            }))?;
            let _ = ready_tx.send(());
            inner.wait().await?;
            Ok::<(), BoxError>(())
        }))
        .unwrap();
    ready_rx.await.unwrap();
    let opener = live_below(&manager)
        .into_iter()
        .find(|a| a.kind == ActorKind::Task && a.name.as_ref() == "opener")
        .unwrap();
    opener.cell.kill();
    let _ = outer.wait().await;
    assert_eq!(
        released(&log),
        vec!["released:inner-S", "released:opener-T", "released:outer-S"]
    );
    assert!(live_below(&manager).is_empty());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn scope_stopped_by_ractor_finishes_in_order() {
    let manager = manager().await;
    let log = Log::default();
    let (scope, handle) = scope_with_parked_holder(&manager, &log).await;
    let actor = live_below(&manager)
        .into_iter()
        .find(|a| a.kind == ActorKind::Scope)
        .unwrap();
    actor.cell.stop(None);
    let result = tokio::time::timeout(Duration::from_secs(10), scope.wait())
        .await
        .expect("wait returned");
    assert!(result.unwrap_err().is_cancelled());
    assert!(handle.result().unwrap_err().is_cancelled());
    assert_eq!(released(&log), owners_in_reverse());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn timed_out_release_panicking_on_drop_is_recorded() {
    // The release hangs past the release timeout, and its state panics when the library drops
    // it. The release must still be recorded as timed out, or `wait` would never return.
    struct PanicsOnDrop;

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("drop of the release state panicked");
            }
        }
    }

    let manager = manager().await;
    let log = Log::default();
    let scope = manager
        .scope_with(ScopeOptions::new("drop-panics").release_timeout(Duration::from_millis(100)))
        .await
        .unwrap();
    scope.register(Recorded::new("after", &log)).unwrap();
    scope
        .register(release_fn("sticky", || async {
            let _state = PanicsOnDrop;
            std::future::pending::<()>().await;
            Ok::<(), std::io::Error>(())
        }))
        .unwrap();

    let error = tokio::time::timeout(Duration::from_secs(30), scope.wait())
        .await
        .expect("wait returns")
        .unwrap_err();
    match error {
        ScopeError::ReleaseFailed { source, .. } => {
            assert!(
                matches!(source.failure, ReleaseFailure::TimedOut(t) if t == Duration::from_millis(100)),
                "{source}"
            );
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(released(&log), vec!["released:after"]);
    let stats = manager.stats();
    assert_eq!(stats.resources_registered, 2, "{stats:?}");
    assert_eq!(stats.resources_released, 1, "{stats:?}");
    assert_eq!(stats.resources_failed, 1, "{stats:?}");
    manager.shutdown().await.unwrap();
}
