//! Stress: many live tasks in one scope, thousands of failures at one instant, shutdowns racing
//! new work, and a soak run with injected faults.
//!
//! The soak test is ignored by default. It runs for `SOAK_SECS` seconds (default 60) and prints
//! its counters: `SOAK_SECS=600 cargo test --release --test stress -- --ignored soak
//! --nocapture`.

mod common;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{counting_pool, fail, quiet_injected_panics, XorShift, INJECTED_PANIC};
use ractor_scope::{
    BoxError, CircuitBreaker, Context, FailurePolicy, Manager, ManagerConfig, ReportKind, Resource,
    ResourcePool, Scope, ScopeError, ScopeOptions, Task, TaskState,
};
use tokio::sync::Barrier;
use tokio::time::Instant;

/// Bounds each real-time wait, so that a hang fails instead of blocking.
const BOUND: Duration = Duration::from_secs(60);

async fn bounded<F: std::future::Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(BOUND, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what} did not return within {BOUND:?}"),
    }
}

/// Runs `tasks` tasks that all stay alive until one common instant, and checks that every one
/// of them was running before that instant and completed.
async fn tasks_alive_at_once_complete(tasks: u64) {
    let manager = Manager::start(ManagerConfig::new("alive")).await.unwrap();
    let scope = manager.scope("many").await.unwrap();
    let release_at = Instant::now() + Duration::from_secs(10);
    let started = Arc::new(AtomicU64::new(0));
    let mut progress = scope.progress();
    for index in 0..tasks {
        let started = Arc::clone(&started);
        scope
            .spawn(Task::new(
                format!("t{index}"),
                move |_ctx: Context| async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep_until(release_at).await;
                    Ok::<_, BoxError>(index)
                },
            ))
            .unwrap();
    }

    // Every task is running before the common instant.
    let all_running = progress.wait_for(|p| p.running == tasks);
    bounded("all tasks running", all_running).await.unwrap();
    assert!(Instant::now() < release_at);
    assert_eq!(started.load(Ordering::SeqCst), tasks);
    assert_eq!(manager.live_actors().len() as u64, tasks + 2);

    bounded("wait", scope.wait()).await.unwrap();
    let stats = manager.stats();
    assert!(stats.tasks_balanced(), "{stats:?}");
    assert_eq!(stats.tasks_completed, tasks, "{stats:?}");
    bounded("shutdown", manager.shutdown()).await.unwrap();
    assert!(manager.live_actors().is_empty());
}

/// About 800 MB of peak memory and 7 s in a debug build.
#[tokio::test(start_paused = true)]
async fn hundred_thousand_tasks_alive_complete() {
    tasks_alive_at_once_complete(100_000).await;
}

/// 10,000 tasks fail at one virtual instant under `CancelDependents`, so nothing cancels them
/// and every failure is reported: one is the scope's error, every other a later failure.
#[tokio::test(start_paused = true)]
async fn ten_thousand_failures_lose_no_report() {
    const TASKS: u64 = 10_000;
    let manager = Manager::start(ManagerConfig::new("failures").error_buffer(2 * TASKS as usize))
        .await
        .unwrap();
    let mut reports = manager.errors();
    let options = ScopeOptions::new("all-fail").failure_policy(FailurePolicy::CancelDependents);
    let scope = manager.scope_with(options).await.unwrap();
    let at = Instant::now() + Duration::from_secs(1);
    for index in 0..TASKS {
        scope
            .spawn(Task::new(
                format!("f{index}"),
                move |_ctx: Context| async move {
                    tokio::time::sleep_until(at).await;
                    Err::<(), _>(fail("injected"))
                },
            ))
            .unwrap();
    }
    let error = bounded("wait", scope.wait()).await.unwrap_err();
    let winner = error.task_error().expect("a task failure").task_id();

    let stats = manager.stats();
    assert_eq!(stats.tasks_failed, TASKS, "{stats:?}");
    assert_eq!(stats.error_reports_published, TASKS, "{stats:?}");
    bounded("shutdown", manager.shutdown()).await.unwrap();

    // The stream closed after the shutdown, so this drains what was delivered.
    let mut first = Vec::new();
    let mut later = 0;
    while let Some(report) = reports.recv().await {
        match report.kind {
            ReportKind::FirstError => first.push(report.task.expect("a task").1),
            ReportKind::LaterFailure => later += 1,
            other => panic!("unexpected report {other:?}"),
        }
    }
    assert_eq!(first, vec![winner]);
    assert_eq!(later, TASKS - 1);
    assert_eq!(reports.missed(), 0);
}

