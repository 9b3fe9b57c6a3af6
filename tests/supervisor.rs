//! Supervised scopes: strategies, restart intensity, restart types, shutdown policies,
//! significant children, nesting and many restarts.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Log;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_scope::{
    AutoShutdown, Backoff, BoxError, ChildContext, ChildExit, ChildSpec, Manager, ManagerConfig,
    RestartPolicy, RestartType, ShutdownPolicy, Strategy, Supervisor, SupervisorError,
    SupervisorEvent, SupervisorOptions,
};

/// Logs `stop:<name>` when it is dropped with the body that owns it.
struct OnStop(String, Log);

impl Drop for OnStop {
    fn drop(&mut self) {
        self.1.push(format!("stop:{}", self.0));
    }
}

/// Builds a child that logs its starts and stops, and whose first `fails` runs fail after
/// `after_ms`.
fn child(name: &'static str, log: &Log, fails: u64, after_ms: u64) -> ChildSpec {
    let log = log.clone();
    ChildSpec::task(name, move |ctx: ChildContext| {
        let log = log.clone();
        async move {
            log.push(format!("start:{name}"));
            let _guard = OnStop(name.to_string(), log);
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            if ctx.restarts() < fails {
                return Err(format!("{name} failed").into());
            }
            std::future::pending::<()>().await;
            Ok(())
        }
    })
}

fn policy(strategy: Strategy, max_restarts: u32, period: Duration) -> RestartPolicy {
    RestartPolicy::new(
        strategy,
        max_restarts,
        period,
        Backoff::None,
        Duration::from_secs(30),
    )
    .unwrap()
}

