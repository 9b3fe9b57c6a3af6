//! Circuit breaker overhead per call, closed and open: a ractor-scope `CircuitBreaker`, the
//! `failsafe` crate's breaker, and calling the operation directly, in the same run.
//!
//! The operation is an `async` block that returns `Ok` at once, so the numbers are the
//! breaker's own cost. Both breakers open after 5 consecutive failures and stay open for an
//! hour, so the open variants only reject. No tracing subscriber is installed.
//!
//! Group `breaker`: ractor-scope without a call timeout, the like-for-like comparison with
//! failsafe, which has none. Group `breaker_timeout`: ractor-scope with its default call
//! timeout (10 s), against a direct call wrapped in `tokio::time::timeout`.
//!
//! Run with `cargo bench --bench breaker`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use failsafe::futures::CircuitBreaker as _;
use failsafe::{backoff, failure_policy, Config};
use ractor_scope::{BreakerState, CircuitBreaker};

const THRESHOLD: u32 = 5;
const RESET: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
#[error("operation failed")]
struct OperationError;

async fn operation(value: u64) -> Result<u64, OperationError> {
    Ok(black_box(value))
}

async fn failing() -> Result<u64, OperationError> {
    Err(OperationError)
}

async fn ractor_scope_breaker(call_timeout: bool, open: bool) -> CircuitBreaker {
    let builder = CircuitBreaker::builder()
        .name("bench")
        .failure_threshold(THRESHOLD)
        .reset_timeout(RESET);
    let builder = if call_timeout {
        builder
    } else {
        builder.no_call_timeout()
    };
    let breaker = builder.start().await.expect("breaker starts");
    if open {
        for _ in 0..THRESHOLD {
            let _ = breaker.call(failing).await;
        }
        assert_eq!(breaker.state(), BreakerState::Open);
    }
    breaker
}

fn failsafe_breaker(open: bool) -> impl failsafe::futures::CircuitBreaker {
    let policy = failure_policy::consecutive_failures(THRESHOLD, backoff::constant(RESET));
    let breaker = Config::new().failure_policy(policy).build();
    if open {
        for _ in 0..THRESHOLD {
            let _ = futures::executor::block_on(breaker.call(failing()));
        }
        assert!(!breaker.is_call_permitted(), "failsafe breaker is open");
    }
    breaker
}

fn breaker(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime builds");

    let mut group = c.benchmark_group("breaker");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));

    group.bench_function("direct", |b| {
        b.to_async(&runtime).iter(|| operation(1));
    });
    for (state, open) in [("closed", false), ("open", true)] {
        let ours = runtime.block_on(ractor_scope_breaker(false, open));
        group.bench_function(format!("ractor_scope_{state}"), |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(ours.call(|| operation(1)).await.is_ok()) });
        });
        let theirs = failsafe_breaker(open);
        group.bench_function(format!("failsafe_{state}"), |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(theirs.call(operation(1)).await.is_ok()) });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("breaker_timeout");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("direct_timeout", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(
                tokio::time::timeout(Duration::from_secs(10), operation(1))
                    .await
                    .is_ok(),
            )
        });
    });
    for (state, open) in [("closed", false), ("open", true)] {
        let ours = runtime.block_on(ractor_scope_breaker(true, open));
        group.bench_function(format!("ractor_scope_{state}"), |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(ours.call(|| operation(1)).await.is_ok()) });
        });
    }
    group.finish();
}

criterion_group!(benches, breaker);
criterion_main!(benches);
