use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::shared::{Item, Shared};
use super::PoolError;
use crate::util::{lock, CatchUnwind};
use crate::BoxError;

/// An acquirer waiting for an item.
pub(crate) struct Waiter<T> {
    pub(crate) sender: oneshot::Sender<Result<Item<T>, PoolError>>,
    /// Set by whoever settles the waiter first: the actor when it serves it, or the acquirer
    /// when it gives up. The winner updates the waiter count.
    pub(crate) settled: Arc<AtomicBool>,
    /// A waiter whose item failed validation goes back to the front of the queue.
    pub(crate) front: bool,
}

pub(crate) enum PoolMsg<T> {
    /// An acquirer waits for an item.
    Acquire(Waiter<T>),
    /// An item came back while acquirers were waiting; it is still counted in use.
    Returned(Item<T>),
    /// The factory finished.
    Created(Result<T, BoxError>),
    /// An item was released, so there may be room to make another.
    Freed,
    /// Release idle items that waited too long.
    Reap,
    /// Close the pool.
    Close(RpcReplyPort<()>),
}

#[cfg(feature = "cluster")]
impl<T: Send + 'static> ractor::Message for PoolMsg<T> {}

/// The actor of one pool. It owns the queue of waiting acquirers and the factory calls. Idle
/// items are handed out and taken back by the acquirers themselves, under the books' lock;
/// the actor serves the waiters, in arrival order.
pub(crate) struct PoolActor<T>(std::marker::PhantomData<fn() -> T>);

impl<T> PoolActor<T> {
    pub(crate) fn new() -> Self {
        PoolActor(std::marker::PhantomData)
    }
}

pub(crate) struct PoolState<T> {
    shared: Arc<Shared<T>>,
    waiters: VecDeque<Waiter<T>>,
}

impl<T: Send + 'static> PoolState<T> {
    /// Drops waiters that gave up, from the front.
    fn prune(&mut self) {
        while self
            .waiters
            .front()
            .is_some_and(|waiter| waiter.settled.load(Ordering::SeqCst))
        {
            self.waiters.pop_front();
        }
    }

    /// Settles the first waiter that is still there with `outcome`, and lowers the waiter
    /// count. Returns the outcome when no waiter took it. An item passed in must already be
    /// counted in use; it stays so, whoever gets it.
    fn settle_first(
        &mut self,
        outcome: Result<Item<T>, PoolError>,
    ) -> Option<Result<Item<T>, PoolError>> {
        let mut outcome = outcome;
        loop {
            self.prune();
            let Some(waiter) = self.waiters.pop_front() else {
                return Some(outcome);
            };
            if waiter.settled.swap(true, Ordering::SeqCst) {
                continue;
            }
            lock(&self.shared.books).waiters -= 1;
            match waiter.sender.send(outcome) {
                Ok(()) => return None,
                // The acquirer went away at this very moment; its guard found nothing, so the
                // outcome comes back here for the next waiter.
                Err(returned) => outcome = returned,
            }
        }
    }

    /// Hands idle items to waiters, and starts the factory while there is room and more
    /// waiters than items being made.
    fn serve(&mut self) {
        if self.shared.is_closed() {
            return;
        }
        loop {
            self.prune();
            if self.waiters.is_empty() {
                return;
            }
            // Counted in use from here, ahead of the queued waiters.
            let Some(item) = self.shared.take_idle(true) else {
                break;
            };
            if let Some(Ok(item)) = self.settle_first(Ok(item)) {
                self.keep_idle(item);
                return;
            }
        }
        let start = {
            let mut books = lock(&self.shared.books);
            let live = self
                .waiters
                .iter()
                .filter(|waiter| !waiter.settled.load(Ordering::SeqCst))
                .count();
            let wanted = live.saturating_sub(books.creating);
            let room = self.shared.config.max_size.saturating_sub(books.size());
            let start = wanted.min(room);
            books.creating += start;
            books.note_size();
            start
        };
        for _ in 0..start {
            self.create();
        }
    }

    /// Moves an item counted in use back to the idle queue.
    fn keep_idle(&mut self, item: Item<T>) {
        let mut books = lock(&self.shared.books);
        books.in_use -= 1;
        books.idle.push_back(super::shared::Idle {
            item,
            since: Instant::now(),
        });
    }

    /// Runs the factory in a task of its own and reports back by message. A panic in the
    /// factory counts as a factory error.
    fn create(&self) {
        let shared = Arc::clone(&self.shared);
        let factory = Arc::clone(&shared.config.factory);
        tokio::spawn(async move {
            let made = match CatchUnwind::new(factory()).await {
                Ok(made) => made,
                Err(panic) => Err(format!("factory panicked: {panic}").into()),
            };
            let Some(actor) = shared.actor.get() else {
                return;
            };
            if let Err(ractor::MessagingErr::SendErr(PoolMsg::Created(made))) =
                actor.cast(PoolMsg::Created(made))
            {
                // The actor is gone: the item is released and the books follow.
                drop(made);
                lock(&shared.books).creating -= 1;
            }
        });
    }
}