/// 10,000 tasks fail after one barrier on two threads: exactly one failure wins, every task
/// that failed before it saw the cancellation is reported, and nothing blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_failures_at_a_barrier_have_one_winner() {
    const TASKS: usize = 10_000;
    let manager = Manager::start(ManagerConfig::new("barrier").error_buffer(2 * TASKS))
        .await
        .unwrap();
    let mut reports = manager.errors();
    let scope = manager.scope("barrier").await.unwrap();
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut handles = Vec::with_capacity(TASKS);
    for index in 0..TASKS {
        let barrier = Arc::clone(&barrier);
        let task = Task::new(format!("f{index}"), move |_ctx: Context| async move {
            barrier.wait().await;
            Err::<(), _>(fail("injected"))
        });
        handles.push(scope.spawn(task).unwrap());
    }
    let error = bounded("wait", scope.wait()).await.unwrap_err();
    let winner = error.task_error().expect("a task failure").task_id();

    let failed = handles
        .iter()
        .filter(|h| h.state() == TaskState::Failed)
        .count();
    let cancelled = handles
        .iter()
        .filter(|h| h.state() == TaskState::Cancelled)
        .count();
    assert_eq!(failed + cancelled, TASKS);
    let stats = manager.stats();
    assert!(stats.tasks_balanced(), "{stats:?}");
    assert_eq!(stats.tasks_failed, failed as u64, "{stats:?}");
    assert_eq!(stats.error_reports_published, failed as u64, "{stats:?}");
    bounded("shutdown", manager.shutdown()).await.unwrap();

    let mut first = Vec::new();
    let mut delivered = 0;
    while let Some(report) = reports.recv().await {
        delivered += 1;
        if report.kind == ReportKind::FirstError {
            first.push(report.task.expect("a task").1);
        }
    }
    assert_eq!(first, vec![winner]);
    assert_eq!(delivered, failed);
    assert_eq!(reports.missed(), 0);
}

/// Shuts the manager down while scopes are being opened and tasks (and tasks' own siblings)
/// added, 500 times on two threads. Every shutdown returns, every task added is counted and
/// ends, and no actor is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_while_adding_never_hangs() {
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..500 {
        let manager = Manager::start(ManagerConfig::new("adding")).await.unwrap();
        let spawned = Arc::new(AtomicUsize::new(0));
        let producers: Vec<_> = (0..2)
            .map(|_| tokio::spawn(produce(manager.clone(), Arc::clone(&spawned))))
            .collect();
        // Let the producers get going for a varying number of scheduler turns.
        for _ in 0..random.below(200) {
            tokio::task::yield_now().await;
        }
        bounded("shutdown", manager.shutdown()).await.unwrap();
        for producer in producers {
            bounded("producer", producer).await.unwrap();
        }
        let stats = manager.stats();
        assert!(stats.tasks_balanced(), "round {round}: {stats:?}");
        assert_eq!(
            stats.tasks_added as usize,
            spawned.load(Ordering::SeqCst),
            "round {round}"
        );
        assert_eq!(
            stats.tasks_pending + stats.tasks_running,
            0,
            "round {round}: {stats:?}"
        );
        assert_eq!(stats.scopes_active, 0, "round {round}: {stats:?}");
        assert!(manager.live_actors().is_empty(), "round {round}");
    }
}

/// Opens scopes and adds tasks until the manager refuses; each task adds a sibling.
async fn produce(manager: Manager, spawned: Arc<AtomicUsize>) {
    loop {
        let scope = match manager.scope("work").await {
            Ok(scope) => scope,
            Err(ScopeError::ManagerStopped { .. }) => return,
            Err(other) => panic!("unexpected {other}"),
        };
        for _ in 0..10 {
            let counter = Arc::clone(&spawned);
            let task = Task::new("parent", move |ctx: Context| async move {
                let sibling = Task::new("sibling", |_ctx: Context| async {
                    tokio::task::yield_now().await;
                    Ok::<(), BoxError>(())
                });
                // Rejected once the scope closes; a rejected task is not counted.
                if ctx.scope().spawn(sibling).is_ok() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                Ok::<(), BoxError>(())
            });
            match scope.spawn(task) {
                Ok(_) => {
                    spawned.fetch_add(1, Ordering::SeqCst);
                }
                Err(ScopeError::Closed { .. }) => break,
                Err(other) => panic!("unexpected {other}"),
            }
        }
        let _ = scope.wait().await;
    }
}

/// A resource whose release fails when asked to, counting releases.
struct Counted {
    released: Arc<AtomicU64>,
    fails: bool,
}

impl Resource for Counted {
    type Error = std::io::Error;

    async fn release(self) -> Result<(), Self::Error> {
        self.released.fetch_add(1, Ordering::SeqCst);
        match self.fails {
            true => Err(std::io::Error::other("injected release failure")),
            false => Ok(()),
        }
    }

    fn name(&self) -> &str {
        "counted"
    }
}

/// Counters of a soak run.
#[derive(Debug, Default)]
struct SoakCounters {
    rounds: u64,
    scopes_ok: u64,
    scopes_failed: u64,
    scopes_cancelled: u64,
    handles_dropped: u64,
    registered: Arc<AtomicU64>,
    released: Arc<AtomicU64>,
}