async fn strategy_log(strategy: Strategy) -> Vec<String> {
    let log = Log::default();
    let supervisor = Supervisor::start(
        SupervisorOptions::new("workers").policy(policy(strategy, 5, Duration::from_secs(5))),
        vec![
            child("a", &log, 0, 0),
            child("b", &log, 1, 100),
            child("c", &log, 0, 0),
        ],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let entries = log.entries();
    supervisor.shutdown().await.unwrap();
    entries
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_child() {
    let log = strategy_log(Strategy::OneForOne).await;
    assert_eq!(
        log,
        vec!["start:a", "start:b", "start:c", "stop:b", "start:b"]
    );
}

#[tokio::test(start_paused = true)]
async fn one_for_all_restarts_everyone_in_order() {
    let log = strategy_log(Strategy::OneForAll).await;
    assert_eq!(
        log,
        vec![
            "start:a", "start:b", "start:c", "stop:b", "stop:c", "stop:a", "start:a", "start:b",
            "start:c"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_rest() {
    let log = strategy_log(Strategy::RestForOne).await;
    assert_eq!(
        log,
        vec!["start:a", "start:b", "start:c", "stop:b", "stop:c", "start:b", "start:c"]
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_in_reverse_start_order() {
    let log = Log::default();
    let supervisor = Supervisor::start(
        SupervisorOptions::new("ordered"),
        vec![
            child("a", &log, 0, 0),
            child("b", &log, 0, 0),
            child("c", &log, 0, 0),
        ],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    supervisor.shutdown().await.unwrap();
    assert_eq!(
        log.entries(),
        vec!["start:a", "start:b", "start:c", "stop:c", "stop:b", "stop:a"]
    );
}

#[tokio::test(start_paused = true)]
async fn intensity_limit_gives_up() {
    let log = Log::default();
    let supervisor = Supervisor::start(
        SupervisorOptions::new("fragile").policy(policy(
            Strategy::OneForOne,
            3,
            Duration::from_secs(5),
        )),
        vec![
            child("steady", &log, 0, 0),
            child("crashy", &log, u64::MAX, 100),
        ],
    )
    .await
    .unwrap();
    let mut events = supervisor.events();
    let error = supervisor.wait().await.unwrap_err();
    match &error {
        SupervisorError::RestartLimit {
            child,
            max_restarts,
            period,
            ..
        } => {
            assert_eq!(child.as_ref(), "crashy");
            assert_eq!(*max_restarts, 3);
            assert_eq!(*period, Duration::from_secs(5));
        }
        other => panic!("unexpected {other}"),
    }
    assert!(error.to_string().contains("crashy"), "{error}");
    // Every child was stopped.
    assert_eq!(log.with_prefix("stop:steady").len(), 1);
    let restarts = std::iter::from_fn(|| events.try_recv())
        .filter(|event| matches!(event, SupervisorEvent::Restarting { .. }))
        .count();
    assert_eq!(restarts, 3);
}

#[tokio::test(start_paused = true)]
async fn failures_wider_than_window_keep_restarting() {
    let log = Log::default();
    let supervisor = Supervisor::start(
        SupervisorOptions::new("slow-crash").policy(policy(
            Strategy::OneForOne,
            3,
            Duration::from_secs(5),
        )),
        vec![child("crashy", &log, u64::MAX, 2_000)],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(log.with_prefix("start:crashy").len() > 20);
    assert!(supervisor.children()[0].1.is_some());
    supervisor.shutdown().await.unwrap();
}

fn exits(name: &'static str, fail: bool) -> ChildSpec {
    ChildSpec::task(name, move |_ctx: ChildContext| async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if fail {
            Err::<(), BoxError>("failed".into())
        } else {
            Ok(())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn restart_types_decide() {
    let supervisor = Supervisor::start(
        SupervisorOptions::new("types").policy(policy(
            Strategy::OneForOne,
            100,
            Duration::from_secs(60),
        )),
        vec![
            exits("transient-normal", false).restart(RestartType::Transient),
            exits("temporary-failed", true).restart(RestartType::Temporary),
        ],
    )
    .await
    .unwrap();
    let mut events = supervisor.events();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen: Vec<SupervisorEvent> = std::iter::from_fn(|| events.try_recv()).collect();
    assert!(seen.contains(&SupervisorEvent::LeftStopped {
        child: "transient-normal".into(),
        exit: ChildExit::Normal
    }));
    assert!(seen.iter().any(|event| matches!(
        event,
        SupervisorEvent::LeftStopped { child, exit: ChildExit::Failed(_) } if child.as_ref() == "temporary-failed"
    )));
    assert!(!seen
        .iter()
        .any(|event| matches!(event, SupervisorEvent::Restarting { .. })));
    supervisor.shutdown().await.unwrap();

    // A transient child that fails is restarted.
    let log = Log::default();
    let supervisor = Supervisor::start(
        SupervisorOptions::new("transient"),
        vec![child("t", &log, 1, 10).restart(RestartType::Transient)],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(log.with_prefix("start:t").len(), 2);
    supervisor.shutdown().await.unwrap();
}

/// A user's actor that never finishes starting, so a graceful stop cannot reach it.
struct Stubborn;

impl Actor for Stubborn {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn post_start(&self, _: ActorRef<()>, _: &mut ()) -> Result<(), ActorProcessingErr> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn stubborn_child_killed_after_timeout() {
    let supervisor = Supervisor::start(
        SupervisorOptions::new("stubborn"),
        vec![ChildSpec::actor("stubborn", |parent| async move {
            let (actor, _) = Actor::spawn_linked(None, Stubborn, (), parent).await?;
            Ok(actor.get_cell())
        })
        .shutdown(ShutdownPolicy::Graceful {
            timeout: Duration::from_millis(500),
        })],
    )
    .await
    .unwrap();
    let mut events = supervisor.events();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let cell = supervisor.children()[0].1.clone().unwrap();
    let start = tokio::time::Instant::now();
    supervisor.shutdown().await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(500));
    assert_eq!(cell.get_status(), ractor::ActorStatus::Stopped);
    assert_eq!(
        events.try_recv(),
        Some(SupervisorEvent::ChildKilled {
            child: "stubborn".into(),
            timeout: Duration::from_millis(500)
        })
    );
}

#[tokio::test(start_paused = true)]
async fn start_failure_counts_toward_intensity() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&attempts);
    let supervisor = Supervisor::start(
        SupervisorOptions::new("unstartable").policy(policy(
            Strategy::OneForOne,
            2,
            Duration::from_secs(5),
        )),
        vec![ChildSpec::actor("broken", move |_parent| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Err::<ractor::ActorCell, BoxError>("cannot connect".into())
            }
        })],
    )
    .await
    .unwrap();
    let error = supervisor.wait().await.unwrap_err();
    assert!(
        matches!(error, SupervisorError::RestartLimit { ref child, .. } if child.as_ref() == "broken")
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn significant_child_ends_the_scope() {
    let log = Log::default();
    let done_log = log.clone();
    let supervisor = Supervisor::start(
        SupervisorOptions::new("job").auto_shutdown(AutoShutdown::AnySignificant),
        vec![
            child("a", &log, 0, 0),
            ChildSpec::task("main", move |_ctx: ChildContext| {
                let log = done_log.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    log.push("done:main");
                    Ok::<(), BoxError>(())
                }
            })
            .restart(RestartType::Transient)
            .significant(true),
            child("c", &log, 0, 0),
        ],
    )
    .await
    .unwrap();
    supervisor.wait().await.unwrap();
    assert_eq!(
        log.entries(),
        vec!["start:a", "start:c", "done:main", "stop:c", "stop:a"]
    );
}

#[tokio::test(start_paused = true)]
async fn outer_restarts_inner_that_gave_up() {
    let log = Log::default();
    let inner = ChildSpec::supervisor(
        "inner",
        SupervisorOptions::new("inner").policy(policy(
            Strategy::OneForOne,
            1,
            Duration::from_secs(5),
        )),
        vec![child("crashy", &log, u64::MAX, 10)],
    );
    let outer = Supervisor::start(
        SupervisorOptions::new("outer").policy(policy(
            Strategy::OneForOne,
            2,
            Duration::from_secs(60),
        )),
        vec![inner],
    )
    .await
    .unwrap();
    let mut events = outer.events();
    let error = outer.wait().await.unwrap_err();
    // The inner one gave up three times: twice restarted by the outer one, then the outer one
    // gave up too.
    assert!(
        matches!(error, SupervisorError::RestartLimit { ref child, .. } if child.as_ref() == "inner")
    );
    let restarted = std::iter::from_fn(|| events.try_recv())
        .filter(|event| matches!(event, SupervisorEvent::Restarting { child, .. } if child.as_ref() == "inner"))
        .count();
    assert_eq!(restarted, 2);
    // Each run of the inner scope started the child twice (once, and one restart).
    assert_eq!(log.with_prefix("start:crashy").len(), 6);
}

#[tokio::test(start_paused = true)]
async fn thousand_restarts_leak_nothing() {
    let manager = Manager::start(ManagerConfig::new("restarts"))
        .await
        .unwrap();
    let alive = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&alive);
    struct Alive(Arc<AtomicUsize>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let supervisor = manager
        .supervise(
            SupervisorOptions::new("churn").policy(policy(
                Strategy::OneForOne,
                10_000,
                Duration::from_secs(3_600),
            )),
            vec![ChildSpec::task("flaky", move |ctx: ChildContext| {
                let counter = Arc::clone(&counter);
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _alive = Alive(counter);
                    if ctx.restarts() < 1_000 {
                        return Err::<(), BoxError>("flaky".into());
                    }
                    std::future::pending::<()>().await;
                    Ok(())
                }
            })],
        )
        .await
        .unwrap();
    let mut waited = 0;
    while manager.stats().restarts < 1_000 && waited < 10_000 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        waited += 1;
    }
    assert_eq!(manager.stats().restarts, 1_000);
    assert_eq!(alive.load(Ordering::SeqCst), 1);
    drop(supervisor);
    manager.shutdown().await.unwrap();
    assert_eq!(alive.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn restart_delays_follow_backoff() {
    let log = Log::default();
    let backoff: Backoff = toml::from_str(
        "kind = \"exponential\"\ninitial = \"100ms\"\nfactor = 2.0\nmax = \"300ms\"",
    )
    .unwrap();
    let policy = RestartPolicy::new(
        Strategy::OneForOne,
        10,
        Duration::from_secs(60),
        backoff,
        Duration::from_secs(30),
    )
    .unwrap();
    let supervisor = Supervisor::start(
        SupervisorOptions::new("backoff").policy(policy),
        vec![child("crashy", &log, 4, 0)],
    )
    .await
    .unwrap();
    let mut events = supervisor.events();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delays: Vec<Duration> = std::iter::from_fn(|| events.try_recv())
        .filter_map(|event| match event {
            SupervisorEvent::Restarting { delay, .. } => Some(delay),
            _ => None,
        })
        .collect();
    assert_eq!(
        delays,
        [100, 200, 300, 300]
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect::<Vec<_>>()
    );
    assert_eq!(log.with_prefix("start:crashy").len(), 5);
    supervisor.shutdown().await.unwrap();
}

/// A user's actor that records what its children's failures carry.
struct Parent(tokio::sync::mpsc::UnboundedSender<String>);

impl Actor for Parent {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<()>,
        event: ractor::SupervisionEvent,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        if let ractor::SupervisionEvent::ActorFailed(_, error) = event {
            let _ = self.0.send(error.to_string());
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn linked_supervisor_failure_reaches_parent() {
    let (sender, mut failures) = tokio::sync::mpsc::unbounded_channel();
    let (parent, _) = Actor::spawn(None, Parent(sender), ()).await.unwrap();
    let log = Log::default();
    let supervisor = Supervisor::start_linked(
        SupervisorOptions::new("linked").policy(policy(
            Strategy::OneForOne,
            1,
            Duration::from_secs(5),
        )),
        vec![child("crashy", &log, u64::MAX, 10)],
        parent.get_cell(),
    )
    .await
    .unwrap();
    let failure = failures.recv().await.unwrap();
    assert!(failure.contains("crashy"), "{failure}");
    assert!(supervisor.wait().await.is_err());
    assert_eq!(parent.get_status(), ractor::ActorStatus::Running);
    parent.stop(None);
}

#[tokio::test(start_paused = true)]
async fn supervisor_inside_a_task_stops_with_it() {
    let manager = Manager::start(ManagerConfig::new("inside")).await.unwrap();
    let log = Log::default();
    let scope = manager.scope("host").await.unwrap();
    let task_log = log.clone();
    scope
        .spawn(ractor_scope::Task::new(
            "host",
            move |ctx: ractor_scope::Context| async move {
                let supervisor = ctx
                    .supervise(
                        SupervisorOptions::new("inner"),
                        vec![child("a", &task_log, 0, 0), child("b", &task_log, 1, 10)],
                    )
                    .await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
                // Returning without stopping it: the task's end stops it.
                std::mem::forget(supervisor);
                Ok::<(), BoxError>(())
            },
        ))
        .unwrap();
    scope.wait().await.unwrap();
    assert_eq!(
        log.entries(),
        vec!["start:a", "start:b", "stop:b", "start:b", "stop:b", "stop:a"]
    );
    assert_eq!(manager.stats().restarts, 1);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn tree_shows_supervisor_and_children() {
    let manager = Manager::start(ManagerConfig::new("treed")).await.unwrap();
    let log = Log::default();
    let supervisor = manager
        .supervise(
            SupervisorOptions::new("workers"),
            vec![child("a", &log, 0, 0), child("b", &log, 0, 0)],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let tree = manager.tree();
    assert_eq!(tree.count(ractor_scope::ActorKind::Supervisor), 1);
    assert_eq!(tree.count(ractor_scope::ActorKind::Child), 2);
    let text = tree.to_string();
    assert!(text.contains("supervisor 'workers'"), "{text}");
    assert!(text.contains("child 'a'"), "{text}");
    drop(supervisor);
    manager.shutdown().await.unwrap();
    assert!(manager.live_actors().is_empty());
}

/// An actor child that does nothing.
struct Idle;

impl Actor for Idle {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn start_returns_with_children_started() {
    // Its start function waits before it spawns the actor, as a slow connection would.
    let slow = ChildSpec::actor("slow", |parent: ractor::ActorCell| async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (actor, _) = Actor::spawn_linked(None, Idle, (), parent).await?;
        Ok::<_, BoxError>(actor.get_cell())
    });
    let log = Log::default();
    let supervisor = Supervisor::start(
        SupervisorOptions::new("ready"),
        vec![slow, child("task", &log, 0, 0)],
    )
    .await
    .unwrap();

    let children = supervisor.children();
    let names: Vec<&str> = children.iter().map(|(name, _)| name.as_ref()).collect();
    assert_eq!(names, ["slow", "task"]);
    for (name, cell) in &children {
        let cell = cell
            .as_ref()
            .unwrap_or_else(|| panic!("{name} has no actor"));
        assert!(
            cell.get_status() <= ractor::ActorStatus::Running,
            "{name} is {:?}",
            cell.get_status()
        );
    }
    supervisor.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn first_subscription_sees_early_decisions() {
    let log = Log::default();
    let supervisor = Supervisor::start(
        SupervisorOptions::new("early").policy(policy(
            Strategy::OneForOne,
            5,
            Duration::from_secs(5),
        )),
        vec![child("crashes", &log, 1, 0)],
    )
    .await
    .unwrap();
    // The child failed at once and was restarted before anyone subscribed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(log.with_prefix("start:crashes").len(), 2);

    let mut first = supervisor.events();
    let mut later = supervisor.events();
    let restarted = first
        .try_recv()
        .expect("the first subscription keeps the restart");
    assert!(
        matches!(restarted, SupervisorEvent::Restarting { ref child, .. } if child.as_ref() == "crashes"),
        "{restarted:?}"
    );
    assert!(
        later.try_recv().is_none(),
        "a later subscription starts empty"
    );
    supervisor.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn task_cancelled_while_its_supervisor_starts() {
    let manager = Manager::start(ManagerConfig::new("cut")).await.unwrap();
    let started = Arc::new(std::sync::Mutex::new(None));
    let slot = Arc::clone(&started);
    let scope = manager.scope("host").await.unwrap();
    scope
        .spawn(ractor_scope::Task::new(
            "host",
            move |ctx: ractor_scope::Context| async move {
                let slow = ChildSpec::actor("slow", move |parent: ractor::ActorCell| {
                    let slot = Arc::clone(&slot);
                    async move {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        let (actor, _) = Actor::spawn_linked(None, Idle, (), parent).await?;
                        *slot.lock().unwrap() = Some(actor.get_cell());
                        Ok::<_, BoxError>(actor.get_cell())
                    }
                });
                let _supervisor = ctx
                    .supervise(SupervisorOptions::new("inner"), vec![slow])
                    .await?;
                std::future::pending::<()>().await;
                Ok::<(), BoxError>(())
            },
        ))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    scope.cancel();

    // The task's end stopped the supervised scope, which abandoned the start, and waited for
    // it: nothing of it is left, and the child never starts.
    scope.wait().await.unwrap_err();
    assert!(common::live_below(&manager).is_empty());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(started.lock().unwrap().is_none());
    manager.shutdown().await.unwrap();
}

/// Builds an actor child whose start function waits `delay` (forever when `None`), then
/// spawns an idle actor and stores its cell in `slot`.
fn slow_actor(
    name: &'static str,
    delay: Option<Duration>,
    slot: &Arc<std::sync::Mutex<Option<ractor::ActorCell>>>,
) -> ChildSpec {
    let slot = Arc::clone(slot);
    ChildSpec::actor(name, move |parent: ractor::ActorCell| {
        let slot = Arc::clone(&slot);
        async move {
            match delay {
                Some(delay) => tokio::time::sleep(delay).await,
                None => std::future::pending().await,
            }
            let (actor, _) = Actor::spawn_linked(None, Idle, (), parent).await?;
            *slot.lock().unwrap() = Some(actor.get_cell());
            Ok::<_, BoxError>(actor.get_cell())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn shutdown_while_children_start_is_clean() {
    let manager =
        Manager::start(ManagerConfig::new("early-exit").shutdown_timeout(Duration::from_secs(3)))
            .await
            .unwrap();
    let slot = Arc::new(std::sync::Mutex::new(None));
    let log = Log::default();
    let starting = {
        let manager = manager.clone();
        let children = vec![
            child("first", &log, 0, 0),
            slow_actor("slow", Some(Duration::from_millis(500)), &slot),
        ];
        tokio::spawn(async move {
            manager
                .supervise(SupervisorOptions::new("late"), children)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;

    let begun = tokio::time::Instant::now();
    manager.shutdown().await.unwrap();
    assert!(
        begun.elapsed() < Duration::from_secs(1),
        "{:?}",
        begun.elapsed()
    );
    let started = starting.await.unwrap();
    assert!(
        matches!(started, Err(SupervisorError::Stopped { .. })),
        "{started:?}"
    );
    assert!(manager.live_actors().is_empty());
}

#[tokio::test(start_paused = true)]
async fn panicking_start_counts_as_failed_start() {
    common::quiet_injected_panics();
    let boom = ChildSpec::actor("boom", |_parent: ractor::ActorCell| async move {
        if true {
            panic!("{}", common::INJECTED_PANIC);
        }
        Err::<ractor::ActorCell, BoxError>("unreachable".into())
    });
    let log = Log::default();
    let supervisor = Supervisor::start(
        SupervisorOptions::new("panicky").policy(policy(
            Strategy::OneForOne,
            2,
            Duration::from_secs(5),
        )),
        vec![child("steady", &log, 0, 0), boom],
    )
    .await
    .unwrap();
    let mut events = supervisor.events();
    let ended = tokio::time::timeout(Duration::from_secs(10), supervisor.wait())
        .await
        .expect("the scope gives up");
    assert!(
        matches!(ended, Err(SupervisorError::RestartLimit { ref child, .. }) if child.as_ref() == "boom"),
        "{ended:?}"
    );
    let restarts = std::iter::from_fn(|| events.try_recv())
        .filter(|event| matches!(event, SupervisorEvent::Restarting { .. }))
        .count();
    assert_eq!(restarts, 2);
}

#[tokio::test(start_paused = true)]
async fn dropped_start_abandons_a_hanging_child_start() {
    let first = Arc::new(std::sync::Mutex::new(None));
    let never = Arc::new(std::sync::Mutex::new(None));
    let start = Supervisor::start(
        SupervisorOptions::new("hangs"),
        vec![
            slow_actor("first", Some(Duration::ZERO), &first),
            slow_actor("never", None, &never),
        ],
    );
    assert!(tokio::time::timeout(Duration::from_millis(200), start)
        .await
        .is_err());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let first = first
        .lock()
        .unwrap()
        .clone()
        .expect("the first child started");
    assert_eq!(first.get_status(), ractor::ActorStatus::Stopped);
    assert!(never.lock().unwrap().is_none());
}

/// A user's actor with ractor's default supervision handling: any child exit stops it.
struct Plain;

impl Actor for Plain {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn linked_scope_shutdown_keeps_the_parent() {
    let (parent, _) = Actor::spawn(None, Plain, ()).await.unwrap();
    let log = Log::default();
    let supervisor = Supervisor::start_linked(
        SupervisorOptions::new("linked"),
        vec![child("a", &log, 0, 0)],
        parent.get_cell(),
    )
    .await
    .unwrap();
    supervisor.shutdown().await.unwrap();

    let slot = Arc::new(std::sync::Mutex::new(None));
    let start = Supervisor::start_linked(
        SupervisorOptions::new("dropped"),
        vec![slow_actor("slow", Some(Duration::from_millis(300)), &slot)],
        parent.get_cell(),
    );
    assert!(tokio::time::timeout(Duration::from_millis(50), start)
        .await
        .is_err());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(parent.get_status(), ractor::ActorStatus::Running);
    parent.stop(None);
}

#[tokio::test(start_paused = true)]
async fn events_end_when_the_scope_ends() {
    let log = Log::default();
    let supervisor = Supervisor::start(
        SupervisorOptions::new("ends").policy(policy(
            Strategy::OneForOne,
            2,
            Duration::from_secs(5),
        )),
        vec![child("fails", &log, u64::MAX, 0)],
    )
    .await
    .unwrap();
    let mut events = supervisor.events();
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        let mut received = Vec::new();
        while let Some(event) = events.recv().await {
            received.push(event);
        }
        received
    })
    .await
    .expect("the subscription ends with the scope");
    assert!(
        matches!(received.last(), Some(SupervisorEvent::GaveUp { .. })),
        "{received:?}"
    );
    // A subscription made after the end is closed at once.
    assert!(supervisor.events().recv().await.is_none());
}

/// An actor child that logs `post_stop:<name>` when it stops gracefully.
struct Logged(String, Log);

impl Actor for Logged {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        self.1.push(format!("start:{}", self.0));
        Ok(())
    }

    async fn post_stop(&self, _: ActorRef<()>, _: &mut ()) -> Result<(), ActorProcessingErr> {
        self.1.push(format!("post_stop:{}", self.0));
        Ok(())
    }
}

fn logged(name: &'static str, log: &Log) -> ChildSpec {
    let log = log.clone();
    ChildSpec::actor(name, move |parent: ractor::ActorCell| {
        let log = log.clone();
        async move {
            let (actor, _) =
                Actor::spawn_linked(None, Logged(name.to_string(), log), (), parent).await?;
            Ok::<_, BoxError>(actor.get_cell())
        }
    })
}

fn hanging(name: &'static str) -> ChildSpec {
    ChildSpec::actor(name, |_parent: ractor::ActorCell| async move {
        std::future::pending::<()>().await;
        Err::<ractor::ActorCell, BoxError>("unreachable".into())
    })
}

#[tokio::test(start_paused = true)]
async fn stop_reaches_a_nested_scope_still_starting() {
    let log = Log::default();
    let inner = ChildSpec::supervisor(
        "inner",
        SupervisorOptions::new("inner"),
        vec![logged("a", &log), hanging("b")],
    );
    let start = Supervisor::start(SupervisorOptions::new("outer"), vec![inner]);
    assert!(tokio::time::timeout(Duration::from_millis(200), start)
        .await
        .is_err());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(log.entries(), ["start:a", "post_stop:a"]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_reaches_a_nested_restart_that_hangs() {
    let log = Log::default();
    let starts = Arc::new(AtomicUsize::new(0));
    let first_run = Arc::new(std::sync::Mutex::new(None));
    let second = {
        let starts = Arc::clone(&starts);
        let first_run = Arc::clone(&first_run);
        ChildSpec::actor("second", move |parent: ractor::ActorCell| {
            let starts = Arc::clone(&starts);
            let first_run = Arc::clone(&first_run);
            async move {
                // Its restart hangs.
                if starts.fetch_add(1, Ordering::SeqCst) > 0 {
                    std::future::pending::<()>().await;
                }
                let (actor, _) = Actor::spawn_linked(None, Idle, (), parent).await?;
                *first_run.lock().unwrap() = Some(actor.get_cell());
                Ok::<_, BoxError>(actor.get_cell())
            }
        })
    };
    let inner = ChildSpec::supervisor(
        "inner",
        SupervisorOptions::new("inner"),
        vec![logged("a", &log), second],
    );
    let supervisor = Supervisor::start(SupervisorOptions::new("outer"), vec![inner])
        .await
        .unwrap();
    // Kill the inner scope's second child: the inner scope restarts it, and the restart hangs.
    let second = first_run
        .lock()
        .unwrap()
        .clone()
        .expect("the second child runs");
    second.kill();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(starts.load(Ordering::SeqCst), 2, "the restart began");

    let begun = tokio::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), supervisor.shutdown())
        .await
        .expect("the shutdown ends")
        .unwrap();
    assert!(
        begun.elapsed() < Duration::from_secs(1),
        "{:?}",
        begun.elapsed()
    );
    assert_eq!(log.entries(), ["start:a", "post_stop:a"]);
}

#[tokio::test(start_paused = true)]
async fn start_that_fails_after_spawning_leaves_no_stray() {
    let log = Log::default();
    let attempts = Arc::new(AtomicUsize::new(0));
    let half = {
        let log = log.clone();
        let attempts = Arc::clone(&attempts);
        ChildSpec::actor("half", move |parent: ractor::ActorCell| {
            let log = log.clone();
            let attempts = Arc::clone(&attempts);
            async move {
                let attempt = attempts.fetch_add(1, Ordering::SeqCst);
                let name = format!("half{attempt}");
                let (actor, _) = Actor::spawn_linked(None, Logged(name, log), (), parent).await?;
                if attempt == 0 {
                    return Err::<ractor::ActorCell, BoxError>("health check failed".into());
                }
                Ok(actor.get_cell())
            }
        })
    };
    let supervisor = Supervisor::start(
        SupervisorOptions::new("strays").policy(policy(
            Strategy::OneForOne,
            3,
            Duration::from_secs(5),
        )),
        vec![half],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The first attempt's actor was stopped gracefully (its stop and the restart run side by
    // side); only the second one runs.
    let mut entries = log.entries();
    entries.sort();
    assert_eq!(entries, ["post_stop:half0", "start:half0", "start:half1"]);
    assert_eq!(supervisor.actor().get_children().len(), 1);
    supervisor.shutdown().await.unwrap();
    assert_eq!(
        log.with_prefix("post_stop:"),
        ["post_stop:half0", "post_stop:half1"]
    );
}

#[tokio::test(start_paused = true)]
async fn start_must_return_a_linked_child() {
    let own = ChildSpec::actor("own", |parent: ractor::ActorCell| async move {
        Ok::<_, BoxError>(parent)
    });
    let refused = Arc::new(std::sync::Mutex::new(Vec::new()));
    let unlinked = {
        let refused = Arc::clone(&refused);
        ChildSpec::actor("unlinked", move |_parent: ractor::ActorCell| {
            let refused = Arc::clone(&refused);
            async move {
                let (actor, _) = Actor::spawn(None, Idle, ()).await?;
                refused.lock().unwrap().push(actor.get_cell());
                Ok::<_, BoxError>(actor.get_cell())
            }
        })
    };
    for (spec, expected) in [(own, "own actor"), (unlinked, "not linked")] {
        let supervisor = Supervisor::start(
            SupervisorOptions::new("guarded").policy(policy(
                Strategy::OneForOne,
                1,
                Duration::from_secs(5),
            )),
            vec![spec],
        )
        .await
        .unwrap();
        let mut events = supervisor.events();
        let ended = tokio::time::timeout(Duration::from_secs(10), supervisor.wait())
            .await
            .expect("the scope gives up");
        assert!(
            matches!(ended, Err(SupervisorError::RestartLimit { .. })),
            "{ended:?}"
        );
        let restarted = events.try_recv().expect("a restart decision");
        let text = format!("{restarted:?}");
        assert!(text.contains(expected), "{text}");
    }
    // The unlinked actors it refused were stopped.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let refused = refused.lock().unwrap().clone();
    assert_eq!(refused.len(), 2);
    for cell in refused {
        assert_eq!(cell.get_status(), ractor::ActorStatus::Stopped);
    }
}

#[tokio::test(start_paused = true)]
async fn supervise_after_shutdown_names_the_cause() {
    let manager = Manager::start(ManagerConfig::new("gone")).await.unwrap();
    manager.shutdown().await.unwrap();
    let log = Log::default();
    let refused = manager
        .supervise(SupervisorOptions::new("late"), vec![child("a", &log, 0, 0)])
        .await
        .unwrap_err();
    let text = refused.to_string();
    assert!(text.contains("shutting down"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

/// Runs `strategy` over a temporary child `t` and a child `b` that fails once after 100 ms,
/// in the given order, and returns the log and the events.
async fn temporary_sibling_log(
    strategy: Strategy,
    temporary_first: bool,
) -> (Vec<String>, Vec<SupervisorEvent>) {
    let log = Log::default();
    let temporary = child("t", &log, 0, 0).restart(RestartType::Temporary);
    let failing = child("b", &log, 1, 100);
    let children = if temporary_first {
        vec![temporary, failing]
    } else {
        vec![failing, temporary]
    };
    let supervisor = Supervisor::start(
        SupervisorOptions::new("with-temporary").policy(policy(
            strategy,
            5,
            Duration::from_secs(5),
        )),
        children,
    )
    .await
    .unwrap();
    let mut events = supervisor.events();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let entries = log.entries();
    supervisor.shutdown().await.unwrap();
    let mut seen = Vec::new();
    while let Some(event) = events.recv().await {
        seen.push(event);
    }
    (entries, seen)
}

#[tokio::test(start_paused = true)]
async fn one_for_all_leaves_temporary_stopped() {
    let (log, events) = temporary_sibling_log(Strategy::OneForAll, true).await;
    assert_eq!(
        log,
        vec!["start:t", "start:b", "stop:b", "stop:t", "start:b"]
    );
    assert!(
        events.contains(&SupervisorEvent::LeftStopped {
            child: "t".into(),
            exit: ChildExit::StoppedWithSibling,
        }),
        "{events:?}"
    );
    let restarted = events.iter().find_map(|event| match event {
        SupervisorEvent::Restarting { restarted, .. } => Some(restarted.clone()),
        _ => None,
    });
    assert_eq!(restarted, Some(vec!["b".into()]));
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_leaves_temporary_stopped() {
    let (log, _) = temporary_sibling_log(Strategy::RestForOne, false).await;
    assert_eq!(
        log,
        vec!["start:b", "start:t", "stop:b", "stop:t", "start:b"]
    );
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_over_failed_starts() {
    // The child runs for a minute (longer than `reset_after`), crashes, and then cannot start
    // again. Each failed start is one more restart in a row, so the waits double.
    let starts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&starts);
    let spec = ChildSpec::actor("client", move |supervisor: ractor::ActorCell| {
        let counter = Arc::clone(&counter);
        async move {
            if counter.fetch_add(1, Ordering::SeqCst) > 0 {
                return Err::<ractor::ActorCell, BoxError>("connection refused".into());
            }
            let (actor, _) =
                Actor::spawn_linked(None, CrashesAfter(Duration::from_secs(60)), (), supervisor)
                    .await?;
            Ok(actor.get_cell())
        }
    });
    let policy = RestartPolicy::new(
        Strategy::OneForOne,
        100,
        Duration::from_secs(60),
        Backoff::Exponential {
            initial: Duration::from_millis(100),
            factor: 2.0,
            max: Duration::from_secs(10),
            jitter: 0.0,
        },
        Duration::from_secs(30),
    )
    .unwrap();
    let supervisor =
        Supervisor::start(SupervisorOptions::new("backoff").policy(policy), vec![spec])
            .await
            .unwrap();
    let mut events = supervisor.events();
    tokio::time::sleep(Duration::from_secs(65)).await;
    supervisor.shutdown().await.unwrap();

    let mut delays = Vec::new();
    while let Some(event) = events.recv().await {
        if let SupervisorEvent::Restarting { delay, .. } = event {
            delays.push(delay.as_millis());
        }
    }
    assert!(delays.len() >= 5, "{delays:?}");
    assert_eq!(delays[..5], [100, 200, 400, 800, 1_600]);
}

/// A user's actor that crashes once the given time has passed after its start.
struct CrashesAfter(Duration);

impl Actor for CrashesAfter {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn post_start(&self, _: ActorRef<()>, _: &mut ()) -> Result<(), ActorProcessingErr> {
        tokio::time::sleep(self.0).await;
        Err("crashed".into())
    }
}

#[tokio::test(start_paused = true)]
async fn permanent_significant_child_rejected() {
    let log = Log::default();
    let started = Supervisor::start(
        SupervisorOptions::new("auto").auto_shutdown(AutoShutdown::AllSignificant),
        vec![child("forever", &log, 0, 0).significant(true)],
    )
    .await;
    match started {
        Err(SupervisorError::Config(error)) => {
            assert_eq!(error.setting, "significant");
            assert!(error.value.contains("forever"), "{error}");
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(supervisor) => {
            supervisor.shutdown().await.unwrap();
            panic!("a permanent significant child was accepted");
        }
    }
    assert!(log.entries().is_empty(), "{:?}", log.entries());
}

#[tokio::test(start_paused = true)]
async fn given_up_supervisor_escalates_to_manager() {
    let (sender, mut failures) = tokio::sync::mpsc::unbounded_channel();
    let (parent, _) = Actor::spawn(None, Parent(sender), ()).await.unwrap();
    let manager = Manager::start_linked(
        ManagerConfig::new("escalating").escalate_failures(true),
        parent.get_cell(),
    )
    .await
    .unwrap();
    let log = Log::default();
    let supervisor = manager
        .supervise(
            SupervisorOptions::new("crashy").policy(policy(
                Strategy::OneForOne,
                1,
                Duration::from_secs(5),
            )),
            vec![child("crash", &log, u64::MAX, 10)],
        )
        .await
        .unwrap();
    assert!(matches!(
        supervisor.wait().await,
        Err(SupervisorError::RestartLimit { .. })
    ));

    let error = manager.shutdown().await.unwrap_err();
    assert!(
        matches!(
            error,
            ractor_scope::ManagerError::SupervisorFailed {
                source: SupervisorError::RestartLimit { .. },
                ..
            }
        ),
        "{error}"
    );
    let failure = failures.recv().await.unwrap();
    assert!(failure.contains("crashy"), "{failure}");
    assert_eq!(parent.get_status(), ractor::ActorStatus::Running);
    parent.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervise_during_shutdown_is_stopped() {
    // The shutdown is busy releasing a scope's slow resource when `supervise` is called. The
    // new supervised scope must not be left for the shutdown timeout to kill.
    let manager = Manager::start(
        ManagerConfig::new("late-supervise").shutdown_timeout(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    let scope = manager.scope("slow").await.unwrap();
    scope
        .register(ractor_scope::release_fn("slow", || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<(), std::io::Error>(())
        }))
        .unwrap();
    let shutting_down = manager.clone();
    let shutdown = tokio::spawn(async move { shutting_down.shutdown().await });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let log = Log::default();
    let late = manager
        .supervise(
            SupervisorOptions::new("late"),
            vec![child("worker", &log, 0, 0)],
        )
        .await;
    let refused = late.expect_err("supervise during a shutdown fails");
    assert!(refused.to_string().contains("shutting down"), "{refused}");

    // A supervised scope left running would be killed at the shutdown timeout, and the
    // shutdown would return `ShutdownTimedOut`.
    let outcome = tokio::time::timeout(Duration::from_secs(20), shutdown)
        .await
        .expect("shutdown returns")
        .unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(
        manager.live_actors().is_empty(),
        "{:?}",
        manager.live_actors()
    );
    drop(scope);
}