impl<T: Send + 'static> Actor for PoolActor<T> {
    type Msg = PoolMsg<T>;
    type State = PoolState<T>;
    type Arguments = Arc<Shared<T>>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        shared: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let _ = shared.actor.set(myself.clone());
        if let Some(period) = reap_period(&shared) {
            myself.send_interval(period, || PoolMsg::Reap);
        }
        Ok(PoolState {
            shared,
            waiters: VecDeque::new(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PoolMsg::Acquire(waiter) => {
                if state.shared.is_closed() {
                    state.waiters.push_front(waiter);
                    close_waiters(state);
                    return Ok(());
                }
                if waiter.front {
                    state.waiters.push_front(waiter);
                } else {
                    state.waiters.push_back(waiter);
                }
                state.serve();
            }
            PoolMsg::Returned(item) => {
                if state.shared.is_closed() || state.shared.expired(&item, None) {
                    let reason = if state.shared.is_closed() {
                        super::shared::Release::Closed
                    } else {
                        super::shared::Release::Expired
                    };
                    state.shared.release_in_use(item, reason);
                } else if let Some(Ok(item)) = state.settle_first(Ok(item)) {
                    state.keep_idle(item);
                }
                state.serve();
            }
            PoolMsg::Created(made) => {
                let mut books = lock(&state.shared.books);
                books.creating -= 1;
                match made {
                    Ok(value) if !state.shared.is_closed() => {
                        books.stats.created += 1;
                        books.in_use += 1;
                        drop(books);
                        let item = Item {
                            value,
                            created: Instant::now(),
                        };
                        if let Some(Ok(item)) = state.settle_first(Ok(item)) {
                            state.keep_idle(item);
                        }
                    }
                    Ok(value) => {
                        books.stats.created += 1;
                        drop(books);
                        drop(value);
                    }
                    Err(error) => {
                        books.stats.factory_errors += 1;
                        drop(books);
                        let error = PoolError::Factory {
                            pool: state.shared.config.name.clone(),
                            source: Arc::from(error),
                        };
                        // The error goes to the waiter the item was for: the oldest one.
                        if let Some(Err(error)) = state.settle_first(Err(error)) {
                            tracing::warn!(
                                pool.name = %state.shared.config.name,
                                error = %error,
                                "pool factory failed and no acquirer was waiting"
                            );
                        }
                    }
                }
                state.serve();
            }
            PoolMsg::Freed => state.serve(),
            PoolMsg::Reap => reap(state),
            PoolMsg::Close(reply) => {
                close_waiters(state);
                let _ = reply.send(());
            }
        }
        Ok(())
    }
}

/// How often to look for idle items that waited too long.
fn reap_period<T>(shared: &Shared<T>) -> Option<Duration> {
    shared
        .config
        .idle_timeout
        .map(|timeout| (timeout / 2).max(Duration::from_millis(10)))
}

fn reap<T: Send + 'static>(state: &mut PoolState<T>) {
    let shared = &state.shared;
    let expired: Vec<Item<T>> = {
        let mut books = lock(&shared.books);
        let mut kept = std::collections::VecDeque::with_capacity(books.idle.len());
        let mut expired = Vec::new();
        while let Some(idle) = books.idle.pop_front() {
            if shared.expired(&idle.item, Some(idle.since)) {
                expired.push(idle.item);
            } else {
                kept.push_back(idle);
            }
        }
        books.idle = kept;
        books.releasing += expired.len();
        books.stats.expired += expired.len() as u64;
        expired
    };
    if !expired.is_empty() {
        shared.finish_release(expired.len(), expired);
    }
}

/// Fails every waiter with the closed error and releases the idle items.
fn close_waiters<T: Send + 'static>(state: &mut PoolState<T>) {
    let closed = PoolError::Closed {
        pool: state.shared.config.name.clone(),
    };
    while !state.waiters.is_empty() {
        state.settle_first(Err(closed.clone()));
    }
    let idle: Vec<Item<T>> = {
        let mut books = lock(&state.shared.books);
        let idle: Vec<Item<T>> = books.idle.drain(..).map(|idle| idle.item).collect();
        books.releasing += idle.len();
        idle
    };
    if !idle.is_empty() {
        state.shared.finish_release(idle.len(), idle);
    }
}
