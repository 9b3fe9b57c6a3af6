//! Property tests: random task graphs with random faults, resources, a shared pool and a shared
//! breaker, and random interruptions, each case checked against every guarantee of a scope.
//!
//! Each case runs on its own current-thread runtime with tokio's clock paused, so a case is
//! deterministic and virtual time costs nothing. Task `i` reaches its outcome at the virtual
//! instant `(i + 1) * STEP` after the scope opened, and depends only on tasks with smaller
//! indices. So every outcome happens at a distinct instant, and the first failure is well
//! defined. Interruptions (a manager shutdown, a dropped scope handle, a user's cancel) and the
//! scope's deadline fall halfway between two outcomes. A small model (`expect`) computes what
//! each task and the scope must end as; the run is compared with it.
//!
//! Replaying a failure: the seed is fixed (`SEED`), so `cargo test --test properties` runs the
//! same cases every time. `PROPTEST_RNG_SEED=<u64>` runs other cases and `PROPTEST_CASES=<n>`
//! more of them. When a case fails, proptest prints the minimal failing input and appends its
//! seed to `tests/properties.proptest-regressions`. Every later run replays the seeds in that
//! file first, so commit it with the fix.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{counting_pool, fail, quiet_injected_panics, Log, INJECTED_PANIC};
use proptest::prelude::*;
use proptest::sample::Index;
use ractor::{ActorCell, ActorStatus};
use ractor_scope::{
    live_actors, ActorKind, BoxError, CancelCause, CircuitBreaker, Context, FailurePolicy, Manager,
    ManagerConfig, Resource, ResourcePool, ScopeError, ScopeOptions, ScopeRef, Task, TaskError,
    TaskGraph, TaskHandle, TaskState,
};
use tokio::time::Instant;

