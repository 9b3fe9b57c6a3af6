//! The manager: shutdown order and timeout, linking under a user's actor, dropped handles.

mod common;

use std::time::Duration;

use common::{live_below, Log, Recorded};
use ractor::{Actor, ActorProcessingErr, ActorRef, ActorStatus, SupervisionEvent};
use ractor_scope::{
    live_actors, release_fn, ActorKind, BoxError, Context, Manager, ManagerConfig, ManagerError,
    Scope, ScopeError, ScopeOptions, Task,
};
use tokio::sync::mpsc;

/// A user's actor that records the supervision events it receives.
struct Recorder;

impl Actor for Recorder {
    type Msg = ();
    type State = mpsc::UnboundedSender<String>;
    type Arguments = mpsc::UnboundedSender<String>;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        events: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(events)
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<()>,
        event: SupervisionEvent,
        events: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let line = match event {
            SupervisionEvent::ActorFailed(_, error) => {
                if let Some(error) = error.downcast_ref::<ManagerError>() {
                    format!("failed manager: {error}")
                } else if let Some(error) = error.downcast_ref::<ScopeError>() {
                    format!("failed scope: {error}")
                } else {
                    format!("failed other: {error}")
                }
            }
            SupervisionEvent::ActorTerminated(..) => "terminated".to_string(),
            SupervisionEvent::ActorStarted(_) => return Ok(()),
            _ => "other".to_string(),
        };
        let _ = events.send(line);
        Ok(())
    }
}

/// A user's actor with ractor's default supervision handling: any child exit stops it.
struct DefaultParent;

impl Actor for DefaultParent {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _myself: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

fn failing_task() -> Task<()> {
    Task::new("bad", |_ctx: Context| async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Err::<(), BoxError>("boom".into())
    })
}

