//! The circuit breaker: thresholds, half-open trials, generations, timeouts, panics, the
//! failure predicate, reset backoff, manual controls and events.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ractor_scope::{
    BoxError, BreakerError, BreakerState, CircuitBreaker, Context, Manager, ManagerConfig, Task,
    Transition, TransitionReason,
};

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("service failed")]
    Service,
    #[error("invalid request")]
    BadRequest,
}

async fn ok(breaker: &CircuitBreaker) -> Result<u32, BreakerError<CallError>> {
    breaker.call(|| async { Ok::<_, CallError>(1) }).await
}

async fn err(breaker: &CircuitBreaker) -> Result<u32, BreakerError<CallError>> {
    breaker
        .call(|| async { Err::<u32, _>(CallError::Service) })
        .await
}

/// Lets the breaker's actor process the transitions callers sent it.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

fn drain(events: &mut ractor_scope::BreakerEvents) -> Vec<Transition> {
    std::iter::from_fn(|| events.try_recv()).collect()
}

#[tokio::test(start_paused = true)]
async fn opens_at_threshold_and_trials_after_reset() {
    let breaker = CircuitBreaker::builder()
        .name("payments")
        .failure_threshold(3)
        .reset_timeout(Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    let mut events = breaker.events();

    // A success in between resets the count.
    err(&breaker).await.unwrap_err();
    err(&breaker).await.unwrap_err();
    ok(&breaker).await.unwrap();
    err(&breaker).await.unwrap_err();
    err(&breaker).await.unwrap_err();
    assert_eq!(breaker.state(), BreakerState::Closed);
    err(&breaker).await.unwrap_err();
    assert_eq!(breaker.state(), BreakerState::Open);

    // Open: rejected at once, the operation never runs.
    let ran = AtomicUsize::new(0);
    let rejected = breaker
        .call(|| async {
            ran.fetch_add(1, Ordering::SeqCst);
            Ok::<_, CallError>(())
        })
        .await
        .unwrap_err();
    assert!(rejected.is_open());
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert!(rejected.to_string().contains("payments"), "{rejected}");

    // Just before the reset timeout: still open.
    tokio::time::sleep(Duration::from_millis(9_900)).await;
    assert!(ok(&breaker).await.unwrap_err().is_open());
    // After it: the next call is a trial, and its success closes the breaker.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ok(&breaker).await.unwrap(), 1);
    assert_eq!(breaker.state(), BreakerState::Closed);

    settle().await;
    let seen: Vec<(BreakerState, BreakerState, TransitionReason)> = drain(&mut events)
        .into_iter()
        .map(|t| (t.from, t.to, t.reason))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                BreakerState::Closed,
                BreakerState::Open,
                TransitionReason::FailureThreshold { failures: 3 }
            ),
            (
                BreakerState::Open,
                BreakerState::HalfOpen,
                TransitionReason::ResetTimeoutElapsed
            ),
            (
                BreakerState::HalfOpen,
                BreakerState::Closed,
                TransitionReason::TrialsSucceeded { successes: 1 }
            ),
        ]
    );
    let stats = breaker.stats();
    assert_eq!(stats.openings, 1);
    assert_eq!(stats.rejections, 2);
    assert_eq!(stats.failures, 5);
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_exactly_the_trials() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .reset_timeout(Duration::from_secs(1))
        .half_open_trials(3)
        .trial_successes(3)
        .start()
        .await
        .unwrap();
    err(&breaker).await.unwrap_err();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let reached = Arc::new(AtomicUsize::new(0));
    let rejected = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Notify::new());
    let mut callers = Vec::new();
    for _ in 0..50 {
        let breaker = breaker.clone();
        let reached = Arc::clone(&reached);
        let rejected = Arc::clone(&rejected);
        let gate = Arc::clone(&gate);
        callers.push(tokio::spawn(async move {
            let result = breaker
                .call(|| async {
                    reached.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    Ok::<_, CallError>(())
                })
                .await;
            if matches!(result, Err(BreakerError::Open { .. })) {
                rejected.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // Every caller ran up to its admission; the trials are still blocked on the gate.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(reached.load(Ordering::SeqCst), 3);
    assert_eq!(rejected.load(Ordering::SeqCst), 47);
    assert_eq!(breaker.state(), BreakerState::HalfOpen);

    gate.notify_waiters();
    for caller in callers {
        caller.await.unwrap();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn admits_calls_and_retry_after_follow_reset() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .reset_timeout(Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    assert!(breaker.admits_calls());
    assert_eq!(breaker.retry_after(), None);

    err(&breaker).await.unwrap_err();
    assert!(!breaker.admits_calls());
    assert_eq!(breaker.retry_after(), Some(Duration::from_secs(10)));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!breaker.admits_calls());
    assert_eq!(breaker.retry_after(), Some(Duration::from_secs(6)));

    // Past the reset timeout a call would pass, but nothing moved the breaker yet.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(breaker.admits_calls());
    assert_eq!(breaker.retry_after(), Some(Duration::ZERO));
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(breaker.stats().rejections, 0);

    // A trial in flight takes the only slot.
    let gate = Arc::new(tokio::sync::Notify::new());
    let trial = tokio::spawn({
        let breaker = breaker.clone();
        let gate = Arc::clone(&gate);
        async move {
            breaker
                .call(|| async move {
                    gate.notified().await;
                    Ok::<_, CallError>(())
                })
                .await
        }
    });
    settle().await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert!(!breaker.admits_calls());
    assert_eq!(breaker.retry_after(), None);
    gate.notify_one();
    trial.await.unwrap().unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(breaker.admits_calls());

    breaker.force_open().await.unwrap();
    assert!(!breaker.admits_calls());
    assert_eq!(breaker.retry_after(), None);
}

#[tokio::test(start_paused = true)]
async fn cancelled_trial_frees_its_slot() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .reset_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    err(&breaker).await.unwrap_err();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The trial is dropped by its caller.
    let trial = breaker.call(|| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, CallError>(0)
    });
    let dropped = tokio::time::timeout(Duration::from_millis(10), trial).await;
    assert!(dropped.is_err());
    assert_eq!(breaker.state(), BreakerState::HalfOpen);

    // Its slot is free again: the next call is admitted as a trial.
    assert_eq!(ok(&breaker).await.unwrap(), 1);
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(breaker.stats().cancellations, 1);
}

#[tokio::test(start_paused = true)]
async fn cancellations_never_open() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(2)
        .start()
        .await
        .unwrap();
    for _ in 0..20 {
        let slow = breaker.call(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, CallError>(())
        });
        let _ = tokio::time::timeout(Duration::from_millis(5), slow).await;
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    let stats = breaker.stats();
    assert_eq!(stats.cancellations, 20);
    assert_eq!(stats.failures, 0);
}

#[tokio::test(start_paused = true)]
async fn timeouts_and_panics_are_failures() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(2)
        .call_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let timed_out = breaker
        .call(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, CallError>(())
        })
        .await
        .unwrap_err();
    // Counted at the moment the timeout passed.
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert!(
        matches!(timed_out, BreakerError::TimedOut { timeout, .. } if timeout == Duration::from_millis(100))
    );
    assert_eq!(breaker.state(), BreakerState::Closed);

    let panicked = breaker
        .call(|| async {
            if true {
                panic!("operation exploded");
            }
            Ok::<_, CallError>(())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(panicked, BreakerError::Panicked { ref message, .. } if message.contains("exploded"))
    );
    assert_eq!(breaker.state(), BreakerState::Open);
    let stats = breaker.stats();
    assert_eq!(stats.timeouts, 1);
    assert_eq!(stats.failures, 2);
}

#[tokio::test(start_paused = true)]
async fn predicate_excludes_errors() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(2)
        .failure_predicate(|error| {
            !matches!(
                error.downcast_ref::<CallError>(),
                Some(CallError::BadRequest)
            )
        })
        .start()
        .await
        .unwrap();
    for _ in 0..10 {
        let result = breaker
            .call(|| async { Err::<(), _>(CallError::BadRequest) })
            .await;
        assert!(matches!(
            result,
            Err(BreakerError::Failed(CallError::BadRequest))
        ));
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    err(&breaker).await.unwrap_err();
    err(&breaker).await.unwrap_err();
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn panicking_predicate_counts_as_failure() {
    // The predicate panics on `Service` errors. The trial call of a half-open breaker must
    // still end as a failure: the caller gets its error, and the trial slot is not kept.
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .reset_timeout(Duration::from_secs(1))
        .failure_predicate(|error| {
            if matches!(error.downcast_ref::<CallError>(), Some(CallError::Service)) {
                panic!("predicate bug");
            }
            true
        })
        .start()
        .await
        .unwrap();
    let opening = breaker
        .call(|| async { Err::<(), _>(CallError::BadRequest) })
        .await;
    assert!(matches!(
        opening,
        Err(BreakerError::Failed(CallError::BadRequest))
    ));
    assert_eq!(breaker.state(), BreakerState::Open);
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let trial = tokio::spawn({
        let breaker = breaker.clone();
        async move { err(&breaker).await.map_err(|error| error.to_string()) }
    })
    .await
    .expect("the predicate's panic stays inside the breaker");
    assert_eq!(trial.unwrap_err(), "service failed");
    settle().await;
    assert_eq!(breaker.state(), BreakerState::Open);
    let stats = breaker.stats();
    assert_eq!(stats.failures, 2, "{stats:?}");
    assert_eq!(
        stats.calls - stats.rejections,
        stats.successes + stats.failures + stats.cancellations,
        "{stats:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn late_failures_open_once() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(3)
        .no_call_timeout()
        .start()
        .await
        .unwrap();
    let mut events = breaker.events();
    // Twenty calls admitted while closed, all failing at the same instant.
    let gate = Arc::new(tokio::sync::Notify::new());
    let mut callers = Vec::new();
    for _ in 0..20 {
        let breaker = breaker.clone();
        let gate = Arc::clone(&gate);
        callers.push(tokio::spawn(async move {
            breaker
                .call(|| async {
                    gate.notified().await;
                    Err::<(), _>(CallError::Service)
                })
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    gate.notify_waiters();
    for caller in callers {
        assert!(matches!(
            caller.await.unwrap(),
            Err(BreakerError::Failed(CallError::Service))
        ));
    }
    settle().await;
    let transitions = drain(&mut events);
    assert_eq!(transitions.len(), 1, "{transitions:?}");
    assert_eq!(transitions[0].to, BreakerState::Open);
    let stats = breaker.stats();
    assert_eq!(stats.openings, 1);
    assert_eq!(stats.failures, 20);
    assert_eq!(stats.stale_outcomes, 17);
}

#[tokio::test(start_paused = true)]
async fn reset_timeout_grows_caps_and_returns() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .reset_timeout(Duration::from_secs(1))
        .reset_backoff(2.0, Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    let mut events = breaker.events();
    err(&breaker).await.unwrap_err();
    // Each failed trial doubles the wait, up to 5 s: 1, 2, 4, 5, 5.
    let mut waits = Vec::new();
    for _ in 0..4 {
        let opened = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if !matches!(err(&breaker).await, Err(BreakerError::Open { .. })) {
                break;
            }
        }
        waits.push(opened.elapsed());
    }
    assert_eq!(
        waits,
        vec![
            Duration::from_millis(1_000),
            Duration::from_millis(2_000),
            Duration::from_millis(4_000),
            Duration::from_millis(5_000)
        ]
    );
    settle().await;
    let reset_timeouts: Vec<Option<Duration>> = drain(&mut events)
        .into_iter()
        .filter(|t| t.to == BreakerState::Open)
        .map(|t| t.reset_timeout)
        .collect();
    assert_eq!(
        reset_timeouts,
        [1, 2, 4, 5, 5]
            .iter()
            .map(|s| Some(Duration::from_secs(*s)))
            .collect::<Vec<_>>()
    );

    // A successful trial closes it and the wait returns to 1 s.
    tokio::time::sleep(Duration::from_secs(5)).await;
    ok(&breaker).await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    err(&breaker).await.unwrap_err();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    ok(&breaker).await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn manual_controls_and_events() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .reset_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let mut events = breaker.events();

    let opened = breaker.force_open().await.unwrap();
    assert_eq!(opened.to, BreakerState::ForcedOpen);
    // Forced open holds past the reset timeout.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(matches!(
        ok(&breaker).await,
        Err(BreakerError::Open {
            state: BreakerState::ForcedOpen,
            ..
        })
    ));

    breaker.force_closed().await.unwrap();
    // Forced closed counts no failure.
    for _ in 0..10 {
        err(&breaker).await.unwrap_err();
    }
    assert_eq!(breaker.state(), BreakerState::ForcedClosed);

    breaker.reset().await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    err(&breaker).await.unwrap_err();
    assert_eq!(breaker.state(), BreakerState::Open);

    settle().await;
    let reasons: Vec<TransitionReason> = drain(&mut events).into_iter().map(|t| t.reason).collect();
    assert_eq!(
        reasons,
        vec![
            TransitionReason::ForcedOpen,
            TransitionReason::ForcedClosed,
            TransitionReason::Reset,
            TransitionReason::FailureThreshold { failures: 1 },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn stuck_trial_reopens() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .reset_timeout(Duration::from_secs(1))
        .no_call_timeout()
        .half_open_timeout(Duration::from_secs(3))
        .start()
        .await
        .unwrap();
    let mut events = breaker.events();
    err(&breaker).await.unwrap_err();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A trial that never finishes.
    let stuck = breaker.clone();
    let hung = tokio::spawn(async move {
        stuck
            .call(|| async {
                std::future::pending::<()>().await;
                Ok::<_, CallError>(())
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(breaker.state(), BreakerState::Open);
    let reasons: Vec<TransitionReason> = drain(&mut events).into_iter().map(|t| t.reason).collect();
    assert_eq!(reasons.last(), Some(&TransitionReason::TrialsTimedOut));
    // After the next reset timeout, a new trial is admitted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(ok(&breaker).await.unwrap(), 1);
    hung.abort();
}

#[tokio::test(start_paused = true)]
async fn shared_across_scopes_and_cancellation() {
    let manager = Manager::start(ManagerConfig::new("breaker")).await.unwrap();
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1_000)
        .start()
        .await
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut scopes = Vec::new();
    for s in 0..3 {
        let scope = manager.scope(format!("callers-{s}")).await.unwrap();
        for t in 0..20 {
            let breaker = breaker.clone();
            let calls = Arc::clone(&calls);
            scope
                .spawn(Task::new(format!("t{t}"), move |ctx: Context| async move {
                    let value = breaker
                        .call_with(&ctx, || async {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            Ok::<_, CallError>(t)
                        })
                        .await?;
                    Ok::<_, BoxError>(value)
                }))
                .unwrap();
        }
        scopes.push(scope);
    }
    for scope in scopes {
        scope.wait().await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 60);
    assert_eq!(breaker.stats().successes, 60);

    // A call whose scope is cancelled counts as cancelled, not failed.
    let scope = manager.scope("cancelled").await.unwrap();
    let called = breaker.clone();
    let task = scope
        .spawn(Task::new("slow", move |ctx: Context| async move {
            called
                .call_with(&ctx, || async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok::<_, CallError>(())
                })
                .await?;
            Ok::<_, BoxError>(())
        }))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    scope.cancel();
    let _ = scope.wait().await;
    assert!(task.result().unwrap_err().is_cancelled());
    let stats = breaker.stats();
    assert_eq!(stats.failures, 0);
    assert_eq!(stats.cancellations, 1);
    manager.shutdown().await.unwrap();
}

#[tokio::test]
async fn invalid_settings_rejected() {
    let cases: Vec<(ractor_scope::BreakerBuilder, &str)> = vec![
        (
            CircuitBreaker::builder().failure_threshold(0),
            "failure_threshold",
        ),
        (
            CircuitBreaker::builder().reset_timeout(Duration::ZERO),
            "reset_timeout",
        ),
        (
            CircuitBreaker::builder().half_open_trials(0),
            "half_open_trials",
        ),
        (
            CircuitBreaker::builder().trial_successes(0),
            "trial_successes",
        ),
        (
            CircuitBreaker::builder().call_timeout(Duration::ZERO),
            "call_timeout",
        ),
        (
            CircuitBreaker::builder().reset_backoff(0.5, Duration::from_secs(60)),
            "reset_backoff factor",
        ),
        (
            CircuitBreaker::builder()
                .reset_timeout(Duration::from_secs(10))
                .reset_backoff(2.0, Duration::from_secs(1)),
            "reset_backoff max",
        ),
        (CircuitBreaker::builder().event_buffer(0), "event_buffer"),
        (
            CircuitBreaker::builder().event_buffer(usize::MAX),
            "event_buffer",
        ),
    ];
    for (builder, setting) in cases {
        match builder.start().await {
            Err(BreakerError::Config(error)) => assert_eq!(error.setting, setting),
            other => panic!("{setting}: unexpected {other:?}"),
        }
    }
}

#[test]
fn start_outside_runtime_is_an_error() {
    let result = futures::executor::block_on(CircuitBreaker::builder().start());
    assert!(matches!(result, Err(BreakerError::NoRuntime)));
}

#[test]
fn calls_outside_runtime_are_errors() {
    // Started in a runtime, then used from a plain thread: calls that need tokio's timer
    // return `NoRuntime` instead of panicking, and leave no call admitted.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (timed, untimed) = runtime.block_on(async {
        let timed = CircuitBreaker::builder().start().await.unwrap();
        let untimed = CircuitBreaker::builder()
            .no_call_timeout()
            .start()
            .await
            .unwrap();
        (timed, untimed)
    });
    std::thread::spawn(move || {
        let call = futures::executor::block_on(timed.call(|| async { Ok::<_, CallError>(1) }));
        assert!(matches!(call, Err(BreakerError::NoRuntime)), "{call:?}");
        let reset = futures::executor::block_on(timed.reset());
        assert!(matches!(reset, Err(BreakerError::NoRuntime)), "{reset:?}");
        // Admitted, then given up: counted as cancelled, not as a failure.
        let stats = timed.stats();
        assert_eq!(stats.calls, 1, "{stats:?}");
        assert_eq!(stats.cancellations, 1, "{stats:?}");
        assert_eq!(stats.successes + stats.failures, 0, "{stats:?}");
        assert_eq!(timed.state(), BreakerState::Closed);
        // Without a call timeout no timer is needed, and the call runs.
        let call = futures::executor::block_on(untimed.call(|| async { Ok::<_, CallError>(2) }));
        assert_eq!(call.unwrap(), 2);
    })
    .join()
    .unwrap();
    drop(runtime);
}

#[tokio::test(start_paused = true)]
async fn open_for_weeks_still_reopens() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .reset_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    err(&breaker).await.unwrap_err();
    // Longer than 2^31 milliseconds without a call.
    tokio::time::advance(Duration::from_secs(25 * 24 * 3600)).await;
    assert_eq!(ok(&breaker).await.unwrap(), 1);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn panic_making_the_future_is_a_failure() {
    common::quiet_injected_panics();
    let breaker = CircuitBreaker::builder()
        .failure_threshold(1)
        .reset_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let failed = breaker
        .call(|| {
            if true {
                panic!("{}", common::INJECTED_PANIC);
            }
            async { Ok::<(), CallError>(()) }
        })
        .await
        .unwrap_err();
    assert!(
        matches!(failed, BreakerError::Panicked { ref message, .. } if message.contains(common::INJECTED_PANIC)),
        "{failed:?}"
    );
    assert_eq!(breaker.state(), BreakerState::Open);

    // A trial whose closure panics, from a task, reopens the breaker.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let manager = Manager::start(ManagerConfig::new("panics")).await.unwrap();
    let scope = manager.scope("trial").await.unwrap();
    let shared = breaker.clone();
    let trial = scope
        .spawn(Task::new("trial", move |ctx: Context| async move {
            let outcome = shared
                .call_with(&ctx, || {
                    if true {
                        panic!("{}", common::INJECTED_PANIC);
                    }
                    async { Ok::<(), CallError>(()) }
                })
                .await;
            Ok::<_, BoxError>(matches!(outcome, Err(BreakerError::Panicked { .. })))
        }))
        .unwrap();
    scope.wait().await.unwrap();
    assert!(*trial.result().unwrap());
    settle().await;
    assert_eq!(breaker.state(), BreakerState::Open);
    let stats = breaker.stats();
    assert_eq!(stats.failures, 2);
    assert_eq!(stats.cancellations, 0);
    manager.shutdown().await.unwrap();
}