/// Virtual time between two task outcomes.
const STEP: Duration = Duration::from_secs(1);
/// Interruptions and the deadline fall this long after a step, between two outcomes.
const HALF_STEP: Duration = Duration::from_millis(500);
const MAX_TASKS: usize = 200;
/// The fixed seed of the default run; see the module docs for running others.
const SEED: u64 = 0x5eed_0fba_5ec0_de00;
/// Per-mille chances that a task does not simply succeed, one picked per case.
const FAULT_RATES: [u32; 5] = [0, 20, 60, 150, 300];
/// Bounds every wait in virtual time, so a hang fails the case instead of blocking it.
const BOUND: Duration = Duration::from_secs(100_000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeed,
    Fail,
    Panic,
    /// Waits until cancelled.
    Hang,
    /// Waits past its own timeout, which ends at the task's instant.
    TimeOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PoolUse {
    /// Takes an item for a millisecond, then gives it back.
    Brief,
    /// Keeps an item until the body ends or is dropped.
    Hold,
}

#[derive(Clone)]
struct TaskPlan {
    outcome: Outcome,
    /// Indices of the tasks this one depends on, all smaller than its own (repeats allowed).
    deps: Vec<usize>,
    /// Resources registered when the body starts; `true` marks one whose release fails.
    resources: Vec<bool>,
    pool: Option<PoolUse>,
    /// A call through the shared breaker whose operation succeeds (`true`) or fails.
    breaker: Option<bool>,
}

/// One line per task, so that a failing case prints readably.
impl std::fmt::Debug for TaskPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} after {:?}", self.outcome, self.deps)?;
        if !self.resources.is_empty() {
            write!(f, ", resources (failing) {:?}", self.resources)?;
        }
        if let Some(pool) = self.pool {
            write!(f, ", pool {pool:?}")?;
        }
        if let Some(succeeds) = self.breaker {
            write!(f, ", breaker call succeeds: {succeeds}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    None,
    /// `Manager::shutdown` at `k * STEP + HALF_STEP`.
    Shutdown(usize),
    /// The `wait` future (and with it the `Scope` handle) dropped at `k * STEP + HALF_STEP`.
    DropHandle(usize),
    /// `ScopeRef::cancel` at `k * STEP + HALF_STEP`.
    Cancel(usize),
}

impl Interrupt {
    fn step(self) -> Option<usize> {
        match self {
            Interrupt::None => None,
            Interrupt::Shutdown(k) | Interrupt::DropHandle(k) | Interrupt::Cancel(k) => Some(k),
        }
    }
}

#[derive(Clone)]
struct Case {
    tasks: Vec<TaskPlan>,
    /// Resources registered with the scope before any task; `true` marks a failing release.
    scope_resources: Vec<bool>,
    /// Adds the tasks to the graph from the last to the first.
    add_reversed: bool,
    interrupt: Interrupt,
    policy: FailurePolicy,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Case {{")?;
        for (index, task) in self.tasks.iter().enumerate() {
            writeln!(f, "    t{index}: {task:?}")?;
        }
        writeln!(
            f,
            "    scope resources (failing): {:?}",
            self.scope_resources
        )?;
        writeln!(f, "    added last to first: {}", self.add_reversed)?;
        writeln!(f, "    interrupt: {:?}", self.interrupt)?;
        writeln!(f, "    failure policy: {:?}", self.policy)?;
        write!(f, "}}")
    }
}

/// A task before its dependency indices are resolved against its own index. Every part
/// shrinks towards a plain task that succeeds.
type RawTask = (u32, Vec<Index>, Vec<u32>, u8, u8);

fn raw_task() -> impl Strategy<Value = RawTask> {
    (
        0u32..1000,
        prop::collection::vec(any::<Index>(), 0..=3),
        prop::collection::vec(0u32..100, 0..=3),
        // 0 and 1 use the pool or the breaker; the rest do not. Shrinks to "does not".
        (0u8..6).prop_map(|roll| 5 - roll),
        (0u8..6).prop_map(|roll| 5 - roll),
    )
}

/// Per-cent chances that a release fails, one picked per case.
const RELEASE_FAULT_RATES: [u32; 3] = [0, 0, 5];

fn resolve(index: usize, fault_rate: u32, release_fault_rate: u32, raw: RawTask) -> TaskPlan {
    let (roll, deps, resources, pool, breaker) = raw;
    let outcome = match roll {
        roll if roll < 1000 - fault_rate => Outcome::Succeed,
        roll => [
            Outcome::Fail,
            Outcome::Panic,
            Outcome::Hang,
            Outcome::TimeOut,
        ][roll as usize % 4],
    };
    let deps = match index {
        0 => Vec::new(),
        _ => deps.iter().map(|dep| dep.index(index)).collect(),
    };
    TaskPlan {
        outcome,
        deps,
        resources: resources
            .into_iter()
            .map(|roll| roll >= 100 - release_fault_rate)
            .collect(),
        pool: match pool {
            0 => Some(PoolUse::Brief),
            1 => Some(PoolUse::Hold),
            _ => None,
        },
        breaker: match breaker {
            0 => Some(true),
            1 => Some(false),
            _ => None,
        },
    }
}

/// An interruption kind (0 for none) and its step, resolved against the number of tasks.
type RawInterrupt = (u8, Index);

fn raw_interrupt() -> impl Strategy<Value = RawInterrupt> {
    (
        prop_oneof![2 => Just(0u8), 1 => Just(1), 1 => Just(2), 1 => Just(3)],
        any::<Index>(),
    )
}

fn case(policy: FailurePolicy) -> impl Strategy<Value = Case> {
    // No `prop_flat_map`: a flat map shrinks poorly, so every count-dependent part is drawn as
    // an `Index` and resolved afterwards.
    (
        (
            prop::sample::select(FAULT_RATES.to_vec()),
            prop::sample::select(RELEASE_FAULT_RATES.to_vec()),
        ),
        prop::collection::vec(raw_task(), 1..=MAX_TASKS),
        prop::collection::vec(0u32..100, 0..=3),
        any::<bool>(),
        raw_interrupt(),
    )
        .prop_map(
            move |(rates, raw, scope_resources, add_reversed, (kind, step))| {
                let (fault_rate, release_fault_rate) = rates;
                let step = step.index(raw.len());
                Case {
                    tasks: raw
                        .into_iter()
                        .enumerate()
                        .map(|(index, raw)| resolve(index, fault_rate, release_fault_rate, raw))
                        .collect(),
                    scope_resources: scope_resources
                        .into_iter()
                        .map(|roll| roll >= 100 - release_fault_rate)
                        .collect(),
                    add_reversed,
                    interrupt: match kind {
                        1 => Interrupt::Shutdown(step),
                        2 => Interrupt::DropHandle(step),
                        3 => Interrupt::Cancel(step),
                        _ => Interrupt::None,
                    },
                    policy,
                }
            },
        )
}

/// What ends the scope's work early when no task failed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Interrupt,
    Deadline,
}

/// The end state the model predicts for a case.
#[derive(Debug)]
struct Expected {
    states: Vec<TaskState>,
    ran: Vec<bool>,
    first_failure: Option<usize>,
    /// Set when an interruption or the deadline cut work short (under `CancelScope`, only when
    /// no task failed before it).
    stopped_by: Option<Stop>,
}

/// Computes each task's final state from the plan. Times are counted in half steps: task `i`
/// ends at `2 * (i + 1)`, an interruption at step `k` lands at `2 * k + 1`, and the deadline at
/// `2 * tasks + 1`.
fn expect(case: &Case) -> Expected {
    let tasks = case.tasks.len();
    let deadline_at = 2 * tasks + 1;
    let interrupt_at = case.interrupt.step().map(|k| 2 * k + 1);
    let mut stop_at = interrupt_at.unwrap_or(usize::MAX).min(deadline_at);
    let mut states = vec![TaskState::Pending; tasks];
    let mut ran = vec![false; tasks];
    let mut first_failure = None;

    // In index order, which is the order of the instants.
    for (index, plan) in case.tasks.iter().enumerate() {
        // A task starts when its last dependency completes, which is before any stop.
        if !plan.deps.iter().all(|&d| states[d] == TaskState::Completed) {
            let skipped = plan.deps.iter().any(|&d| {
                matches!(
                    states[d],
                    TaskState::Failed | TaskState::TimedOut | TaskState::Skipped
                )
            });
            states[index] = match skipped {
                true => TaskState::Skipped,
                false => TaskState::Cancelled,
            };
            continue;
        }
        ran[index] = true;
        let at = 2 * (index + 1);
        if at > stop_at {
            states[index] = TaskState::Cancelled;
            continue;
        }
        states[index] = match plan.outcome {
            Outcome::Succeed => TaskState::Completed,
            // The deadline always comes, so a hanging task is always cancelled.
            Outcome::Hang => TaskState::Cancelled,
            Outcome::Fail | Outcome::Panic | Outcome::TimeOut => {
                first_failure = first_failure.or(Some(index));
                // Under `CancelDependents` only the dependents stop, through the skip above.
                if case.policy == FailurePolicy::CancelScope {
                    stop_at = at;
                }
                match plan.outcome {
                    Outcome::TimeOut => TaskState::TimedOut,
                    _ => TaskState::Failed,
                }
            }
        };
    }

    // Only a stop cancels a task, apart from the first failure under `CancelScope`.
    let failure_stopped = case.policy == FailurePolicy::CancelScope && first_failure.is_some();
    let cut_short = states.contains(&TaskState::Cancelled);
    let stopped_by = match (failure_stopped, cut_short) {
        (false, true) if interrupt_at.is_some_and(|at| at < deadline_at) => Some(Stop::Interrupt),
        (false, true) => Some(Stop::Deadline),
        _ => None,
    };
    Expected {
        states,
        ran,
        first_failure,
        stopped_by,
    }
}

/// A resource that logs `released:<name>` and fails its release when asked to.
struct Released {
    name: String,
    log: Log,
    fails: bool,
}

impl Resource for Released {
    type Error = std::io::Error;

    async fn release(self) -> Result<(), Self::Error> {
        self.log.push(format!("released:{}", self.name));
        match self.fails {
            true => Err(std::io::Error::other(format!(
                "injected release failure of {}",
                self.name
            ))),
            false => Ok(()),
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// What every task body of a case shares.
#[derive(Clone)]
struct Shared {
    log: Log,
    /// Things that must not happen inside a body (a rejected registration, a failed acquire).
    problems: Log,
    ran: Arc<Vec<AtomicBool>>,
    pool: ResourcePool<u64>,
    breaker: CircuitBreaker,
}

fn task(index: usize, plan: &TaskPlan, t0: Instant, shared: &Shared) -> Task<()> {
    let at = t0 + STEP * (index as u32 + 1);
    let plan_in_body = plan.clone();
    let shared = shared.clone();
    let task = Task::new(format!("t{index}"), move |ctx: Context| async move {
        let plan = plan_in_body;
        shared.ran[index].store(true, Ordering::SeqCst);
        for (k, &fails) in plan.resources.iter().enumerate() {
            let resource = Released {
                name: format!("t{index}.r{k}"),
                log: shared.log.clone(),
                fails,
            };
            if let Err(error) = ctx.register(resource) {
                shared
                    .problems
                    .push(format!("t{index}: register failed: {error}"));
            }
        }

        // Held until the body ends or is dropped.
        let mut _held = None;
        if let Some(pool_use) = plan.pool {
            match shared.pool.acquire(&ctx).await {
                Ok(item) if pool_use == PoolUse::Hold => _held = Some(item),
                Ok(item) => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    drop(item);
                }
                Err(error) => shared
                    .problems
                    .push(format!("t{index}: acquire failed: {error}")),
            }
        }
        if let Some(succeeds) = plan.breaker {
            // The outcome does not matter: an open breaker rejects, and a hanging call times
            // out or is dropped with the body.
            let _ = match plan.outcome {
                Outcome::Hang => {
                    shared
                        .breaker
                        .call_with(&ctx, std::future::pending::<Result<(), std::io::Error>>)
                        .await
                }
                _ => {
                    shared
                        .breaker
                        .call_with(&ctx, || async move {
                            match succeeds {
                                true => Ok(()),
                                false => Err(std::io::Error::other("injected call failure")),
                            }
                        })
                        .await
                }
            };
        }

        match plan.outcome {
            Outcome::Succeed => {
                tokio::time::sleep_until(at).await;
                Ok(())
            }
            Outcome::Fail => {
                tokio::time::sleep_until(at).await;
                Err(fail(&format!("injected failure of t{index}")))
            }
            Outcome::Panic => {
                tokio::time::sleep_until(at).await;
                panic!("{INJECTED_PANIC} in t{index}")
            }
            Outcome::Hang | Outcome::TimeOut => {
                std::future::pending::<()>().await;
                Ok::<(), BoxError>(())
            }
        }
    });
    match plan.outcome {
        // The task starts when its last dependency completes, at that dependency's instant.
        Outcome::TimeOut => {
            let starts_at_step = plan.deps.iter().map(|&d| d + 1).max().unwrap_or(0);
            task.timeout(STEP * (index + 1 - starts_at_step) as u32)
        }
        _ => task,
    }
}

/// Records the cells of the manager's live actors at a few instants, to check their ractor
/// status after the shutdown.
fn spy(manager_id: u64, t0: Instant, tasks: usize, seen: Arc<Mutex<HashMap<u64, ActorCell>>>) {
    let every = (tasks / 16).max(1);
    tokio::spawn(async move {
        let mut instants = vec![t0 + Duration::from_millis(1)];
        instants.extend(
            (0..tasks)
                .step_by(every)
                .map(|k| t0 + STEP * k as u32 + STEP / 4),
        );
        for instant in instants {
            tokio::time::sleep_until(instant).await;
            let mut seen = seen.lock().unwrap();
            for actor in live_actors().into_iter().filter(|a| a.root == manager_id) {
                seen.insert(actor.id, actor.cell);
            }
        }
    });
}

/// What a case run produced, for the checks.
struct Run {
    /// The result of `wait`, unless its future was dropped first.
    result: Option<Result<(), ScopeError>>,
    scope: ScopeRef,
    handles: Vec<TaskHandle<()>>,
    shared: Shared,
    manager: Manager,
    seen: Arc<Mutex<HashMap<u64, ActorCell>>>,
}

async fn run(case: &Case) -> Run {
    let tasks = case.tasks.len();
    let manager = Manager::start(
        ManagerConfig::new("properties").shutdown_timeout(Duration::from_secs(3_600)),
    )
    .await
    .unwrap();
    let log = Log::default();

    // Room for every holder plus two, so no task waits past its own step.
    let holders = case
        .tasks
        .iter()
        .filter(|t| t.pool == Some(PoolUse::Hold))
        .count();
    let pool = counting_pool("shared-pool", holders + 2).await;
    manager.register(pool.clone()).unwrap();
    manager
        .register(Released {
            name: "m.r0".to_string(),
            log: log.clone(),
            fails: false,
        })
        .unwrap();
    let breaker = CircuitBreaker::builder()
        .name("shared-breaker")
        .failure_threshold(2)
        .reset_timeout(Duration::from_millis(1_500))
        .call_timeout(Duration::from_millis(2_500))
        .start()
        .await
        .unwrap();
    let shared = Shared {
        log: log.clone(),
        problems: Log::default(),
        ran: Arc::new((0..tasks).map(|_| AtomicBool::new(false)).collect()),
        pool,
        breaker,
    };

    let deadline = STEP * tasks as u32 + HALF_STEP;
    let scope = manager
        .scope_with(
            ScopeOptions::new("case")
                .deadline(deadline)
                .failure_policy(case.policy),
        )
        .await
        .unwrap();
    let t0 = Instant::now();
    let scope_ref = scope.handle();
    for (k, &fails) in case.scope_resources.iter().enumerate() {
        let resource = Released {
            name: format!("s.r{k}"),
            log: log.clone(),
            fails,
        };
        scope.register(resource).unwrap();
    }

    let mut graph = TaskGraph::new();
    let mut handles: Vec<Option<TaskHandle<()>>> = vec![None; tasks];
    let mut order: Vec<usize> = (0..tasks).collect();
    if case.add_reversed {
        order.reverse();
    }
    for index in order {
        let plan = &case.tasks[index];
        let deps = plan.deps.iter().map(|d| format!("k{d}"));
        let handle = graph.add(format!("k{index}"), task(index, plan, t0, &shared), deps);
        handles[index] = Some(handle);
    }
    scope.spawn_graph(graph).unwrap();
    let seen = Arc::new(Mutex::new(HashMap::new()));
    spy(manager.id().as_u64(), t0, tasks, Arc::clone(&seen));

    let interrupt_at = case
        .interrupt
        .step()
        .map(|k| t0 + STEP * k as u32 + HALF_STEP);
    let mut interrupter = None;
    let result = match (case.interrupt, interrupt_at) {
        (Interrupt::DropHandle(_), Some(at)) => {
            tokio::time::timeout_at(at, scope.wait()).await.ok()
        }
        (Interrupt::Shutdown(_), Some(at)) => {
            let manager = manager.clone();
            interrupter = Some(tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                manager.shutdown().await
            }));
            Some(bounded("wait", scope.wait()).await)
        }
        (Interrupt::Cancel(_), Some(at)) => {
            let scope_ref = scope_ref.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                scope_ref.cancel();
            });
            Some(bounded("wait", scope.wait()).await)
        }
        _ => Some(bounded("wait", scope.wait()).await),
    };

    if let Some(interrupter) = interrupter {
        let shutdown = bounded("the interrupting shutdown", interrupter).await;
        assert!(matches!(shutdown, Ok(Ok(()))), "{shutdown:?}");
    }
    let shutdown = bounded("shutdown", manager.shutdown()).await;
    assert!(shutdown.is_ok(), "{shutdown:?}");

    Run {
        result,
        scope: scope_ref,
        handles: handles
            .into_iter()
            .map(|h| h.expect("every task added"))
            .collect(),
        shared,
        manager,
        seen,
    }
}