fn quick_task() -> Task<()> {
    Task::new("quick", |_ctx: Context| async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok::<(), BoxError>(())
    })
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_scopes_newest_first() {
    let manager = Manager::start(ManagerConfig::new("order")).await.unwrap();
    let log = Log::default();
    let mut scopes = Vec::new();
    for name in ["first", "second", "third"] {
        let scope = manager.scope(name).await.unwrap();
        scope.register(Recorded::new(name, &log)).unwrap();
        scope
            .spawn(Task::new("idle", |_ctx: Context| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<(), BoxError>(())
            }))
            .unwrap();
        scopes.push(scope);
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    let cells: Vec<_> = manager.live_actors();
    assert_eq!(cells.len(), 1 + 3 + 3);

    manager.shutdown().await.unwrap();
    assert_eq!(
        log.entries(),
        vec!["released:third", "released:second", "released:first"]
    );
    for actor in &cells {
        assert_eq!(
            actor.status(),
            ActorStatus::Stopped,
            "{:?} {}",
            actor.kind,
            actor.name
        );
    }
    assert!(manager.live_actors().is_empty());
    for scope in scopes {
        assert!(scope.wait().await.unwrap_err().is_cancelled());
    }
    let error = manager.scope("too-late").await.unwrap_err();
    assert!(
        matches!(error, ScopeError::ManagerStopped { .. }),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_timeout_kills_and_reports() {
    let manager = Manager::start(
        ManagerConfig::new("stuck")
            .shutdown_timeout(Duration::from_secs(1))
            .release_timeout(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    let log = Log::default();
    let scope = manager.scope("slow-release").await.unwrap();
    let done = log.clone();
    scope
        .register(release_fn("slow", move || async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            done.push("released:slow");
            Ok::<(), std::io::Error>(())
        }))
        .unwrap();
    scope.spawn(quick_task()).unwrap();
    let start = tokio::time::Instant::now();
    let error = manager.shutdown().await.unwrap_err();
    match &error {
        ManagerError::ShutdownTimedOut {
            killed, timeout, ..
        } => {
            assert_eq!(*timeout, Duration::from_secs(1));
            assert!(killed
                .iter()
                .any(|k| k.kind == ActorKind::Scope && k.name.as_ref() == "slow-release"));
        }
        other => panic!("unexpected {other}"),
    }
    // The release was not abandoned: it finished in its own task.
    assert_eq!(log.entries(), vec!["released:slow"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(manager.live_actors().is_empty());
    assert!(matches!(scope.wait().await, Err(ScopeError::Killed { .. })));
}

#[tokio::test(start_paused = true)]
async fn dropping_last_handle_cancels_everything() {
    let manager = Manager::start(ManagerConfig::new("dropped")).await.unwrap();
    let root = manager.id().as_u64();
    let log = Log::default();
    let scope = manager.scope("orphaned").await.unwrap();
    let task = scope
        .spawn(Task::new("held", {
            let log = log.clone();
            move |ctx: Context| async move {
                ctx.register(Recorded::new("held", &log))?;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<(), BoxError>(())
            }
        }))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let second = manager.clone();
    drop(manager);
    // A clone keeps it alive.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(task.state(), ractor_scope::TaskState::Running);
    drop(second);
    let error = task.join().await.unwrap_err();
    assert!(matches!(
        error.cancel_cause(),
        Some(ractor_scope::CancelCause::ManagerShutdown)
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(log.entries(), vec!["released:held"]);
    assert!(live_actors().iter().all(|a| a.root != root));
    drop(scope);
}

#[tokio::test(start_paused = true)]
async fn linked_manager_failure_reaches_user_actor() {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (parent, _) = Actor::spawn(None, Recorder, events_tx).await.unwrap();
    let manager = Manager::start_linked(
        ManagerConfig::new("escalating").escalate_failures(true),
        parent.get_cell(),
    )
    .await
    .unwrap();
    let scope = manager.scope("fails").await.unwrap();
    scope.spawn(failing_task()).unwrap();
    assert!(scope.wait().await.is_err());

    let event = events.recv().await.unwrap();
    assert!(event.starts_with("failed manager:"), "{event}");
    assert!(event.contains("fails"), "{event}");
    let error = manager.shutdown().await.unwrap_err();
    assert!(matches!(error, ManagerError::ScopeFailed { .. }), "{error}");
    assert_eq!(parent.get_status(), ActorStatus::Running);
    parent.stop(None);
}

#[tokio::test(start_paused = true)]
async fn linked_manager_clean_shutdown_keeps_default_parent() {
    let (parent, _) = Actor::spawn(None, DefaultParent, ()).await.unwrap();
    let manager = Manager::start_linked(ManagerConfig::new("clean"), parent.get_cell())
        .await
        .unwrap();
    let scope = manager.scope("works").await.unwrap();
    scope.spawn(quick_task()).unwrap();
    scope.wait().await.unwrap();
    // A failing scope without escalation does not fail the manager either.
    let failing = manager.scope("fails").await.unwrap();
    failing.spawn(failing_task()).unwrap();
    assert!(failing.wait().await.is_err());
    manager.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(parent.get_status(), ActorStatus::Running);
    parent.stop(None);
}

#[tokio::test(start_paused = true)]
async fn linked_scope_failure_reaches_user_actor() {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (parent, _) = Actor::spawn(None, Recorder, events_tx).await.unwrap();
    let scope = Scope::start_linked(ScopeOptions::new("standalone"), parent.get_cell())
        .await
        .unwrap();
    scope.spawn(failing_task()).unwrap();
    assert!(scope.wait().await.is_err());
    let event = events.recv().await.unwrap();
    assert!(event.starts_with("failed scope:"), "{event}");
    assert!(event.contains("standalone"), "{event}");
    assert_eq!(parent.get_status(), ActorStatus::Running);
    parent.stop(None);
}

#[tokio::test(start_paused = true)]
async fn linked_scope_clean_finish_keeps_default_parent() {
    let (parent, _) = Actor::spawn(None, DefaultParent, ()).await.unwrap();
    for _ in 0..3 {
        let scope = Scope::start_linked(ScopeOptions::new("clean"), parent.get_cell())
            .await
            .unwrap();
        scope.spawn(quick_task()).unwrap();
        scope.wait().await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(parent.get_status(), ActorStatus::Running);
    }
    parent.stop(None);
}

#[tokio::test(start_paused = true)]
async fn user_actor_stop_releases_linked_resources() {
    let (parent, _) = Actor::spawn(None, DefaultParent, ()).await.unwrap();
    let manager = Manager::start_linked(ManagerConfig::new("owned"), parent.get_cell())
        .await
        .unwrap();
    let log = Log::default();
    let scope = manager.scope("held").await.unwrap();
    scope.register(Recorded::new("scope-level", &log)).unwrap();
    let task = scope
        .spawn(Task::new("held", {
            let log = log.clone();
            move |ctx: Context| async move {
                ctx.register(Recorded::new("task-level", &log))?;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<(), BoxError>(())
            }
        }))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    // The user's actor stops: ractor kills everything under it, skipping post_stop.
    parent.stop_and_wait(None, None).await.unwrap();
    assert!(task.join().await.unwrap_err().is_cancelled());
    assert!(matches!(scope.wait().await, Err(ScopeError::Killed { .. })));
    let mut released = log.entries();
    released.sort();
    assert_eq!(
        released,
        vec!["released:scope-level", "released:task-level"]
    );
    assert!(live_below(&manager).is_empty());
    assert!(matches!(
        manager.shutdown().await,
        Err(ManagerError::Killed { .. })
    ));
}

fn two_threads() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn shutdown_from_plain_thread() {
    let runtime = two_threads();
    let manager = runtime
        .block_on(Manager::start(ManagerConfig::new("plain")))
        .unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let other = manager.clone();
    std::thread::spawn(move || {
        let _ = done_tx.send(futures::executor::block_on(other.shutdown()));
    });
    let outcome = done_rx.recv_timeout(Duration::from_secs(10));
    assert!(matches!(outcome, Ok(Ok(()))), "{outcome:?}");
    let again = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), manager.shutdown()).await
    });
    assert!(matches!(again, Ok(Ok(()))), "{again:?}");
}

#[test]
fn last_handle_dropped_on_plain_thread() {
    let runtime = two_threads();
    let (manager, scope) = runtime.block_on(async {
        let manager = Manager::start(ManagerConfig::new("dropped-plain"))
            .await
            .unwrap();
        let scope = manager.scope("s").await.unwrap();
        (manager, scope)
    });
    let handle = scope
        .spawn(Task::new("long", |_ctx: Context| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<(), BoxError>(())
        }))
        .unwrap();
    std::thread::spawn(move || drop(manager)).join().unwrap();
    let joined = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), handle.join()).await });
    let error = joined.expect("the manager shut down").unwrap_err();
    assert!(error.is_cancelled(), "{error}");
    drop(scope);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_manager_shutdown_waits_for_tree() {
    let manager = Manager::start(ManagerConfig::new("killed")).await.unwrap();
    let log = Log::default();
    let scope = manager.scope("top").await.unwrap();
    let task_log = log.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    scope
        .spawn(Task::new("holder", move |ctx: Context| async move {
            ctx.register(release_fn("slow", move || async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                task_log.push("released:slow");
                Ok::<(), std::io::Error>(())
            }))?;
            let _ = ready_tx.send(());
            std::future::pending::<()>().await;
            Ok::<(), BoxError>(())
        }))
        .unwrap();
    ready_rx.await.unwrap();
    let cells = manager.live_actors();
    manager.actor().unwrap().kill();
    let result = tokio::time::timeout(Duration::from_secs(10), manager.shutdown())
        .await
        .expect("shutdown returned");
    // The shutdown may also win the race with the kill and stop the tree in order itself.
    assert!(
        matches!(result, Ok(()) | Err(ManagerError::Killed { .. })),
        "{result:?}"
    );
    for actor in &cells {
        assert_eq!(
            actor.status(),
            ActorStatus::Stopped,
            "{} {}",
            actor.kind,
            actor.name
        );
    }
    assert_eq!(log.entries(), vec!["released:slow"]);
    drop(scope);
}

#[tokio::test(start_paused = true)]
async fn manager_stopped_by_ractor_keeps_default_parent() {
    let (parent, _) = Actor::spawn(None, DefaultParent, ()).await.unwrap();
    let manager = Manager::start_linked(ManagerConfig::new("stopped"), parent.get_cell())
        .await
        .unwrap();
    let scope = manager.scope("works").await.unwrap();
    scope.spawn(quick_task()).unwrap();
    scope.wait().await.unwrap();
    manager.actor().unwrap().stop(None);
    manager.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(parent.get_status(), ActorStatus::Running);
    parent.stop(None);
}
