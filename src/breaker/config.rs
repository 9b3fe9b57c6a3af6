use std::sync::Arc;
use std::time::Duration;

use super::{BreakerError, CircuitBreaker};
use crate::{ConfigError, Name};

/// The largest event buffer [`BreakerBuilder::event_buffer`] accepts.
const MAX_EVENT_BUFFER: usize = 1 << 16;

/// Decides which operation errors count as failures.
pub(crate) type FailurePredicate =
    Arc<dyn Fn(&(dyn std::error::Error + 'static)) -> bool + Send + Sync>;

/// Settings of a circuit breaker, checked by [`BreakerBuilder::start`].
#[derive(Clone)]
pub(crate) struct BreakerConfig {
    pub(crate) name: Name,
    pub(crate) failure_threshold: u32,
    pub(crate) reset_timeout: Duration,
    pub(crate) max_reset_timeout: Duration,
    pub(crate) backoff_factor: f64,
    pub(crate) trials: u32,
    pub(crate) trial_successes: u32,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) half_open_timeout: Option<Duration>,
    pub(crate) event_buffer: usize,
    pub(crate) is_failure: Option<FailurePredicate>,
}

/// Builds a [`CircuitBreaker`]. Every setting has a default; see each method.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ractor_scope::CircuitBreaker;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let breaker = CircuitBreaker::builder()
///     .name("payments")
///     .failure_threshold(5)
///     .reset_timeout(Duration::from_secs(30))
///     .start()
///     .await?;
/// let receipt = breaker.call(|| async { Ok::<_, std::io::Error>("paid") }).await?;
/// assert_eq!(receipt, "paid");
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `start` is called"]
pub struct BreakerBuilder {
    config: BreakerConfig,
}

impl std::fmt::Debug for BreakerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerBuilder")
            .field("name", &self.config.name)
            .field("failure_threshold", &self.config.failure_threshold)
            .field("reset_timeout", &self.config.reset_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for BreakerBuilder {
    fn default() -> Self {
        BreakerBuilder {
            config: BreakerConfig {
                name: Name::from("breaker"),
                failure_threshold: 5,
                reset_timeout: Duration::from_secs(30),
                max_reset_timeout: Duration::from_secs(30),
                backoff_factor: 1.0,
                trials: 1,
                trial_successes: 1,
                call_timeout: Some(Duration::from_secs(10)),
                half_open_timeout: None,
                event_buffer: 64,
                is_failure: None,
            },
        }
    }
}

impl BreakerBuilder {
    /// The breaker's name, used in errors, logs and events. Default: `breaker`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.config.name = name.into();
        self
    }

    /// How many consecutive failures open the breaker. A success resets the count.
    ///
    /// Default: 5. Zero is rejected.
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.config.failure_threshold = failures;
        self
    }

    /// How long the breaker stays open before it admits trial calls, with millisecond
    /// resolution.
    ///
    /// Default: 30 s. Zero and more than 24 days are rejected.
    pub fn reset_timeout(mut self, timeout: Duration) -> Self {
        self.config.reset_timeout = timeout;
        if self.config.max_reset_timeout < timeout {
            self.config.max_reset_timeout = timeout;
        }
        self
    }

    /// Grows the reset timeout after each failed trial: the next one is the last one times
    /// `factor`, capped at `max`. It returns to the base value when the breaker closes. With
    /// base `b`, the reset timeout after `n` failed trials in a row is `min(b * factor^n, max)`.
    ///
    /// Default: no growth (factor 1). A factor below 1, one that is not finite, or a `max`
    /// below the reset timeout is rejected.
    pub fn reset_backoff(mut self, factor: f64, max: Duration) -> Self {
        self.config.backoff_factor = factor;
        self.config.max_reset_timeout = max;
        self
    }

    /// How many trial calls the half-open breaker admits at once. Other calls are rejected at
    /// once, without waiting for the trials.
    ///
    /// Default: 1. Zero and more than 65,535 are rejected.
    pub fn half_open_trials(mut self, trials: u32) -> Self {
        self.config.trials = trials;
        self
    }

    /// How many trial calls must succeed before the breaker closes. Each success frees its
    /// trial slot for the next call.
    ///
    /// Default: 1. Zero and more than 65,535 are rejected.
    pub fn trial_successes(mut self, successes: u32) -> Self {
        self.config.trial_successes = successes;
        self
    }

    /// How long one call may run. A call still running then is dropped and counts as a
    /// failure at that moment.
    ///
    /// Default: 10 s. Zero is rejected; see [`BreakerBuilder::no_call_timeout`] to have none.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.config.call_timeout = Some(timeout);
        self
    }

    /// Lets calls run as long as they take. The half-open timeout then still keeps a trial
    /// that never finishes from holding the breaker half-open.
    pub fn no_call_timeout(mut self) -> Self {
        self.config.call_timeout = None;
        self
    }

    /// How long the breaker may stay half-open while no trial call finishes; then it opens
    /// again (reason [`TrialsTimedOut`](crate::TransitionReason::TrialsTimedOut)).
    ///
    /// Default: the call timeout, or the reset timeout when there is no call timeout. Zero is
    /// rejected.
    pub fn half_open_timeout(mut self, timeout: Duration) -> Self {
        self.config.half_open_timeout = Some(timeout);
        self
    }

    /// How many transitions each subscriber of [`CircuitBreaker::events`] buffers.
    ///
    /// Default: 64. Zero and values above 65,536 are rejected.
    pub fn event_buffer(mut self, capacity: usize) -> Self {
        self.config.event_buffer = capacity;
        self
    }

    /// Decides which operation errors count as failures; errors it returns `false` for count
    /// as successes. Timeouts and panics always count as failures, and so does an error on
    /// which the predicate itself panics (the caller still gets the operation's error).
    ///
    /// Default: every error counts.
    pub fn failure_predicate<F>(mut self, is_failure: F) -> Self
    where
        F: Fn(&(dyn std::error::Error + 'static)) -> bool + Send + Sync + 'static,
    {
        self.config.is_failure = Some(Arc::new(is_failure));
        self
    }

    /// Checks the settings and starts the breaker's actor.
    ///
    /// # Errors
    ///
    /// [`BreakerError::Config`] naming an invalid setting, [`BreakerError::NoRuntime`] outside
    /// a tokio runtime, [`BreakerError::Stopped`] when the actor could not start.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped after the actor started, the actor stops again.
    pub async fn start(self) -> Result<CircuitBreaker, BreakerError> {
        self.validate()?;
        CircuitBreaker::start(self.config).await
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let config = &self.config;
        if config.failure_threshold == 0 {
            return Err(ConfigError::new(
                "failure_threshold",
                0,
                "at least one failure must open the breaker; use 1 or more",
            ));
        }
        ConfigError::nonzero(
            "reset_timeout",
            config.reset_timeout,
            "the breaker must stay open for some time; use for example 30s",
        )?;
        let max_timeout = Duration::from_millis(i32::MAX as u64);
        if config.reset_timeout > max_timeout || config.max_reset_timeout > max_timeout {
            return Err(ConfigError::new(
                "reset_timeout",
                config.reset_timeout.max(config.max_reset_timeout),
                "reset timeouts are limited to 24 days",
            ));
        }
        if !(config.backoff_factor.is_finite() && config.backoff_factor >= 1.0) {
            return Err(ConfigError::new(
                "reset_backoff factor",
                config.backoff_factor,
                "the growth factor must be a finite number of at least 1",
            ));
        }
        if config.max_reset_timeout < config.reset_timeout {
            return Err(ConfigError::new(
                "reset_backoff max",
                config.max_reset_timeout,
                "the maximum reset timeout must be at least the reset timeout",
            ));
        }
        for (setting, value) in [
            ("half_open_trials", config.trials),
            ("trial_successes", config.trial_successes),
        ] {
            if value == 0 || value > 0xFFFF {
                return Err(ConfigError::new(
                    setting,
                    value,
                    "must be between 1 and 65535",
                ));
            }
        }
        if let Some(timeout) = config.call_timeout {
            ConfigError::nonzero(
                "call_timeout",
                timeout,
                "a call timeout must be greater than zero; use no_call_timeout() for none",
            )?;
        }
        if let Some(timeout) = config.half_open_timeout {
            ConfigError::nonzero(
                "half_open_timeout",
                timeout,
                "the half-open timeout must be greater than zero",
            )?;
        }
        if config.event_buffer == 0 {
            return Err(ConfigError::new(
                "event_buffer",
                0,
                "each subscriber needs room for at least one event, for example 64",
            ));
        }
        // tokio's broadcast channel allocates every slot up front and panics above
        // `usize::MAX / 2`; transitions are rare, so a small bound loses nothing.
        if config.event_buffer > MAX_EVENT_BUFFER {
            return Err(ConfigError::new(
                "event_buffer",
                config.event_buffer,
                "the event buffer holds at most 65,536 transitions; use a smaller value, for example 64",
            ));
        }
        Ok(())
    }
}