async fn bounded<F: std::future::Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(BOUND, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what} did not return within {BOUND:?} of virtual time"),
    }
}

/// The cause the scope must have been cancelled with, when something cancelled it.
fn expected_cause(case: &Case, expected: &Expected, run: &Run) -> Option<CancelCause> {
    let failed = expected
        .first_failure
        .filter(|_| case.policy == FailurePolicy::CancelScope);
    if let Some(failed) = failed {
        return Some(CancelCause::SiblingFailed {
            scope: "case".into(),
            task: format!("t{failed}").into(),
            task_id: run.handles[failed].id(),
        });
    }
    match (expected.stopped_by?, case.interrupt) {
        (Stop::Deadline, _) => Some(CancelCause::DeadlinePassed {
            scope: "case".into(),
            after: STEP * case.tasks.len() as u32 + HALF_STEP,
        }),
        (Stop::Interrupt, Interrupt::Shutdown(_)) => Some(CancelCause::ManagerShutdown),
        (Stop::Interrupt, Interrupt::DropHandle(_)) => Some(CancelCause::HandleDropped {
            scope: "case".into(),
        }),
        (Stop::Interrupt, Interrupt::Cancel(_)) => Some(CancelCause::UserCancelled {
            scope: "case".into(),
        }),
        (Stop::Interrupt, Interrupt::None) => unreachable!("an interrupt stopped the scope"),
    }
}

