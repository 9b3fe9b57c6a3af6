use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::time::Instant;

use super::shared::{Item, Shared};
use super::PoolError;
use crate::util::{lock, CatchUnwind};
use crate::BoxError;

pub(crate) enum PoolMsg<T> {
    /// An acquirer queued while the pool had room for another item.
    Queued,
    /// The factory finished. The flag is the settled flag of the waiter the call was made
    /// for, if one was queued.
    Created(Result<T, BoxError>, Option<Arc<AtomicBool>>),
    /// An item was released, so there may be room to make another.
    Freed,
    /// Release idle items that waited too long.
    Reap,
    /// Close the pool.
    Close(RpcReplyPort<()>),
}

#[cfg(feature = "cluster")]
impl<T: Send + 'static> ractor::Message for PoolMsg<T> {}

/// The actor of one pool. It owns the factory calls, the reaping of idle items and closing.
/// The queue of waiting acquirers is in the shared books: acquirers take idle items, queue
/// themselves and hand returned items to the first waiter under the books' lock, with no
/// message. The actor hears only of what may call for a new item: a waiter queued while there
/// was room, or an item released.
pub(crate) struct PoolActor<T>(std::marker::PhantomData<fn() -> T>);

impl<T> PoolActor<T> {
    pub(crate) fn new() -> Self {
        PoolActor(std::marker::PhantomData)
    }
}

pub(crate) struct PoolState<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Send + 'static> PoolState<T> {
    /// Starts the factory while there is room and more waiters than items being made.
    ///
    /// Each call is made for one waiter: the first waiter that the calls already running do
    /// not cover, in queue order. A new item still goes to the first waiter, but a factory
    /// error goes only to the waiter the call was made for.
    fn serve(&mut self) {
        if self.shared.is_closed() {
            return;
        }
        let targets: Vec<Arc<AtomicBool>> = {
            let mut books = lock(&self.shared.books);
            let wanted = books.waiters.saturating_sub(books.creating);
            let room = self.shared.config.max_size.saturating_sub(books.size());
            let start = wanted.min(room);
            if start == 0 {
                return;
            }
            let targets = books
                .queue
                .iter()
                .filter(|waiter| !waiter.settled.load(Ordering::SeqCst))
                .skip(books.creating)
                .take(start)
                .map(|waiter| Arc::clone(&waiter.settled))
                .collect();
            books.creating += start;
            books.note_size();
            targets
        };
        for target in targets {
            self.create(Some(target));
        }
    }

    /// Runs the factory in a task of its own and reports back by message. A panic in the
    /// factory, also in the closure before it returns its future, counts as a factory error.
    fn create(&self, target: Option<Arc<AtomicBool>>) {
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
            if let Err(ractor::MessagingErr::SendErr(PoolMsg::Created(made, _))) =
                actor.cast(PoolMsg::Created(made, target))
            {
                // The actor is gone: the item is released and the books follow.
                drop(made);
                lock(&shared.books).creating -= 1;
            }
        });
    }

    /// Hands a new item to the first waiter, or the factory's error to the waiter the call
    /// was made for. An error whose waiter is gone is logged, and `serve` makes another call
    /// for the waiters still queued.
    fn created(&mut self, made: Result<T, BoxError>, target: Option<Arc<AtomicBool>>) {
        let shared = &self.shared;
        let mut books = lock(&shared.books);
        books.creating -= 1;
        match made {
            Ok(value) if !shared.is_closed() => {
                books.stats.created += 1;
                books.in_use += 1;
                drop(books);
                let item = Item {
                    value,
                    created: Instant::now(),
                };
                shared.settle_first(Ok(item));
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
                    pool: shared.config.name.clone(),
                    source: Arc::from(error),
                };
                if let Some(error) = shared.settle_target(target.as_ref(), error) {
                    tracing::warn!(
                        pool.name = %shared.config.name,
                        error = %error,
                        "pool factory failed and the acquirer it was called for is gone"
                    );
                }
            }
        }
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
        Ok(PoolState { shared })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PoolMsg::Queued | PoolMsg::Freed => state.serve(),
            PoolMsg::Created(made, target) => {
                state.created(made, target);
                state.serve();
            }
            PoolMsg::Reap => reap(state),
            PoolMsg::Close(reply) => {
                let closed = PoolError::Closed {
                    pool: state.shared.config.name.clone(),
                };
                state.shared.close_waiters(&closed);
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
    shared.release_expired(expired);
}
