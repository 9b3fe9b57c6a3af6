use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorRef};
use tokio::sync::broadcast;

use super::actor::{BreakerActor, BreakerMsg};
use super::config::{BreakerBuilder, BreakerConfig};
use super::core::{Core, Permit};
use super::stats::Counters;
use super::{
    BreakerError, BreakerEvents, BreakerState, BreakerStats, Transition, TransitionReason,
};
use crate::util::CatchUnwind;
use crate::{CancelCause, Context, Name};

/// How long a manual control waits for the breaker's actor.
const CONTROL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A circuit breaker, shared by every task that calls through it.
///
/// Closed, it lets calls through and counts consecutive failures. At the threshold it opens and
/// rejects calls at once. After the reset timeout it lets a few trial calls through
/// (half-open): it closes again when enough succeed and reopens when one fails. Admission and
/// outcome counting are a few atomic operations on published state; the breaker's actor logs
/// transitions, sends them to subscribers and applies manual controls.
///
/// Cloning is cheap; clones share the breaker. Dropping the last clone stops its actor.
#[derive(Clone)]
#[must_use = "dropping the last CircuitBreaker handle stops the breaker"]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

struct Inner {
    core: Arc<Core>,
    actor: ActorRef<BreakerMsg>,
    events: broadcast::Sender<Transition>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.actor.stop(None);
    }
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.core.config.name)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// Counts a call as cancelled when its future is dropped before the outcome was recorded.
struct PermitGuard<'a> {
    core: &'a Core,
    permit: Option<Permit>,
}

impl PermitGuard<'_> {
    fn take(&mut self) -> Permit {
        self.permit.take().expect("an outcome is recorded once")
    }
}

impl Drop for PermitGuard<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.core.cancelled(permit);
        }
    }
}

/// How a call's operation ended.
enum Outcome<T, E> {
    Done(Result<T, E>),
    Panicked(String),
    TimedOut,
    Cancelled(CancelCause),
}

impl<T, E> Outcome<T, E> {
    /// Converts the result of an operation run under [`CatchUnwind`] into an outcome.
    fn caught(result: Result<Result<T, E>, String>) -> Self {
        match result {
            Ok(result) => Outcome::Done(result),
            Err(message) => Outcome::Panicked(message),
        }
    }
}

impl CircuitBreaker {
    /// Starts building a breaker.
    pub fn builder() -> BreakerBuilder {
        BreakerBuilder::default()
    }

    pub(crate) async fn start(config: BreakerConfig) -> Result<CircuitBreaker, BreakerError> {
        if !crate::util::in_runtime() {
            return Err(BreakerError::NoRuntime);
        }
        let (events, _) = broadcast::channel(config.event_buffer);
        let name = config.name.clone();
        let core = Core::new(config);
        let (actor, _) = Actor::spawn(None, BreakerActor, (Arc::clone(&core), events.clone()))
            .await
            .map_err(|error| BreakerError::Stopped {
                breaker: name,
                reason: error.to_string(),
            })?;
        Ok(CircuitBreaker {
            inner: Arc::new(Inner {
                core,
                actor,
                events,
            }),
        })
    }

    /// The breaker's name.
    pub fn name(&self) -> &Name {
        &self.inner.core.config.name
    }

    /// The breaker's current state.
    ///
    /// An open breaker moves to half-open when a call arrives after its reset timeout, not on
    /// a timer, so it reports [`BreakerState::Open`] until then. To ask whether a call would
    /// pass, use [`CircuitBreaker::admits_calls`].
    pub fn state(&self) -> BreakerState {
        self.inner.core.word().state
    }

    /// Returns whether a call made now would be admitted, without making one: always when
    /// closed, never when forced open, once the reset timeout has passed when open, and while
    /// a trial slot is free when half-open.
    ///
    /// A service can use it to fail fast before any other work; the result may change before
    /// the call is made.
    pub fn admits_calls(&self) -> bool {
        self.inner.core.would_admit()
    }