fn check_scope_error(case: &Case, expected: &Expected, run: &Run) {
    let cause = expected_cause(case, expected, run);
    if cause.is_some() {
        assert_eq!(run.scope.cancel_cause(), cause, "the scope's cancel cause");
    }
    let Some(result) = &run.result else {
        // The wait future was dropped: only a cancellation by that drop can be in progress.
        assert_eq!(
            expected.stopped_by,
            Some(Stop::Interrupt),
            "wait was dropped early"
        );
        return;
    };

    // The first failure, never a cancellation it caused.
    if let Some(failed) = expected.first_failure {
        let error = result.as_ref().expect_err("the scope failed");
        let task_error = error
            .task_error()
            .expect("a task failure is the scope's error");
        assert_eq!(task_error.task_id(), run.handles[failed].id(), "{error}");
        match case.tasks[failed].outcome {
            Outcome::Fail => assert!(matches!(task_error, TaskError::Failed { .. }), "{error}"),
            Outcome::Panic => match task_error {
                TaskError::Panicked { message, .. } => {
                    assert!(message.contains(INJECTED_PANIC), "{message}")
                }
                other => panic!("expected a panic, got {other}"),
            },
            Outcome::TimeOut => {
                assert!(matches!(task_error, TaskError::TimedOut { .. }), "{error}")
            }
            other => panic!("the model made a {other:?} task fail"),
        }
        return;
    }
    if expected.stopped_by.is_some() {
        let error = result.as_ref().expect_err("the scope was cancelled");
        assert_eq!(error.cancel_cause(), cause.as_ref(), "{error}");
        return;
    }
    let release_fails = case.scope_resources.iter().any(|&f| f)
        || case
            .tasks
            .iter()
            .zip(&expected.ran)
            .any(|(plan, &ran)| ran && plan.resources.iter().any(|&f| f));
    match release_fails {
        true => assert!(
            matches!(result, Err(ScopeError::ReleaseFailed { .. })),
            "{result:?}"
        ),
        false => assert!(result.is_ok(), "{result:?}"),
    }
}

