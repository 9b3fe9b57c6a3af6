//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use ractor_scope::{ActorKind, LiveActor, Manager, Resource};

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

/// A boxed error from a string, for task bodies.
pub fn fail(message: &str) -> Box<dyn std::error::Error + Send + Sync> {
    message.to_string().into()
}
