use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::RestartPolicy;

/// Restart intensity: the failures in the sliding window of a [`RestartPolicy`].
#[derive(Debug, Clone)]
pub struct RestartWindow {
    max_restarts: u32,
    period: Duration,
    failures: VecDeque<Instant>,
}

impl RestartWindow {
    /// An empty window for `policy`.
    pub fn new(policy: &RestartPolicy) -> Self {
        RestartWindow {
            max_restarts: policy.max_restarts(),
            period: policy.period(),
            failures: VecDeque::new(),
        }
    }

    /// Records a failure at `at` and returns whether a restart is still allowed: at most
    /// `max_restarts` failures within the last `period`, counting this one.
    pub fn allow(&mut self, at: Instant) -> bool {
        while self
            .failures
            .front()
            .is_some_and(|&earlier| at.saturating_duration_since(earlier) >= self.period)
        {
            self.failures.pop_front();
        }
        self.failures.push_back(at);
        self.failures.len() <= self.max_restarts as usize
    }

    /// Number of failures in the window as of the last one recorded.
    pub fn len(&self) -> usize {
        self.failures.len()
    }

    /// Returns whether no failure is in the window.
    pub fn is_empty(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The backoff of one child: how many times in a row it was restarted, and the random draws
/// for jitter (a small xorshift generator, seeded by the caller, so tests are repeatable).
#[derive(Debug, Clone)]
pub struct BackoffState {
    in_a_row: u32,
    random: u64,
}

impl BackoffState {
    /// A fresh state; `seed` feeds the jitter (any value but zero is used as is).
    pub fn new(seed: u64) -> Self {
        BackoffState {
            in_a_row: 0,
            random: seed.max(1),
        }
    }

    /// The wait before restarting a child that ran since `started` and ended at `now`. A child
    /// that ran for at least the policy's `reset_after` starts the count again from 0.
    pub fn next_delay(
        &mut self,
        policy: &RestartPolicy,
        started: Instant,
        now: Instant,
    ) -> Duration {
        if now.saturating_duration_since(started) >= policy.reset_after() {
            self.in_a_row = 0;
        }
        let delay = policy.backoff().delay(self.in_a_row, self.draw());
        self.in_a_row = self.in_a_row.saturating_add(1);
        delay
    }

    /// Restarts in a row so far.
    pub fn in_a_row(&self) -> u32 {
        self.in_a_row
    }

    /// A number uniform in `[0, 1)`.
    fn draw(&mut self) -> f64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        (self.random >> 11) as f64 / (1u64 << 53) as f64
    }
}