fn check_tasks(case: &Case, expected: &Expected, run: &Run) {
    let problems = run.shared.problems.entries();
    assert!(problems.is_empty(), "{problems:?}");
    for (index, handle) in run.handles.iter().enumerate() {
        let ran = run.shared.ran[index].load(Ordering::SeqCst);
        assert_eq!(handle.state(), expected.states[index], "state of t{index}");
        assert_eq!(ran, expected.ran[index], "whether t{index} ran");
    }

    // Every dependent of a failed task was skipped, naming a dependency that did not
    // complete, and never ran.
    for (failed, state) in expected.states.iter().enumerate() {
        if !matches!(state, TaskState::Failed | TaskState::TimedOut) {
            continue;
        }
        for (index, plan) in case.tasks.iter().enumerate() {
            if !plan.deps.contains(&failed) {
                continue;
            }
            assert_eq!(run.handles[index].state(), TaskState::Skipped, "t{index}");
            assert!(
                !run.shared.ran[index].load(Ordering::SeqCst),
                "t{index} ran"
            );
            match run.handles[index].result() {
                Err(TaskError::Skipped {
                    dependency_state, ..
                }) => assert!(
                    matches!(
                        dependency_state,
                        TaskState::Failed | TaskState::TimedOut | TaskState::Skipped
                    ),
                    "t{index} skipped for a dependency that was {dependency_state}"
                ),
                other => panic!("t{index}: {other:?}"),
            }
        }
    }

    // Cancelled tasks carry the scope's cause.
    let cause = run.scope.cancel_cause();
    for (index, handle) in run.handles.iter().enumerate() {
        if let Err(TaskError::Cancelled { cause: got, .. }) = handle.result() {
            assert_eq!(Some(got), cause, "cause of t{index}");
        }
    }
}

