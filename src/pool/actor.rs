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
    fn serve(&mut self) {
        if self.shared.is_closed() {
            return;
        }
        let start = {
            let mut books = lock(&self.shared.books);
            let wanted = books.waiters.saturating_sub(books.creating);
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

    /// Hands a new item to the first waiter, or its error when the factory failed.
    fn created(&mut self, made: Result<T, BoxError>) {
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
                // The error goes to the waiter the item was for: the oldest one.
                if let Some(error) = shared.settle_first(Err(error)) {
                    tracing::warn!(
                        pool.name = %shared.config.name,
                        error = %error,
                        "pool factory failed and no acquirer was waiting"
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
            PoolMsg::Created(made) => {
                state.created(made);
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
