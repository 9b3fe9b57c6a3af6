//! Dependencies, task graphs, priority under a limit, failure policy, and the Parallel, Series
//! and with-timeout helpers.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{fail, Log, XorShift};
use ractor_scope::{
    BoxError, CancelCause, Context, FailurePolicy, GraphError, Manager, ManagerConfig, ScopeError,
    ScopeOptions, Step, Task, TaskError, TaskGraph, TaskHandle, TaskState,
};

async fn manager() -> Manager {
    Manager::start(ManagerConfig::new("graph")).await.unwrap()
}

fn work<T: Clone + Send + Sync + 'static>(name: &str, for_ms: u64, value: T) -> Task<T> {
    Task::new(name, move |_ctx: Context| async move {
        tokio::time::sleep(Duration::from_millis(for_ms)).await;
        Ok::<_, BoxError>(value)
    })
}

fn failing<T: Send + Sync + 'static>(name: &str, after_ms: u64) -> Task<T> {
    Task::new(name, move |_ctx: Context| async move {
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        Err::<T, _>(fail("declined"))
    })
}

/// Durations and failures of one checkout run, in milliseconds.
struct Plan {
    validate_ms: u64,
    validate_fails: bool,
    charge_ms: u64,
    charge_fails: bool,
    inventory_ms: u64,
    deadline: Duration,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            validate_ms: 100,
            validate_fails: false,
            charge_ms: 2_000,
            charge_fails: false,
            inventory_ms: 1_000,
            deadline: Duration::from_secs(8),
        }
    }
}

struct Checkout {
    result: Result<(), ScopeError>,
    validate: TaskHandle<()>,
    charge: TaskHandle<u32>,
    inventory: TaskHandle<()>,
}

/// Runs validate (1 s timeout), then charge (5 s) and update-inventory (3 s) in parallel, both
/// after validate, inside `with_timeout`.
async fn checkout(manager: &Manager, plan: Plan) -> Checkout {
    let validate = match plan.validate_fails {
        true => failing("validate", plan.validate_ms),
        false => work("validate", plan.validate_ms, ()),
    }
    .timeout(Duration::from_secs(1));
    let handles = Arc::new(Mutex::new(None));
    let keep = Arc::clone(&handles);
    let result = manager
        .with_timeout("checkout", plan.deadline, move |scope| async move {
            let validate = scope.spawn(validate)?;
            let charge = match plan.charge_fails {
                true => failing("charge", plan.charge_ms),
                false => work("charge", plan.charge_ms, 4_200u32),
            };
            let charge = scope.spawn(charge.timeout(Duration::from_secs(5)).after(&validate))?;
            let inventory = scope.spawn(
                work("update_inventory", plan.inventory_ms, ())
                    .timeout(Duration::from_secs(3))
                    .after(&validate),
            )?;
            *keep.lock().unwrap() = Some((validate, charge, inventory));
            scope.wait().await
        })
        .await;
    let (validate, charge, inventory) = handles.lock().unwrap().take().unwrap();
    Checkout {
        result,
        validate,
        charge,
        inventory,
    }
}