fn check_resources(case: &Case, expected: &Expected, run: &Run) {
    let released = run.shared.log.entries();

    // Exactly once each: the resources of the tasks that ran, the scope's and the manager's.
    let mut wanted: Vec<String> = case
        .tasks
        .iter()
        .enumerate()
        .filter(|(index, _)| expected.ran[*index])
        .flat_map(|(index, plan)| {
            (0..plan.resources.len()).map(move |k| format!("released:t{index}.r{k}"))
        })
        .chain((0..case.scope_resources.len()).map(|k| format!("released:s.r{k}")))
        .chain(["released:m.r0".to_string()])
        .collect();
    let mut got = released.clone();
    wanted.sort();
    got.sort();
    assert_eq!(got, wanted, "released resources");

    // Reverse order within each owner.
    let position = |name: &str| {
        released
            .iter()
            .position(|entry| entry == &format!("released:{name}"))
            .expect("released")
    };
    for (index, plan) in case.tasks.iter().enumerate() {
        if !expected.ran[index] {
            continue;
        }
        for k in 1..plan.resources.len() {
            assert!(
                position(&format!("t{index}.r{k}")) < position(&format!("t{index}.r{}", k - 1)),
                "resources of t{index} not released in reverse order: {released:?}"
            );
        }
    }
    for k in 1..case.scope_resources.len() {
        assert!(
            position(&format!("s.r{k}")) < position(&format!("s.r{}", k - 1)),
            "resources of the scope not released in reverse order: {released:?}"
        );
    }

    // Across owners: every task's before the scope's, the manager's last.
    let first_of_scope = released.iter().position(|e| e.starts_with("released:s."));
    let last_of_tasks = released.iter().rposition(|e| e.starts_with("released:t"));
    if let (Some(scope), Some(tasks)) = (first_of_scope, last_of_tasks) {
        assert!(
            tasks < scope,
            "a scope resource released before a task's: {released:?}"
        );
    }
    assert_eq!(
        released.last().map(String::as_str),
        Some("released:m.r0"),
        "the manager's resource is not released last"
    );
}