/// Runs one scope of the soak load: `tasks` tasks with random faults, resources, pool and
/// breaker calls, and sometimes a cancel or a dropped handle.
async fn soak_round(
    manager: &Manager,
    pool: &ResourcePool<u64>,
    breaker: &CircuitBreaker,
    random: &Mutex<XorShift>,
    counters: &Mutex<SoakCounters>,
) {
    let draw = |bound: u64| random.lock().unwrap().below(bound);
    let options = ScopeOptions::new("soak").deadline(Duration::from_millis(200 + draw(300)));
    let scope: Scope = manager.scope_with(options).await.unwrap();
    let released = Arc::clone(&counters.lock().unwrap().released);
    let registered = Arc::clone(&counters.lock().unwrap().registered);
    // One scope in eight sees an outage: every call through the breaker fails.
    let outage = draw(8) == 0;
    let tasks = 10 + draw(90);
    for index in 0..tasks {
        // Four faults in a thousand each: an error, a panic, a hang and a timeout.
        let fault = draw(1_000);
        let resources = draw(3);
        let release_fails = draw(50) == 0;
        let sleep = Duration::from_millis(draw(5));
        let (pool, breaker) = (pool.clone(), breaker.clone());
        let (released, registered) = (Arc::clone(&released), Arc::clone(&registered));
        let task = Task::new(format!("t{index}"), move |ctx: Context| async move {
            for _ in 0..resources {
                registered.fetch_add(1, Ordering::SeqCst);
                let resource = Counted {
                    released: Arc::clone(&released),
                    fails: release_fails,
                };
                ctx.register(resource)?;
            }
            let item = pool.acquire(&ctx).await?;
            let _ = breaker
                .call_with(&ctx, || async {
                    tokio::time::sleep(sleep).await;
                    match outage || fault < 100 {
                        true => Err(std::io::Error::other("injected call failure")),
                        false => Ok(*item),
                    }
                })
                .await;
            drop(item);
            match fault {
                0 => Err(fail("injected failure")),
                1 => panic!("{INJECTED_PANIC}"),
                2 => std::future::pending().await,
                _ => Ok(()),
            }
        });
        let task = match fault {
            3 => task.timeout(Duration::from_millis(1 + draw(20))),
            _ => task,
        };
        // A task that already failed cancels the scope, which then takes no more tasks.
        match scope.spawn(task) {
            Ok(_) => {}
            Err(ScopeError::Closed { .. }) => break,
            Err(other) => panic!("unexpected {other}"),
        }
    }

    let ending = draw(10);
    let result = match ending {
        0 => {
            scope.cancel();
            Some(bounded("wait", scope.wait()).await)
        }
        1 => {
            let at = Duration::from_millis(draw(20));
            tokio::time::timeout(at, scope.wait()).await.ok()
        }
        _ => Some(bounded("wait", scope.wait()).await),
    };
    let mut counters = counters.lock().unwrap();
    counters.rounds += 1;
    match result {
        None => counters.handles_dropped += 1,
        Some(Ok(())) => counters.scopes_ok += 1,
        Some(Err(error)) if error.is_cancelled() => counters.scopes_cancelled += 1,
        Some(Err(_)) => counters.scopes_failed += 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: runs for SOAK_SECS seconds (default 60)"]
async fn soak() {
    let seconds: u64 = std::env::var("SOAK_SECS")
        .ok()
        .map(|value| value.parse().expect("SOAK_SECS is a number of seconds"))
        .unwrap_or(60);
    quiet_injected_panics();
    let manager = Manager::start(ManagerConfig::new("soak")).await.unwrap();
    let pool = counting_pool("soak-pool", 16).await;
    let breaker = CircuitBreaker::builder()
        .name("soak-breaker")
        .failure_threshold(5)
        .reset_timeout(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let random = Arc::new(Mutex::new(XorShift(0x2545_f491_4f6c_dd1d)));
    let counters = Arc::new(Mutex::new(SoakCounters::default()));
    let end = Instant::now() + Duration::from_secs(seconds);

    // Four scopes at a time, each opened as soon as the previous one of its worker ends.
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (manager, pool, breaker) = (manager.clone(), pool.clone(), breaker.clone());
            let (random, counters) = (Arc::clone(&random), Arc::clone(&counters));
            tokio::spawn(async move {
                while Instant::now() < end {
                    soak_round(&manager, &pool, &breaker, &random, &counters).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    bounded("shutdown", manager.shutdown()).await.unwrap();

    let stats = manager.stats();
    let status = pool.status();
    let breaker_stats = breaker.stats();
    let counters = counters.lock().unwrap();
    println!("soak ran {seconds} s");
    println!("  {counters:?}");
    println!("  {stats:?}");
    println!("  pool {status:?} {:?}", pool.stats());
    println!("  breaker {breaker_stats:?}");
    assert!(stats.tasks_balanced(), "{stats:?}");
    assert_eq!(stats.tasks_pending + stats.tasks_running, 0, "{stats:?}");
    assert_eq!(stats.scopes_active, 0, "{stats:?}");
    assert_eq!(stats.scopes_created, counters.rounds, "{stats:?}");
    let registered = counters.registered.load(Ordering::SeqCst);
    assert_eq!(stats.resources_registered, registered, "{stats:?}");
    assert_eq!(
        stats.resources_released + stats.resources_failed,
        registered,
        "{stats:?}"
    );
    assert_eq!(counters.released.load(Ordering::SeqCst), registered);
    assert_eq!((status.in_use, status.waiters), (0, 0), "{status:?}");
    assert!(manager.live_actors().is_empty());
}
