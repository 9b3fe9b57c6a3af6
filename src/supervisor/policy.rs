use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// The set of children that restart when one of them must.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Strategy {
    /// Only the child that ended.
    #[default]
    OneForOne,
    /// Every child: the others are stopped in reverse start order, then all start again in
    /// start order, except temporary children, which stay stopped.
    OneForAll,
    /// The child that ended and every child started after it, except temporary children, which
    /// are stopped and stay stopped.
    RestForOne,
}

/// When a child is restarted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RestartType {
    /// Always, whatever the way it ended.
    #[default]
    Permanent,
    /// After a failure or an external kill, not after a normal exit.
    Transient,
    /// Never, also when one-for-all or rest-for-one stops it because a sibling is restarted.
    Temporary,
}

/// The way a child is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", from = "ShutdownFields")]
#[non_exhaustive]
pub enum ShutdownPolicy {
    /// Ask it to stop, then kill it if it has not stopped within `timeout`.
    Graceful {
        /// How long it may take to stop.
        #[serde(with = "humantime_serde")]
        timeout: Duration,
    },
    /// Kill it at once.
    Kill,
}

/// The form serde reads a [`ShutdownPolicy`] from. serde's `deny_unknown_fields` does not
/// reject extra keys next to the tag of a unit variant (seen with serde 1.0.229), so every
/// variant here has braces.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
enum ShutdownFields {
    Graceful {
        #[serde(with = "humantime_serde")]
        timeout: Duration,
    },
    Kill {},
}

impl From<ShutdownFields> for ShutdownPolicy {
    fn from(fields: ShutdownFields) -> Self {
        match fields {
            ShutdownFields::Graceful { timeout } => ShutdownPolicy::Graceful { timeout },
            ShutdownFields::Kill {} => ShutdownPolicy::Kill,
        }
    }
}

impl Default for ShutdownPolicy {
    fn default() -> Self {
        ShutdownPolicy::Graceful {
            timeout: Duration::from_secs(5),
        }
    }
}

impl ShutdownPolicy {
    /// Checks the policy: a graceful stop needs a timeout above zero.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a zero graceful timeout; use [`ShutdownPolicy::Kill`] instead.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let ShutdownPolicy::Graceful { timeout } = self {
            ConfigError::nonzero(
                "shutdown.timeout",
                *timeout,
                "a graceful stop needs time; use kind = \"kill\" to stop at once",
            )?;
        }
        Ok(())
    }
}

/// How long to wait before a restart.
///
/// With `n` the number of restarts of the child in a row so far (0 for the first):
///
/// - `None`: no wait;
/// - `Fixed { delay }`: `delay`;
/// - `Exponential { initial, factor, max, jitter }`: `base = min(initial * factor^n, max)`, then
///   `delay = base * (1 - jitter * u)` with `u` uniform in `[0, 1)`. Jitter only shortens the
///   delay, so it never goes past `max`.
///
/// The count `n` starts again from 0 once the child has run for
/// [`RestartPolicy::reset_after`] without ending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", from = "BackoffFields")]
#[non_exhaustive]
pub enum Backoff {
    /// Restart at once.
    #[default]
    None,
    /// Wait the same time before every restart.
    Fixed {
        /// The wait.
        #[serde(with = "humantime_serde")]
        delay: Duration,
    },
    /// Wait longer after each restart in a row, up to a cap, shortened by random jitter.
    Exponential {
        /// The first wait.
        #[serde(with = "humantime_serde")]
        initial: Duration,
        /// Growth per restart, at least 1.
        factor: f64,
        /// The cap.
        #[serde(with = "humantime_serde")]
        max: Duration,
        /// Share of the wait that jitter may take off, from 0 (none) to 1.
        #[serde(default)]
        jitter: f64,
    },
}

/// The form serde reads a [`Backoff`] from, with unknown keys rejected as in
/// [`ShutdownFields`].
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
enum BackoffFields {
    None {},
    Fixed {
        #[serde(with = "humantime_serde")]
        delay: Duration,
    },
    Exponential {
        #[serde(with = "humantime_serde")]
        initial: Duration,
        factor: f64,
        #[serde(with = "humantime_serde")]
        max: Duration,
        #[serde(default)]
        jitter: f64,
    },
}

impl From<BackoffFields> for Backoff {
    fn from(fields: BackoffFields) -> Self {
        match fields {
            BackoffFields::None {} => Backoff::None,
            BackoffFields::Fixed { delay } => Backoff::Fixed { delay },
            BackoffFields::Exponential {
                initial,
                factor,
                max,
                jitter,
            } => Backoff::Exponential {
                initial,
                factor,
                max,
                jitter,
            },
        }
    }
}