fn check_actors(run: &Run) {
    let manager_id = run.manager.id().as_u64();
    let live: Vec<_> = live_actors()
        .into_iter()
        .filter(|actor| actor.root == manager_id)
        .map(|actor| format!("{} {}", actor.kind, actor.name))
        .collect();
    assert!(live.is_empty(), "still registered: {live:?}");
    let seen = run.seen.lock().unwrap();
    assert!(!seen.is_empty(), "the spy saw no actor");
    for (id, cell) in seen.iter() {
        assert_eq!(cell.get_status(), ActorStatus::Stopped, "actor {id}");
    }
    let manager_cell = run.manager.actor().expect("the manager's actor");
    assert_eq!(manager_cell.get_status(), ActorStatus::Stopped);
    assert!(
        run.manager
            .live_actors()
            .iter()
            .all(|a| a.kind != ActorKind::Scope),
        "a scope is still live"
    );
}

fn check_stats(case: &Case, expected: &Expected, run: &Run) {
    let stats = run.manager.stats();
    let count = |state: TaskState| expected.states.iter().filter(|&&s| s == state).count() as u64;
    assert!(stats.tasks_balanced(), "{stats:?}");
    assert_eq!(stats.tasks_added, case.tasks.len() as u64, "{stats:?}");
    assert_eq!(stats.tasks_pending + stats.tasks_running, 0, "{stats:?}");
    assert_eq!(
        stats.tasks_completed,
        count(TaskState::Completed),
        "{stats:?}"
    );
    assert_eq!(stats.tasks_failed, count(TaskState::Failed), "{stats:?}");
    assert_eq!(
        stats.tasks_timed_out,
        count(TaskState::TimedOut),
        "{stats:?}"
    );
    assert_eq!(
        stats.tasks_cancelled,
        count(TaskState::Cancelled),
        "{stats:?}"
    );
    assert_eq!(stats.tasks_skipped, count(TaskState::Skipped), "{stats:?}");

    let (mut registered, mut failing) = (0, 0);
    for (plan, &ran) in case.tasks.iter().zip(&expected.ran) {
        if ran {
            registered += plan.resources.len() as u64;
            failing += plan.resources.iter().filter(|&&f| f).count() as u64;
        }
    }
    registered += case.scope_resources.len() as u64;
    failing += case.scope_resources.iter().filter(|&&f| f).count() as u64;
    // The manager's own: the pool and m.r0.
    registered += 2;
    assert_eq!(stats.resources_registered, registered, "{stats:?}");
    assert_eq!(stats.resources_failed, failing, "{stats:?}");
    assert_eq!(
        stats.resources_released + stats.resources_failed,
        stats.resources_registered,
        "{stats:?}"
    );
    assert_eq!(
        stats.error_reports_published,
        stats.tasks_failed + stats.tasks_timed_out + stats.resources_failed,
        "{stats:?}"
    );
    assert_eq!(stats.scopes_created, 1, "{stats:?}");
    assert_eq!(stats.scopes_active, 0, "{stats:?}");
    assert_eq!(stats.scopes_completed + stats.scopes_failed, 1, "{stats:?}");

    // The pool is back to nothing in use and nobody waiting, and closed with its owner.
    let status = run.shared.pool.status();
    assert_eq!(status.in_use, 0, "{status:?}");
    assert_eq!(status.waiters, 0, "{status:?}");
    assert!(status.closed, "{status:?}");
    let acquirers = case
        .tasks
        .iter()
        .zip(&expected.ran)
        .filter(|(plan, &ran)| ran && plan.pool.is_some())
        .count() as u64;
    assert_eq!(run.shared.pool.stats().acquired, acquirers);

    // Every call through the breaker has exactly one outcome.
    let breaker = run.shared.breaker.stats();
    assert_eq!(
        breaker.calls,
        breaker.successes + breaker.failures + breaker.rejections + breaker.cancellations,
        "{breaker:?}"
    );
}

fn check_case(case: Case) {
    quiet_injected_panics();
    let expected = expect(&case);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let run = runtime.block_on(run(&case));
    check_scope_error(&case, &expected, &run);
    check_tasks(&case, &expected, &run);
    check_resources(&case, &expected, &run);
    check_actors(&run);
    check_stats(&case, &expected, &run);
}

proptest! {
    #![proptest_config(common::proptest_config(SEED))]

    #[test]
    fn random_graphs_keep_every_guarantee(case in case(FailurePolicy::CancelScope)) {
        check_case(case);
    }

    #[test]
    fn cancel_dependents_keeps_every_guarantee(case in case(FailurePolicy::CancelDependents)) {
        check_case(case);
    }
}