#[tokio::test(start_paused = true)]
async fn checkout_all_succeed() {
    let manager = manager().await;
    let run = checkout(&manager, Plan::default()).await;
    run.result.unwrap();
    assert_eq!(run.validate.state(), TaskState::Completed);
    assert_eq!(*run.charge.result().unwrap(), 4_200);
    assert_eq!(run.inventory.state(), TaskState::Completed);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn checkout_charge_fails_cancels_inventory() {
    let manager = manager().await;
    let plan = Plan {
        charge_fails: true,
        charge_ms: 500,
        ..Plan::default()
    };
    let run = checkout(&manager, plan).await;
    let error = run.result.unwrap_err();
    assert_eq!(error.task_error().unwrap().task().as_ref(), "charge");
    assert_eq!(run.inventory.state(), TaskState::Cancelled);
    match run.inventory.result().unwrap_err().cancel_cause() {
        Some(CancelCause::SiblingFailed { task, task_id, .. }) => {
            assert_eq!(task.as_ref(), "charge");
            assert_eq!(*task_id, run.charge.id());
        }
        other => panic!("unexpected cause {other:?}"),
    }
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn checkout_validate_fails_skips_charge() {
    let manager = manager().await;
    let plan = Plan {
        validate_fails: true,
        ..Plan::default()
    };
    let run = checkout(&manager, plan).await;
    let error = run.result.unwrap_err();
    assert_eq!(error.task_error().unwrap().task().as_ref(), "validate");
    assert_eq!(run.charge.state(), TaskState::Skipped);
    match run.charge.result().unwrap_err() {
        TaskError::Skipped {
            dependency,
            dependency_id,
            dependency_state,
            ..
        } => {
            assert_eq!(dependency.as_ref(), "validate");
            assert_eq!(dependency_id, run.validate.id());
            assert_eq!(dependency_state, TaskState::Failed);
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(run.inventory.state(), TaskState::Skipped);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn checkout_deadline_cancels_and_times_out() {
    let manager = manager().await;
    let plan = Plan {
        validate_ms: 600,
        charge_ms: 4_000,
        inventory_ms: 2_950,
        deadline: Duration::from_millis(3_500),
        ..Plan::default()
    };
    let start = tokio::time::Instant::now();
    let run = checkout(&manager, plan).await;
    assert!(start.elapsed() < Duration::from_millis(3_600));
    match run.result.unwrap_err() {
        ScopeError::TimedOut { scope, timeout, .. } => {
            assert_eq!(scope.as_ref(), "checkout");
            assert_eq!(timeout, Duration::from_millis(3_500));
        }
        other => panic!("unexpected {other}"),
    }
    let deadline = CancelCause::DeadlinePassed {
        scope: "checkout".into(),
        after: Duration::from_millis(3_500),
    };
    assert_eq!(
        run.inventory.result().unwrap_err().cancel_cause(),
        Some(&deadline)
    );
    assert_eq!(
        run.charge.result().unwrap_err().cancel_cause(),
        Some(&deadline)
    );
    assert_eq!(run.validate.state(), TaskState::Completed);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn random_graph_respects_dependencies() {
    const TASKS: usize = 1_000;
    let manager = manager().await;
    let scope = manager.scope("random").await.unwrap();
    let clock = Arc::new(AtomicU64::new(0));
    // (started, ended) ticks of each task.
    let ticks: Arc<Vec<[AtomicU64; 2]>> = Arc::new(
        (0..TASKS)
            .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
            .collect(),
    );
    let mut random = XorShift(0x2545_f491_4f6c_dd1d);
    let mut graph = TaskGraph::new();
    let mut edges = Vec::new();
    for index in 0..TASKS {
        let mut dependencies = Vec::new();
        if index > 0 {
            for _ in 0..random.below(4) {
                let dependency = random.below(index as u64) as usize;
                dependencies.push(format!("k{dependency}"));
                edges.push((dependency, index));
            }
        }
        let sleep = random.below(50);
        let clock = Arc::clone(&clock);
        let ticks = Arc::clone(&ticks);
        graph.add(
            format!("k{index}"),
            Task::new(format!("t{index}"), move |_ctx: Context| async move {
                ticks[index][0].store(clock.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(sleep)).await;
                ticks[index][1].store(clock.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                Ok::<_, BoxError>(())
            }),
            dependencies,
        );
    }
    scope.spawn_graph(graph).unwrap();
    scope.wait().await.unwrap();

    for (dependency, task) in edges {
        let ended = ticks[dependency][1].load(Ordering::SeqCst);
        let started = ticks[task][0].load(Ordering::SeqCst);
        assert!(
            ended > 0 && started > ended,
            "t{task} started before t{dependency} ended"
        );
    }
    assert_eq!(manager.stats().tasks_completed, TASKS as u64);
    manager.shutdown().await.unwrap();
}

/// A key and the keys it depends on.
type Node<'a> = (&'a str, &'a [&'a str]);

fn graph_that_records(log: &Log, keys_and_deps: &[Node]) -> TaskGraph {
    let mut graph = TaskGraph::new();
    for (key, dependencies) in keys_and_deps {
        let log = log.clone();
        let name = key.to_string();
        graph.add(
            *key,
            Task::new(*key, move |_ctx: Context| async move {
                log.push(format!("ran:{name}"));
                Ok::<_, BoxError>(())
            }),
            dependencies.iter().copied(),
        );
    }
    graph
}

#[tokio::test(start_paused = true)]
async fn cycle_rejected_before_anything_runs() {
    let manager = manager().await;
    let scope = manager.scope("cyclic").await.unwrap();
    let log = Log::default();
    let graph = graph_that_records(
        &log,
        &[("start", &[]), ("a", &["c"]), ("b", &["a"]), ("c", &["b"])],
    );
    let error = scope.spawn_graph(graph).unwrap_err();
    match &error {
        ScopeError::Graph(GraphError::Cycle { tasks }) => {
            let mut names: Vec<&str> = tasks.iter().map(|t| t.as_ref()).collect();
            names.sort_unstable();
            assert_eq!(names, vec!["a", "b", "c"]);
        }
        other => panic!("unexpected {other}"),
    }
    assert!(error.to_string().contains("cycle"), "{error}");
    scope.wait().await.unwrap();
    assert!(log.entries().is_empty());
    assert_eq!(manager.stats().tasks_added, 0);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn cycle_through_handles_rejected() {
    let manager = manager().await;
    let scope = manager.scope("cyclic-handles").await.unwrap();
    let mut graph = TaskGraph::new();
    let first = graph.add("first", work("first", 1, 1u8), ["second"]);
    let waiting = first.clone();
    // `second` depends on `first` through its handle, not its key.
    graph.add(
        "second",
        work("second", 1, 2u8).after(&first),
        [] as [&str; 0],
    );
    match scope.spawn_graph(graph) {
        Err(ScopeError::Graph(GraphError::Cycle { tasks })) => {
            let mut names: Vec<&str> = tasks.iter().map(|t| t.as_ref()).collect();
            names.sort_unstable();
            assert_eq!(names, vec!["first", "second"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    // The rejected tasks ended, so nobody waits on them forever.
    let error = waiting.join().await.unwrap_err();
    assert_eq!(error.cancel_cause(), Some(&CancelCause::NotSpawned));
    let mut dropped = TaskGraph::new();
    let orphan = dropped.add("orphan", work("orphan", 1, 0u8), [] as [&str; 0]);
    drop(dropped);
    assert!(orphan.join().await.unwrap_err().is_cancelled());
    scope.wait().await.unwrap();
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn unknown_duplicate_and_self_keys_rejected() {
    let manager = manager().await;
    let scope = manager.scope("bad-graphs").await.unwrap();
    let log = Log::default();
    let cases: Vec<(Vec<Node>, GraphError)> = vec![
        (
            vec![("a", &[]), ("b", &["missing"])],
            GraphError::UnknownKey {
                task: "b".into(),
                key: "missing".into(),
            },
        ),
        (
            vec![("a", &[]), ("a", &[])],
            GraphError::DuplicateKey { key: "a".into() },
        ),
        (
            vec![("a", &["a"])],
            GraphError::SelfDependency { task: "a".into() },
        ),
    ];
    for (nodes, expected) in cases {
        let error = scope
            .spawn_graph(graph_that_records(&log, &nodes))
            .unwrap_err();
        match error {
            ScopeError::Graph(found) => assert_eq!(found, expected),
            other => panic!("unexpected {other}"),
        }
    }
    scope.wait().await.unwrap();
    assert!(log.entries().is_empty());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn dependency_on_other_scope_rejected() {
    let manager = manager().await;
    let first = manager.scope("first").await.unwrap();
    let second = manager.scope("second").await.unwrap();
    let elsewhere = first.spawn(work("elsewhere", 10, 1u8)).unwrap();
    let error = second
        .spawn(work("dependent", 10, 2u8).after(&elsewhere))
        .unwrap_err();
    match error {
        ScopeError::Graph(GraphError::OtherScope {
            task,
            dependency,
            dependency_id,
        }) => {
            assert_eq!(task.as_ref(), "dependent");
            assert_eq!(dependency.as_ref(), "elsewhere");
            assert_eq!(dependency_id, elsewhere.id());
        }
        other => panic!("unexpected {other}"),
    }
    // A graph task depending on another scope's task is rejected the same way, whole.
    let log = Log::default();
    let mut graph = graph_that_records(&log, &[("local", &[])]);
    graph.add("remote", work("remote", 1, ()).after(&elsewhere), ["local"]);
    assert!(matches!(
        second.spawn_graph(graph),
        Err(ScopeError::Graph(GraphError::OtherScope { .. }))
    ));
    first.wait().await.unwrap();
    second.wait().await.unwrap();
    assert!(log.entries().is_empty());
    manager.shutdown().await.unwrap();
}

#[test]
fn chain_validation_visits_each_edge_once() {
    const TASKS: usize = 10_000;
    let mut graph = TaskGraph::new();
    for index in 0..TASKS {
        let dependencies = if index == 0 {
            vec![]
        } else {
            vec![format!("k{}", index - 1)]
        };
        graph.add(
            format!("k{index}"),
            Task::new("step", |_ctx: Context| async { Ok::<_, BoxError>(()) }),
            dependencies,
        );
    }
    let start = std::time::Instant::now();
    let validation = graph.validate().unwrap();
    let took = start.elapsed();
    assert_eq!(validation.tasks, TASKS);
    assert_eq!(validation.edges, TASKS - 1);
    assert_eq!(validation.edges_visited, TASKS - 1);
    eprintln!("validated a {TASKS}-task chain in {took:?}");
}

#[tokio::test(start_paused = true)]
async fn chain_runs_in_order() {
    let manager = manager().await;
    let scope = manager.scope("chain").await.unwrap();
    let log = Log::default();
    let keys: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
    let mut graph = TaskGraph::new();
    // Added in reverse, so the order comes from the dependencies alone.
    for index in (0..keys.len()).rev() {
        let log = log.clone();
        let dependencies = if index == 0 {
            vec![]
        } else {
            vec![keys[index - 1].clone()]
        };
        graph.add(
            keys[index].clone(),
            Task::new(keys[index].clone(), move |_ctx: Context| async move {
                log.push(format!("{index}"));
                Ok::<_, BoxError>(())
            }),
            dependencies,
        );
    }
    scope.spawn_graph(graph).unwrap();
    scope.wait().await.unwrap();
    let expected: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    assert_eq!(log.entries(), expected);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn limit_one_starts_by_priority_then_order() {
    let manager = manager().await;
    let scope = manager
        .scope_with(ScopeOptions::new("limited").limit(1))
        .await
        .unwrap();
    let log = Log::default();
    // Occupies the only slot while the others queue up.
    scope.spawn(work("blocker", 100, ())).unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let mut queued = Vec::new();
    for (name, priority) in [
        ("low-1", 1),
        ("high-1", 10),
        ("mid", 5),
        ("high-2", 10),
        ("low-2", 1),
    ] {
        let log = log.clone();
        queued.push(
            scope
                .spawn(
                    Task::new(name, move |ctx: Context| async move {
                        log.push(ctx.name().to_string());
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        Ok::<_, BoxError>(())
                    })
                    .priority(priority),
                )
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Only the blocker holds the slot; the rest wait.
    assert!(queued.iter().all(|t| t.state() == TaskState::Pending));
    scope.wait().await.unwrap();
    assert_eq!(
        log.entries(),
        vec!["high-1", "high-2", "mid", "low-1", "low-2"]
    );
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn dependent_queues_behind_tasks_already_ready() {
    let manager = manager().await;
    let scope = manager
        .scope_with(ScopeOptions::new("limited").limit(1))
        .await
        .unwrap();
    let log = Log::default();
    let logged = |name: &'static str| {
        let log = log.clone();
        Task::new(name, move |_ctx: Context| async move {
            log.push(name.to_string());
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, BoxError>(())
        })
    };
    let first = scope.spawn(logged("first")).unwrap();
    // Added before "independent", but ready only when "first" ends, while "independent" has
    // been ready from the start.
    scope.spawn(logged("dependent").after(&first)).unwrap();
    scope.spawn(logged("independent")).unwrap();
    scope.wait().await.unwrap();
    assert_eq!(log.entries(), ["first", "independent", "dependent"]);
    manager.shutdown().await.unwrap();
}

/// A failing task claims the scope's error before its own state is final (it releases its
/// resources in between), so a dependent skipped in that window must still name the failure.
#[tokio::test(start_paused = true)]
async fn skip_names_failure_before_it_is_final() {
    let manager = manager().await;
    for round in 0..20 {
        let scope = manager.scope(format!("skip-{round}")).await.unwrap();
        let log = Log::default();
        let failing = scope
            .spawn(Task::new("failing", move |ctx: Context| async move {
                ctx.register(common::Recorded::new("held", &log))?;
                tokio::time::sleep(Duration::from_millis(10)).await;
                Err::<(), _>(fail("declined"))
            }))
            .unwrap();
        let dependent = scope
            .spawn(work("dependent", 1, ()).after(&failing))
            .unwrap();
        scope.wait().await.unwrap_err();
        match dependent.result() {
            Err(TaskError::Skipped {
                dependency_id,
                dependency_state,
                ..
            }) => {
                assert_eq!(dependency_id, failing.id());
                assert_eq!(dependency_state, TaskState::Failed);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    manager.shutdown().await.unwrap();
}

/// Dependents of a task that a cancellation stopped end cancelled with the scope's cause, not
/// skipped, whether the scope reads the task's end or the cancellation first.
#[tokio::test(start_paused = true)]
async fn dependents_of_cancelled_task_are_cancelled() {
    let manager = manager().await;
    for round in 0..20 {
        let scope = manager.scope(format!("cancel-{round}")).await.unwrap();
        let running = scope.spawn(work("running", 10_000, ())).unwrap();
        let dependent = scope
            .spawn(work("dependent", 1, ()).after(&running))
            .unwrap();
        let second = scope
            .spawn(work("second", 1, ()).after(&dependent))
            .unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        scope.cancel();
        let error = scope.wait().await.unwrap_err();
        assert!(error.is_cancelled(), "{error}");
        for handle in [&dependent, &second] {
            assert_eq!(handle.state(), TaskState::Cancelled, "{}", handle.name());
            match handle.result().unwrap_err().cancel_cause() {
                Some(CancelCause::UserCancelled { .. }) => {}
                other => panic!("unexpected cause {other:?}"),
            }
        }
    }
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn queued_tasks_cancelled_at_deadline() {
    let manager = manager().await;
    let scope = manager
        .scope_with(
            ScopeOptions::new("slow-queue")
                .limit(1)
                .deadline(Duration::from_millis(150)),
        )
        .await
        .unwrap();
    let handles: Vec<_> = (0..5)
        .map(|i| scope.spawn(work(&format!("q{i}"), 100, i)).unwrap())
        .collect();
    let error = scope.wait().await.unwrap_err();
    let deadline = CancelCause::DeadlinePassed {
        scope: "slow-queue".into(),
        after: Duration::from_millis(150),
    };
    assert_eq!(error.cancel_cause(), Some(&deadline));
    assert_eq!(handles[0].state(), TaskState::Completed);
    // The second was running when the deadline passed; the others never started.
    for handle in &handles[1..] {
        assert_eq!(handle.state(), TaskState::Cancelled);
        assert_eq!(handle.result().unwrap_err().cancel_cause(), Some(&deadline));
    }
    let stats = manager.stats();
    assert!(stats.tasks_balanced(), "{stats:?}");
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn waiting_tasks_hold_no_slot() {
    let manager = manager().await;
    let scope = manager
        .scope_with(ScopeOptions::new("waiting").limit(1))
        .await
        .unwrap();
    let first = scope.spawn(work("first", 50, 1u32)).unwrap();
    // Waits for `first` but must not block `independent` from the single slot.
    let dependent = scope
        .spawn(work("dependent", 10, 2u32).after(&first).priority(100))
        .unwrap();
    let independent = scope.spawn(work("independent", 10, 3u32)).unwrap();
    scope.wait().await.unwrap();
    for handle in [first, dependent, independent] {
        assert_eq!(handle.state(), TaskState::Completed);
    }
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn series_failure_stops_the_chain() {
    let manager = manager().await;
    let log = Log::default();
    let steps: Vec<Task<u32>> = (1..=5)
        .map(|step| {
            let log = log.clone();
            Task::new(format!("step-{step}"), move |_ctx: Context| async move {
                log.push(format!("started:{step}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                if step == 2 {
                    return Err(fail("step 2 broke"));
                }
                Ok::<_, BoxError>(step)
            })
        })
        .collect();
    let error = manager.series("five-steps", steps).await.unwrap_err();
    assert_eq!(error.task_error().unwrap().task().as_ref(), "step-2");
    assert_eq!(log.entries(), vec!["started:1", "started:2"]);
    let stats = manager.stats();
    assert_eq!(stats.tasks_skipped, 3);
    assert_eq!(stats.tasks_completed, 1);
    assert_eq!(stats.tasks_failed, 1);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn series_returns_values_in_order() {
    let manager = manager().await;
    let values = manager
        .series(
            "three",
            vec![work("a", 30, "a"), work("b", 20, "b"), work("c", 10, "c")],
        )
        .await
        .unwrap();
    assert_eq!(values, vec!["a", "b", "c"]);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn series_with_passes_outputs_on() {
    let manager = manager().await;
    let output = manager
        .series_with(
            "text",
            "  Hello World  ".to_string(),
            vec![
                Step::new("trim", |_ctx: Context, text: Arc<String>| async move {
                    Ok::<_, BoxError>(text.trim().to_string())
                }),
                Step::new("lower", |_ctx: Context, text: Arc<String>| async move {
                    Ok::<_, BoxError>(text.to_lowercase())
                }),
                Step::new("words", |_ctx: Context, text: Arc<String>| async move {
                    Ok::<_, BoxError>(text.split(' ').collect::<Vec<_>>().join("-"))
                }),
            ],
        )
        .await
        .unwrap();
    assert_eq!(output, "hello-world");
    let unchanged = manager.series_with("empty", 7u8, Vec::new()).await.unwrap();
    assert_eq!(unchanged, 7);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn parallel_keeps_input_order() {
    let manager = manager().await;
    let finished = Log::default();
    let tasks: Vec<Task<usize>> = (0..5)
        .map(|index| {
            let finished = finished.clone();
            Task::new(format!("p{index}"), move |_ctx: Context| async move {
                // The first finishes last.
                tokio::time::sleep(Duration::from_millis(100 - 20 * index as u64)).await;
                finished.push(index.to_string());
                Ok::<_, BoxError>(index * 100)
            })
        })
        .collect();
    let values = manager.parallel("ordered", tasks).await.unwrap();
    assert_eq!(values, vec![0, 100, 200, 300, 400]);
    assert_eq!(finished.entries(), vec!["4", "3", "2", "1", "0"]);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn parallel_first_failure_is_the_error() {
    let manager = manager().await;
    let tasks = vec![
        work("slow", 10_000, 1u8),
        failing("broken", 20),
        work("quick", 5, 3u8),
    ];
    let error = manager.parallel("failing", tasks).await.unwrap_err();
    assert_eq!(error.task_error().unwrap().task().as_ref(), "broken");
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn cancel_dependents_lets_other_branches_finish() {
    let manager = manager().await;
    let scope = manager
        .scope_with(ScopeOptions::new("branches").failure_policy(FailurePolicy::CancelDependents))
        .await
        .unwrap();
    // Branch A fails at its root; branch B is independent and slower.
    let a_root = scope.spawn(failing::<u32>("a-root", 10)).unwrap();
    let a_leaf = scope
        .spawn(work("a-leaf", 10, 1u32).after(&a_root))
        .unwrap();
    let a_deeper = scope
        .spawn(work("a-deeper", 10, 2u32).after(&a_leaf))
        .unwrap();
    let b_root = scope.spawn(work("b-root", 50, 10u32)).unwrap();
    let b_leaf = scope
        .spawn(work("b-leaf", 50, 20u32).after(&b_root))
        .unwrap();

    let error = scope.wait().await.unwrap_err();
    assert_eq!(error.task_error().unwrap().task().as_ref(), "a-root");
    assert_eq!(a_leaf.state(), TaskState::Skipped);
    assert_eq!(a_deeper.state(), TaskState::Skipped);
    match a_deeper.result().unwrap_err() {
        TaskError::Skipped {
            dependency,
            dependency_state,
            ..
        } => {
            assert_eq!(dependency.as_ref(), "a-leaf");
            assert_eq!(dependency_state, TaskState::Skipped);
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(*b_root.result().unwrap(), 10);
    assert_eq!(*b_leaf.result().unwrap(), 20);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn dependents_read_results_without_waiting() {
    let manager = manager().await;
    let scope = manager.scope("reads").await.unwrap();
    let big = scope
        .spawn(work("big", 10, Arc::new(vec![7u8; 1 << 20])))
        .unwrap();
    let dependency = big.clone();
    let reader = scope
        .spawn(
            Task::new("reader", move |ctx: Context| async move {
                let value = ctx.dependency(&dependency)?;
                // Shared, not copied: the same allocation as the dependency's result.
                Ok::<_, BoxError>((value.len(), Arc::as_ptr(&value) as usize))
            })
            .after(&big),
        )
        .unwrap();
    scope.wait().await.unwrap();
    let (len, address) = *reader.result().unwrap();
    assert_eq!(len, 1 << 20);
    assert_eq!(address, Arc::as_ptr(&big.result().unwrap()) as usize);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn after_finished_dependency() {
    let manager = manager().await;
    let scope = manager.scope("late-dependents").await.unwrap();
    let done = scope.spawn(work("done", 1, 5u8)).unwrap();
    let broken = scope.spawn(failing::<u8>("broken", 1)).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    // The scope was cancelled by `broken`, so new work is rejected.
    assert!(scope.spawn(work("late", 1, 1u8).after(&done)).is_err());
    let _ = scope.wait().await;
    assert_eq!(broken.state(), TaskState::Failed);

    let policy = manager
        .scope_with(ScopeOptions::new("policy").failure_policy(FailurePolicy::CancelDependents))
        .await
        .unwrap();
    let done = policy.spawn(work("done", 1, 5u8)).unwrap();
    let broken = policy.spawn(failing::<u8>("broken", 1)).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let after_done = policy
        .spawn(work("after-done", 1, 6u8).after(&done))
        .unwrap();
    let after_broken = policy
        .spawn(work("after-broken", 1, 7u8).after(&broken))
        .unwrap();
    let _ = policy.wait().await;
    assert_eq!(*after_done.result().unwrap(), 6);
    assert_eq!(after_broken.state(), TaskState::Skipped);
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn nested_with_timeout_composes() {
    let manager = manager().await;
    let start = tokio::time::Instant::now();
    let inner_error = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&inner_error);
    let outer = manager
        .with_timeout(
            "outer",
            Duration::from_millis(200),
            move |scope| async move {
                scope.spawn(Task::new("nests", move |ctx: Context| async move {
                    // Asks for more time than the outer deadline leaves.
                    let result = ctx
                        .with_timeout("inner", Duration::from_secs(60), |inner| async move {
                            inner.spawn(work("slow", 60_000, ()))?;
                            inner.wait().await
                        })
                        .await;
                    *seen.lock().unwrap() = Some(result);
                    Ok::<_, BoxError>(())
                }))?;
                scope.wait().await
            },
        )
        .await;
    assert!(start.elapsed() < Duration::from_millis(300));
    assert!(
        matches!(outer, Err(ScopeError::TimedOut { .. })),
        "{outer:?}"
    );
    // The inner call saw its parent's deadline, not its own 60 s.
    let inner = inner_error.lock().unwrap().take();
    if let Some(inner) = inner {
        let error = inner.unwrap_err();
        assert!(
            matches!(
                error.cancel_cause().map(CancelCause::root),
                Some(CancelCause::DeadlinePassed { scope, .. }) if scope.as_ref() == "outer"
            ),
            "{error}"
        );
    }

    // An inner deadline shorter than the outer one is its own timeout.
    let result = manager
        .with_timeout("outer-2", Duration::from_secs(10), |scope| async move {
            let nested = scope.spawn(Task::new("nests", |ctx: Context| async move {
                let inner = ctx
                    .with_timeout("inner-2", Duration::from_millis(50), |inner| async move {
                        inner.spawn(work("slow", 1_000, ()))?;
                        inner.wait().await
                    })
                    .await;
                Ok::<_, BoxError>(matches!(inner, Err(ScopeError::TimedOut { .. })))
            }))?;
            scope.wait().await?;
            Ok(*nested.result().unwrap())
        })
        .await;
    assert!(result.unwrap());
    manager.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn progress_is_monotonic_and_matches_stats() {
    let manager = manager().await;
    let scope = manager.scope("watched").await.unwrap();
    let mut progress = scope.progress();
    let collector = tokio::spawn(async move {
        let mut seen = vec![progress.borrow_and_update().clone()];
        while progress.changed().await.is_ok() {
            seen.push(progress.borrow_and_update().clone());
        }
        seen
    });
    let mut random = XorShift(7);
    let first = scope.spawn(work("first", 5, 0u64)).unwrap();
    for index in 0..100u64 {
        let task = match random.below(5) {
            0 => failing("fails", random.below(40)),
            _ => work("works", random.below(40), index),
        };
        let task = if index % 7 == 0 {
            task.after(&first)
        } else {
            task
        };
        scope.spawn(task).unwrap();
    }
    let _ = scope.wait().await;
    let seen = collector.await.unwrap();
    assert!(seen.len() > 2);
    for pair in seen.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        assert!(after.added >= before.added);
        assert!(after.done() >= before.done());
        assert!(after.completed >= before.completed);
        assert!(after.failed >= before.failed);
        assert!(after.cancelled >= before.cancelled);
        assert!(after.skipped >= before.skipped);
    }
    let last = seen.last().unwrap();
    let stats = manager.stats();
    assert_eq!(last.added, stats.tasks_added);
    assert_eq!(last.completed, stats.tasks_completed);
    assert_eq!(last.failed, stats.tasks_failed);
    assert_eq!(last.cancelled, stats.tasks_cancelled);
    assert_eq!(last.skipped, stats.tasks_skipped);
    assert_eq!(last.done(), last.added);
    manager.shutdown().await.unwrap();
}