impl Backoff {
    /// The wait before the restart number `n` in a row (0 for the first), with `random` in
    /// `[0, 1)` drawing the jitter.
    pub fn delay(&self, n: u32, random: f64) -> Duration {
        match *self {
            Backoff::None => Duration::ZERO,
            Backoff::Fixed { delay } => delay,
            Backoff::Exponential {
                initial,
                factor,
                max,
                jitter,
            } => {
                let grown = initial.as_secs_f64() * factor.powi(n.min(i32::MAX as u32) as i32);
                let base = if grown.is_finite() {
                    grown.min(max.as_secs_f64())
                } else {
                    max.as_secs_f64()
                };
                let random = random.clamp(0.0, 1.0);
                let jittered = base * (1.0 - jitter.clamp(0.0, 1.0) * random);
                // A cap near `Duration::MAX` rounds up past it as seconds in an `f64`, so the
                // conversion back is checked and falls back to the cap.
                Duration::try_from_secs_f64(jittered.max(0.0)).map_or(max, |delay| delay.min(max))
            }
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Backoff::None => Ok(()),
            Backoff::Fixed { .. } => Ok(()),
            Backoff::Exponential {
                initial,
                factor,
                max,
                jitter,
            } => {
                ConfigError::nonzero(
                    "backoff.initial",
                    initial,
                    "the first wait must be greater than zero; use kind = \"none\" for no wait",
                )?;
                if !(factor.is_finite() && factor >= 1.0) {
                    return Err(ConfigError::new(
                        "backoff.factor",
                        factor,
                        "the growth factor must be a finite number of at least 1",
                    ));
                }
                if max < initial {
                    return Err(ConfigError::new(
                        "backoff.max",
                        max,
                        "the cap must be at least the first wait",
                    ));
                }
                if !(0.0..=1.0).contains(&jitter) {
                    return Err(ConfigError::new(
                        "backoff.jitter",
                        jitter,
                        "jitter is a share of the wait, from 0 to 1",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// The restart rules of a supervised scope: the strategy, the restart intensity and the backoff
/// between restarts.
///
/// The intensity allows at most `max_restarts` restarts within a sliding `period`, counted per
/// supervised scope and timestamped at the failure. One more, and the scope gives up. Intensity
/// and backoff live together so that they cannot contradict each other.
///
/// Serde reads it with durations in a human-readable form:
///
/// ```
/// use std::time::Duration;
/// use ractor_scope::{Backoff, RestartPolicy, Strategy};
///
/// let text = r#"
///     strategy = "one_for_all"
///     max_restarts = 3
///     period = "5s"
///     reset_after = "30s"
///
///     [backoff]
///     kind = "exponential"
///     initial = "100ms"
///     factor = 2.0
///     max = "10s"
///     jitter = 0.2
/// "#;
/// let policy: RestartPolicy = toml::from_str(text)?;
/// assert_eq!(policy.strategy(), Strategy::OneForAll);
/// assert_eq!(policy.period(), Duration::from_secs(5));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PolicyFields", into = "PolicyFields")]
pub struct RestartPolicy {
    fields: PolicyFields,
}

/// The policy as written in configuration, checked when converted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFields {
    #[serde(default)]
    strategy: Strategy,
    max_restarts: u32,
    #[serde(with = "humantime_serde")]
    period: Duration,
    #[serde(default)]
    backoff: Backoff,
    #[serde(with = "humantime_serde", default = "default_reset_after")]
    reset_after: Duration,
}

fn default_reset_after() -> Duration {
    Duration::from_secs(30)
}

impl TryFrom<PolicyFields> for RestartPolicy {
    type Error = ConfigError;

    fn try_from(fields: PolicyFields) -> Result<Self, ConfigError> {
        ConfigError::nonzero(
            "period",
            fields.period,
            "the restart window must be greater than zero, for example \"5s\"",
        )?;
        fields.backoff.validate()?;
        Ok(RestartPolicy { fields })
    }
}

impl From<RestartPolicy> for PolicyFields {
    fn from(policy: RestartPolicy) -> Self {
        policy.fields
    }
}

impl Default for RestartPolicy {
    /// One-for-one, at most 3 restarts in 5 s, no backoff, backoff count reset after 30 s of
    /// stable running.
    fn default() -> Self {
        RestartPolicy {
            fields: PolicyFields {
                strategy: Strategy::OneForOne,
                max_restarts: 3,
                period: Duration::from_secs(5),
                backoff: Backoff::None,
                reset_after: default_reset_after(),
            },
        }
    }
}

impl RestartPolicy {
    /// Builds a policy in code; see the accessors for each setting.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the field: a zero `period`, or an exponential backoff with a zero
    /// first wait, a factor below 1, a cap below the first wait, or jitter outside 0 to 1.
    pub fn new(
        strategy: Strategy,
        max_restarts: u32,
        period: Duration,
        backoff: Backoff,
        reset_after: Duration,
    ) -> Result<Self, ConfigError> {
        RestartPolicy::try_from(PolicyFields {
            strategy,
            max_restarts,
            period,
            backoff,
            reset_after,
        })
    }

    /// Which children restart together.
    pub fn strategy(&self) -> Strategy {
        self.fields.strategy
    }

    /// How many restarts the window allows; one more makes the scope give up.
    pub fn max_restarts(&self) -> u32 {
        self.fields.max_restarts
    }

    /// The sliding window restarts are counted in.
    pub fn period(&self) -> Duration {
        self.fields.period
    }

    /// The wait between restarts.
    pub fn backoff(&self) -> Backoff {
        self.fields.backoff
    }

    /// How long a child must run without ending for its backoff count to start again from 0.
    pub fn reset_after(&self) -> Duration {
        self.fields.reset_after
    }
}
