//! Command-line settings of the checkout service. Every duration is a flag, in humantime
//! syntax (`250ms`, `2s`, `1m`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::payment::Mode;

/// Settings of the checkout service and its payment backend.
#[derive(Debug, Clone, Parser)]
#[command(name = "checkout")]
pub struct Settings {
    /// Port of the checkout service on 127.0.0.1; 0 lets the OS choose one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// Port of the payment backend on 127.0.0.1; 0 lets the OS choose one.
    #[arg(long, default_value_t = 0)]
    pub payment_port: u16,

    /// SQLite database file. Default: a new file in a temporary folder, removed at exit.
    /// An existing file keeps its data; an empty one is created and seeded.
    #[arg(long)]
    pub db: Option<PathBuf>,

    /// Deadline of each checkout scope. Past it the checkout responds with 504.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub deadline: Duration,

    /// Timeout of the charge step.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub charge_timeout: Duration,

    /// Call timeout of the payment circuit breaker. Keep it below the charge timeout, so that
    /// a hanging payment backend counts as a breaker failure and opens the breaker.
    #[arg(long, default_value = "300ms", value_parser = humantime::parse_duration)]
    pub breaker_call_timeout: Duration,

    /// Consecutive payment failures that open the breaker.
    #[arg(long, default_value_t = 5)]
    pub breaker_failures: u32,

    /// How long the breaker stays open before it lets a trial call through; it doubles after
    /// each failed trial, up to 8 times this.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    pub breaker_reset: Duration,

    /// Initial mode of the payment backend: ok, fail, hang, slow or crash.
    #[arg(long, value_enum, default_value_t = Mode::Ok)]
    pub payment_mode: Mode,

    /// Latency of the payment backend in `slow` mode.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    pub payment_latency: Duration,

    /// How long a database statement waits for another writer's lock before it fails (the
    /// checkout then responds with 503).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub db_busy_timeout: Duration,

    /// How long a failed checkout may take to give its stock back and refund its payment,
    /// retrying while the database is busy. Past it the failure is logged and counted.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub release_timeout: Duration,

    /// Most SQLite connections in the pool.
    #[arg(long, default_value_t = 8)]
    pub pool_size: usize,

    /// How long a checkout step waits for a free database connection.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub acquire_timeout: Duration,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, default_value_t = 16 * 1024)]
    pub max_body: usize,

    /// Largest quantity of one product in a cart.
    #[arg(long, default_value_t = 100)]
    pub max_quantity: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::parse_from(["checkout"])
    }
}

impl Settings {
    /// The maximum time a request may take: its body, the checkout's deadline, a database
    /// statement that waits for a lock, and the compensation.
    pub fn request_timeout(&self) -> Duration {
        // Saturating: each flag may be huge on its own, and a sum past `Duration::MAX` means
        // no limit, not a panic.
        self.deadline
            .saturating_add(self.db_busy_timeout)
            .saturating_add(self.release_timeout)
    }

    /// Lists settings that are valid but defeat part of the design, each with the fix.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.breaker_call_timeout >= self.charge_timeout {
            warnings.push(format!(
                "--breaker-call-timeout {:?} is not below --charge-timeout {:?}: a hanging payment backend times out the charge step first and never opens the breaker; lower the call timeout",
                self.breaker_call_timeout, self.charge_timeout
            ));
        }
        if self.charge_timeout >= self.deadline {
            warnings.push(format!(
                "--charge-timeout {:?} is not below --deadline {:?}: the checkout deadline passes first, so the charge step never times out on its own",
                self.charge_timeout, self.deadline
            ));
        }
        warnings
    }

    /// Checks the settings that the library does not check itself, and returns one message
    /// per invalid flag, naming the value and the fix.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        let durations = [
            ("--deadline", self.deadline),
            ("--charge-timeout", self.charge_timeout),
            ("--breaker-call-timeout", self.breaker_call_timeout),
            ("--breaker-reset", self.breaker_reset),
            ("--payment-latency", self.payment_latency),
            ("--acquire-timeout", self.acquire_timeout),
            ("--db-busy-timeout", self.db_busy_timeout),
            ("--release-timeout", self.release_timeout),
        ];
        for (flag, value) in durations {
            if value.is_zero() {
                problems.push(format!("{flag} 0s is invalid; give a positive duration"));
            }
        }
        // The breaker's reset timeout grows up to 8 times this, and the breaker takes at most
        // 24 days.
        let longest_reset = Duration::from_secs(24 * 24 * 3600 / 8);
        if self.breaker_reset > longest_reset {
            problems.push(format!(
                "--breaker-reset {} is too long: it grows up to 8 times after failed trials and the breaker allows at most 24 days; use at most 3d",
                humantime::format_duration(self.breaker_reset)
            ));
        }
        // SQLite takes its busy timeout in milliseconds as a 32-bit signed integer.
        let longest_busy_timeout = Duration::from_millis(i32::MAX as u64);
        if self.db_busy_timeout > longest_busy_timeout {
            problems.push(format!(
                "--db-busy-timeout {} is too long: SQLite allows at most {}; use at most 24d",
                humantime::format_duration(self.db_busy_timeout),
                humantime::format_duration(longest_busy_timeout)
            ));
        }
        if self.breaker_failures == 0 {
            problems.push("--breaker-failures 0 is invalid; use 1 or more".to_string());
        }
        if self.pool_size == 0 {
            problems.push("--pool-size 0 is invalid; use 1 or more".to_string());
        }
        if self.max_body < 64 {
            problems.push(format!(
                "--max-body {} is too small for any cart; use at least 64 bytes",
                self.max_body
            ));
        }
        if self.max_quantity < 1 {
            problems.push(format!(
                "--max-quantity {} is invalid; use 1 or more",
                self.max_quantity
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}
