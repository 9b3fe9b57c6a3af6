//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, Once};

use ractor_scope::{ActorKind, BoxError, LiveActor, Manager, Resource, ResourcePool};

/// A log of events in the order they happened.
#[derive(Clone, Default, Debug)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }

    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Entries that start with `prefix`, in order.
    pub fn with_prefix(&self, prefix: &str) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|e| e.starts_with(prefix))
            .collect()
    }
}

/// A resource that writes `released:<name>` to a log when released.
pub struct Recorded {
    pub name: String,
    pub log: Log,
}

impl Recorded {
    pub fn new(name: &str, log: &Log) -> Self {
        Recorded {
            name: name.to_string(),
            log: log.clone(),
        }
    }
}

impl Resource for Recorded {
    type Error = std::io::Error;

    async fn release(self) -> Result<(), Self::Error> {
        self.log.push(format!("released:{}", self.name));
        Ok(())
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// Live actors of `manager` other than the manager itself.
pub fn live_below(manager: &Manager) -> Vec<LiveActor> {
    manager
        .live_actors()
        .into_iter()
        .filter(|a| a.kind != ActorKind::Manager)
        .collect()
}

/// Returns the first live actor of `kind` under `manager`, and panics when there is none.
pub fn live_actor(manager: &Manager, kind: ActorKind) -> LiveActor {
    manager
        .live_actors()
        .into_iter()
        .find(|actor| actor.kind == kind)
        .unwrap_or_else(|| panic!("no live {kind:?} actor"))
}

/// A boxed error from a string, for task bodies.
pub fn fail(message: &str) -> Box<dyn std::error::Error + Send + Sync> {
    message.to_string().into()
}

/// A small deterministic generator (xorshift64), so that every run draws the same values.
/// The seed must not be zero.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Returns a value in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// Panics injected into task bodies carry this text; see [`quiet_injected_panics`].
pub const INJECTED_PANIC: &str = "injected panic";

/// Keeps the panics injected into task bodies off stderr; every other panic still goes to the
/// default hook.
pub fn quiet_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !message.contains(INJECTED_PANIC) {
                default(info);
            }
        }));
    });
}

/// Starts a pool named `name` of at most `max_size` items, each the count of items made before
/// it.
pub async fn counting_pool(name: &str, max_size: usize) -> ResourcePool<u64> {
    let made = Arc::new(std::sync::atomic::AtomicU64::new(0));
    ResourcePool::builder(max_size, move || {
        let made = Arc::clone(&made);
        async move { Ok::<_, BoxError>(made.fetch_add(1, std::sync::atomic::Ordering::SeqCst)) }
    })
    .name(name)
    .start()
    .await
    .unwrap()
}

/// The proptest configuration of the property tests: the default number of cases (or
/// `PROPTEST_CASES`), `seed` unless `PROPTEST_RNG_SEED` is set, and failing seeds kept in a
/// `.proptest-regressions` file next to the test's source.
pub fn proptest_config(seed: u64) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};
    let mut config = Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    };
    if config.rng_seed == RngSeed::Random {
        config.rng_seed = RngSeed::Fixed(seed);
    }
    config
}
