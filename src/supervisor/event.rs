use std::time::Duration;

use tokio::sync::broadcast;

use crate::Name;

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildExit {
    /// It returned normally (a task body's `Ok`, an actor that stopped).
    Normal,
    /// It failed: an error or a panic, with its message.
    Failed(String),
    /// It was killed from outside the supervisor.
    Killed,
    /// It could not be started, with the error.
    StartFailed(String),
    /// The supervised scope stopped it because a sibling was restarted under one-for-all or
    /// rest-for-one. Only a temporary child is left stopped after this.
    StoppedWithSibling,
}

/// A decision of a supervised scope, as logged and sent to subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupervisorEvent {
    /// `child` ended and is restarted after `delay`, together with `restarted` (by the
    /// strategy, in start order).
    Restarting {
        /// The child that ended.
        child: Name,
        /// How it ended.
        exit: ChildExit,
        /// The wait before the restart.
        delay: Duration,
        /// Every child restarted, in start order.
        restarted: Vec<Name>,
    },
    /// `child` ended and is not restarted, by its restart type.
    LeftStopped {
        /// The child.
        child: Name,
        /// How it ended.
        exit: ChildExit,
    },
    /// `child` ended once more than the restart intensity allows: the scope stopped every
    /// child and gave up.
    GaveUp {
        /// The child.
        child: Name,
        /// How it ended.
        exit: ChildExit,
        /// The policy's maximum restarts in the period.
        max_restarts: u32,
        /// The policy's period.
        period: Duration,
    },
    /// `child` did not stop within its graceful timeout and was killed.
    ChildKilled {
        /// The child.
        child: Name,
        /// The graceful timeout it ran past.
        timeout: Duration,
    },
    /// A significant child exited, so the scope shut itself down.
    AutoShutdown {
        /// The significant child whose exit triggered it.
        child: Name,
    },
}

/// A subscription to a supervised scope's decisions, from
/// [`Supervisor::events`](crate::Supervisor::events). A subscriber that falls behind misses the
/// oldest events; [`SupervisorEvents::missed`] counts them.
#[derive(Debug)]
#[must_use = "events are buffered only while the subscription is kept"]
pub struct SupervisorEvents {
    pub(crate) receiver: broadcast::Receiver<SupervisorEvent>,
    pub(crate) missed: u64,
}

impl SupervisorEvents {
    /// Receives the next event, waiting for one; `None` once the scope has stopped and every
    /// buffered event was received.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn recv(&mut self) -> Option<SupervisorEvent> {
        loop {
            match self.receiver.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(missed)) => self.missed += missed,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Takes the next buffered event, if any, without waiting.
    pub fn try_recv(&mut self) -> Option<SupervisorEvent> {
        loop {
            match self.receiver.try_recv() {
                Ok(event) => return Some(event),
                Err(broadcast::error::TryRecvError::Lagged(missed)) => self.missed += missed,
                Err(_) => return None,
            }
        }
    }

    /// Number of events this subscriber missed.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}