    /// While the breaker is open, the time left until it admits a trial call, for example for
    /// a `Retry-After` header. `None` in every other state, forced open included.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.core.open_remaining()
    }

    /// A snapshot of the breaker's counters.
    pub fn stats(&self) -> BreakerStats {
        self.inner.core.counters.snapshot(self.state())
    }

    /// Subscribes to the breaker's transitions, manual ones included.
    pub fn events(&self) -> BreakerEvents {
        BreakerEvents {
            receiver: self.inner.events.subscribe(),
            missed: 0,
        }
    }

    /// Runs `operation` through the breaker, outside any scope.
    ///
    /// # Errors
    ///
    /// [`BreakerError::Open`] when rejected; [`BreakerError::Failed`] with the operation's
    /// error; [`BreakerError::TimedOut`] past the call timeout; [`BreakerError::Panicked`] when
    /// the operation panicked.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the operation. The call then counts as neither success nor
    /// failure, and a trial call gives its half-open slot back.
    pub async fn call<F, Fut, T, E>(&self, operation: F) -> Result<T, BreakerError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: std::error::Error + 'static,
    {
        // No race against a context here: the unused select arms made this future larger,
        // and the closed-state cost per call is a benchmark target (BENCHMARKS.md).
        let mut guard = self.admit(None)?;
        Self::check_runtime(&guard)?;
        let outcome = match Self::make(operation) {
            Ok(operation) => {
                let operation = std::pin::pin!(operation);
                let operation = CatchUnwind::new(operation);
                match guard.core.config.call_timeout {
                    None => Outcome::caught(operation.await),
                    Some(timeout) => match tokio::time::timeout(timeout, operation).await {
                        Ok(result) => Outcome::caught(result),
                        Err(_) => Outcome::TimedOut,
                    },
                }
            }
            Err(panicked) => panicked,
        };
        Self::settle(&mut guard, outcome)
    }

    /// Runs `operation` through the breaker for a task: when the task is cancelled (its scope
    /// failed, its deadline passed), the operation is dropped and the call counts as neither
    /// success nor failure.
    ///
    /// # Errors
    ///
    /// As [`CircuitBreaker::call`], and [`BreakerError::Cancelled`] when the task was
    /// cancelled during the call.
    ///
    /// # Cancel safety
    ///
    /// As [`CircuitBreaker::call`].
    pub async fn call_with<F, Fut, T, E>(
        &self,
        ctx: &Context,
        operation: F,
    ) -> Result<T, BreakerError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: std::error::Error + 'static,
    {
        let mut guard = self.admit(Some(ctx))?;
        Self::check_runtime(&guard)?;
        let timeout = guard.core.config.call_timeout;
        let outcome = match Self::make(operation) {
            Ok(operation) => {
                let operation = std::pin::pin!(operation);
                let operation = CatchUnwind::new(operation);
                tokio::select! {
                    biased;
                    result = operation => Outcome::caught(result),
                    () = crate::util::sleep_opt(timeout) => Outcome::TimedOut,
                    () = ctx.cancelled() => Outcome::Cancelled(
                        ctx.cancel_cause().unwrap_or(CancelCause::NotSpawned),
                    ),
                }
            }
            Err(panicked) => panicked,
        };
        Self::settle(&mut guard, outcome)
    }

    /// Calls `operation` to make its future. A panic there counts as a panic of the operation.
    fn make<F, Fut, T, E>(operation: F) -> Result<Fut, Outcome<T, E>>
    where
        F: FnOnce() -> Fut,
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(operation))
            .map_err(|panic| Outcome::Panicked(crate::util::panic_message(panic)))
    }

    /// Counts the call and admits it. Returns an error when the caller's task is already
    /// cancelled or the breaker rejects calls.
    #[inline(always)]
    /// Rejects an admitted call that would need tokio's timer (for its call timeout) outside a
    /// runtime. The caller then drops the guard, which counts the call as cancelled and gives
    /// a trial slot back. Outside a tokio task the check clones the runtime handle, so it runs
    /// only after admission (a rejection needs no timer) and only for calls with a timeout.
    fn check_runtime<E>(guard: &PermitGuard<'_>) -> Result<(), BreakerError<E>> {
        if guard.core.config.call_timeout.is_some() && !crate::util::in_runtime() {
            return Err(BreakerError::NoRuntime);
        }
        Ok(())
    }

    fn admit<E>(&self, ctx: Option<&Context>) -> Result<PermitGuard<'_>, BreakerError<E>> {
        let core = &*self.inner.core;
        Counters::add(&core.counters.calls);
        if let Some(cause) = ctx.and_then(Context::cancel_cause) {
            Counters::add(&core.counters.cancellations);
            return Err(BreakerError::Cancelled {
                breaker: core.config.name.clone(),
                cause,
            });
        }
        match core.admit() {
            Ok(permit) => Ok(PermitGuard {
                core,
                permit: Some(permit),
            }),
            Err(state) => {
                Counters::add(&core.counters.rejections);
                Err(BreakerError::Open {
                    breaker: core.config.name.clone(),
                    state,
                })
            }
        }
    }

    /// Records the outcome of an admitted call; the operation has been dropped by now.
    fn settle<T, E>(
        guard: &mut PermitGuard<'_>,
        outcome: Outcome<T, E>,
    ) -> Result<T, BreakerError<E>>
    where
        E: std::error::Error + 'static,
    {
        let core = guard.core;
        let permit = guard.take();
        let name = || core.config.name.clone();
        match outcome {
            Outcome::Done(Ok(value)) => {
                core.succeeded(permit);
                Ok(value)
            }
            Outcome::Done(Err(error)) => {
                let counts = counts_as_failure(core, &error);
                if counts {
                    core.failed(permit);
                } else {
                    core.succeeded(permit);
                }
                Err(BreakerError::Failed(error))
            }
            Outcome::Panicked(message) => {
                core.failed(permit);
                Err(BreakerError::Panicked {
                    breaker: name(),
                    message,
                })
            }
            Outcome::TimedOut => {
                Counters::add(&core.counters.timeouts);
                core.failed(permit);
                Err(BreakerError::TimedOut {
                    breaker: name(),
                    timeout: core.config.call_timeout.unwrap_or_default(),
                })
            }
            Outcome::Cancelled(cause) => {
                core.cancelled(permit);
                Err(BreakerError::Cancelled {
                    breaker: name(),
                    cause,
                })
            }
        }
    }

    /// Opens the breaker by hand. It rejects every call until [`CircuitBreaker::reset`].
    ///
    /// # Errors
    ///
    /// [`BreakerError::Stopped`] when the breaker's actor does not reply within 5 s.
    ///
    /// # Cancel safety
    ///
    /// The transition may still happen after the future is dropped.
    pub async fn force_open(&self) -> Result<Transition, BreakerError> {
        self.control(BreakerState::ForcedOpen, TransitionReason::ForcedOpen)
            .await
    }

    /// Closes the breaker by hand. It admits every call and counts no failure until
    /// [`CircuitBreaker::reset`].
    ///
    /// # Errors
    ///
    /// As [`CircuitBreaker::force_open`].
    ///
    /// # Cancel safety
    ///
    /// As [`CircuitBreaker::force_open`].
    pub async fn force_closed(&self) -> Result<Transition, BreakerError> {
        self.control(BreakerState::ForcedClosed, TransitionReason::ForcedClosed)
            .await
    }

    /// Returns the breaker to closed, with no failure counted and the reset timeout back at
    /// its base value.
    ///
    /// # Errors
    ///
    /// As [`CircuitBreaker::force_open`].
    ///
    /// # Cancel safety
    ///
    /// As [`CircuitBreaker::force_open`].
    pub async fn reset(&self) -> Result<Transition, BreakerError> {
        self.control(BreakerState::Closed, TransitionReason::Reset)
            .await
    }

    async fn control(
        &self,
        state: BreakerState,
        reason: TransitionReason,
    ) -> Result<Transition, BreakerError> {
        // ractor's call timeout needs tokio's timer.
        if !crate::util::in_runtime() {
            return Err(BreakerError::NoRuntime);
        }
        let stopped = |reason: String| BreakerError::Stopped {
            breaker: self.name().clone(),
            reason,
        };
        let call = self.inner.actor.call(
            |reply| BreakerMsg::Force {
                state,
                reason,
                reply,
            },
            Some(CONTROL_TIMEOUT),
        );
        match call.await {
            Ok(ractor::rpc::CallResult::Success(transition)) => Ok(transition),
            Ok(ractor::rpc::CallResult::Timeout) => {
                Err(stopped(format!("no reply within {CONTROL_TIMEOUT:?}")))
            }
            Ok(ractor::rpc::CallResult::SenderError) => {
                Err(stopped("the actor dropped the reply".to_string()))
            }
            Err(error) => Err(stopped(error.to_string())),
        }
    }
}

/// Asks the failure predicate whether `error` counts as a failure. A predicate that panics
/// must not leave the call's permit taken (a half-open breaker would then reject every call),
/// so its panic counts the call as failed.
fn counts_as_failure<E: std::error::Error + 'static>(core: &Core, error: &E) -> bool {
    let Some(is_failure) = core.config.is_failure.as_ref() else {
        return true;
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| is_failure(error))).unwrap_or_else(
        |panic| {
            tracing::warn!(
                breaker.name = %core.config.name,
                panic = %crate::util::panic_message(panic),
                error = %error,
                "breaker failure predicate panicked; the call counts as a failure"
            );
            true
        },
    )
}
