use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorRef};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::actor::{PoolActor, PoolMsg};
use super::config::{PoolBuilder, PoolConfig};
use super::shared::{Item, Outcome, Release, Shared, Waiter};
use super::{PoolError, PoolStats, PoolStatus};
use crate::util::lock;
use crate::{BoxError, CancelCause, Context, Name, Resource};

/// How long `close` waits for the pool's actor.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A bounded pool of items made by an async factory, shared by many tasks.
///
/// Waiters are served strictly first come, first served: a new caller never takes an item
/// ahead of one that is waiting. Acquirers take idle items, queue to wait, and hand items they
/// give back to the first waiter themselves, under a short lock, with no message. Making and
/// replacing items go through the pool's actor.
///
/// Cloning is cheap; clones share the pool. Dropping the last clone closes the pool.
#[must_use = "dropping the last ResourcePool handle closes the pool"]
pub struct ResourcePool<T: Send + 'static> {
    inner: Arc<Inner<T>>,
}

impl<T: Send + 'static> Clone for ResourcePool<T> {
    fn clone(&self) -> Self {
        ResourcePool {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<T: Send + 'static> {
    shared: Arc<Shared<T>>,
    actor: ActorRef<PoolMsg<T>>,
}

impl<T: Send + 'static> Drop for Inner<T> {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        let (reply, _) = ractor::concurrency::oneshot();
        let _ = self.actor.cast(PoolMsg::Close(reply.into()));
        // Drain: the actor handles what is queued (the close, items just made) before it
        // stops.
        let _ = self.actor.drain();
    }
}

impl<T: Send + 'static> std::fmt::Debug for ResourcePool<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourcePool")
            .field("name", &self.inner.shared.config.name)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// How long an acquire may wait: the caller's task (its cancellation and deadline), a plain
/// timeout, or the pool's default acquire timeout.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum AcquireWith<'a> {
    /// Wait until the task is cancelled or its deadline passes, and at most the pool's acquire
    /// timeout.
    Context(&'a Context),
    /// Wait at most this long.
    Timeout(Duration),
    /// Wait at most the pool's acquire timeout.
    Default,
}

impl<'a> From<&'a Context> for AcquireWith<'a> {
    fn from(ctx: &'a Context) -> Self {
        AcquireWith::Context(ctx)
    }
}

impl From<Duration> for AcquireWith<'_> {
    fn from(timeout: Duration) -> Self {
        AcquireWith::Timeout(timeout)
    }
}

impl From<()> for AcquireWith<'_> {
    fn from((): ()) -> Self {
        AcquireWith::Default
    }
}

/// Recovers an item sent to a waiter that is going away, and settles the waiter so the waiter
/// count stays right, whichever moment the acquire is dropped at.
struct WaitGuard<'a, T: Send + 'static> {
    shared: &'a Shared<T>,
    receiver: oneshot::Receiver<Outcome<T>>,
    settled: Arc<AtomicBool>,
    /// Set once the outcome was received, so there is nothing left to recover.
    received: bool,
    /// Set when the acquire ends on a path that counts its own outcome (a timeout, a
    /// cancellation, the actor gone). A drop without it is the caller dropping the acquire,
    /// counted as a cancellation.
    counted: bool,
}

impl<T: Send + 'static> Drop for WaitGuard<'_, T> {
    fn drop(&mut self) {
        if self.received {
            return;
        }
        {
            // The flag and the count change together under the lock, so a status snapshot
            // or the actor's count of waiters never includes a waiter that gave up.
            let mut books = lock(&self.shared.books);
            if !self.counted {
                books.stats.cancellations += 1;
            }
            if !self.settled.swap(true, Ordering::SeqCst) {
                // Gave up first: whoever serves the queue skips this waiter.
                books.waiters -= 1;
                return;
            }
        }
        // Settled by someone who sends it an outcome, now or in a moment. Closing the receiver
        // makes a later send fail, so that the sender keeps the outcome. An outcome sent
        // already is taken back here.
        self.receiver.close();
        if let Ok(Ok(item)) = self.receiver.try_recv() {
            self.shared.give_back(item, false);
        }
    }
}

/// Guards an item being validated. If the acquirer is cancelled meanwhile, the item is dropped
/// with the validation future, so it is counted as released and its capacity freed.
struct Checking<'a, T: Send + 'static> {
    shared: &'a Shared<T>,
    armed: bool,
}

impl<T: Send + 'static> Drop for Checking<'_, T> {
    fn drop(&mut self) {
        if self.armed {
            {
                let mut books = lock(&self.shared.books);
                books.in_use -= 1;
                books.stats.cancellations += 1;
            }
            self.shared.capacity_freed();
        }
    }
}

impl<T: Send + 'static> ResourcePool<T> {
    /// Starts building a pool of at most `max_size` items made by `factory`.
    pub fn builder<F, Fut, E>(max_size: usize, factory: F) -> PoolBuilder<T>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        PoolBuilder::new(max_size, factory)
    }

    pub(crate) async fn start(config: PoolConfig<T>) -> Result<ResourcePool<T>, PoolError> {
        if !crate::util::in_runtime() {
            return Err(PoolError::NoRuntime);
        }
        let name = config.name.clone();
        let shared = Shared::new(config);
        let (actor, _) = Actor::spawn(None, PoolActor::new(), Arc::clone(&shared))
            .await
            .map_err(|error| PoolError::Stopped {
                pool: name,
                reason: error.to_string(),
            })?;
        Ok(ResourcePool {
            inner: Arc::new(Inner { shared, actor }),
        })
    }

    /// The pool's name.
    pub fn name(&self) -> &Name {
        &self.inner.shared.config.name
    }

    /// A consistent snapshot of the pool's items and waiters.
    pub fn status(&self) -> PoolStatus {
        self.inner.shared.status()
    }

    /// The pool's counters since it started.
    pub fn stats(&self) -> PoolStats {
        self.inner.shared.stats()
    }

    /// Acquires an item, waiting as `with` allows: a task's [`Context`], a [`Duration`], or
    /// `()` for the pool's default acquire timeout.
    ///
    /// An idle item is taken at once when nobody is waiting. Otherwise the caller queues
    /// behind the earlier waiters, and the pool makes a new item when it has room. A validation
    /// hook, if set, runs on the item before it is handed out; an item that fails it is
    /// released and the caller keeps its place.
    ///
    /// # Errors
    ///
    /// [`PoolError::TimedOut`], [`PoolError::Cancelled`] (the task was cancelled),
    /// [`PoolError::Closed`], or [`PoolError::Factory`] when the item made for this caller
    /// could not be made.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe at every await: a dropped acquire gives up its place, and an item handed to
    /// it at that moment, or being validated for it, goes back to the pool (or is released
    /// and replaced). No item is lost.
    pub async fn acquire<'a>(
        &self,
        with: impl Into<AcquireWith<'a>>,
    ) -> Result<Pooled<T>, PoolError> {
        let with = with.into();
        let shared = &*self.inner.shared;
        let default = shared.config.acquire_timeout;
        let (timeout, ctx) = match with {
            AcquireWith::Context(ctx) => (default, Some(ctx)),
            AcquireWith::Timeout(timeout) => (timeout, None),
            AcquireWith::Default => (default, None),
        };
        // The clock is read once per round, because a read is a measurable part of an acquire:
        // the first round uses the start time, a later one reads it after a failed validation.
        let mut now = Instant::now();
        // A timeout too large to add is no limit at all.
        let deadline = now.checked_add(timeout);
        let mut keep_place = false;
        let mut invalid = 0;
        loop {
            if shared.is_closed() {
                return Err(self.closed());
            }
            if let Some(cause) = ctx.and_then(Context::cancel_cause) {
                lock(&shared.books).stats.cancellations += 1;
                return Err(self.cancelled(cause));
            }
            let item = match (!keep_place).then(|| shared.take_idle()).flatten() {
                Some(item) => item,
                None => {
                    // Only a caller that has to wait can run out of time. The deadline is
                    // checked before `wait`, which may still find an item given back since.
                    if deadline.is_some_and(|deadline| now >= deadline) {
                        lock(&shared.books).stats.timeouts += 1;
                        return Err(PoolError::TimedOut {
                            pool: shared.config.name.clone(),
                            timeout,
                        });
                    }
                    self.wait(deadline, timeout, ctx, keep_place).await?
                }
            };
            match self.check(item).await {
                Ok(item) => {
                    lock(&shared.books).stats.acquired += 1;
                    return Ok(Pooled {
                        shared: Arc::clone(&self.inner.shared),
                        item: Some(item),
                        broken: false,
                    });
                }
                // Failed validation: released; wait again at the front of the queue, unless every
                // item there was and a new one failed too.
                Err(error) => {
                    invalid += 1;
                    if invalid > shared.config.max_size {
                        return Err(PoolError::Invalid {
                            pool: shared.config.name.clone(),
                            attempts: invalid,
                            source: Arc::from(error),
                        });
                    }
                    keep_place = true;
                    now = Instant::now();
                }
            }
        }
    }

    /// Takes an idle item or waits in the queue for one.
    ///
    /// The idle queue is checked again under the same lock that queues the waiter: an item
    /// given back between the caller's failed `take_idle` and this point is taken here, not
    /// left idle while this caller waits.
    async fn wait(
        &self,
        deadline: Option<Instant>,
        timeout: Duration,
        ctx: Option<&Context>,
        front: bool,
    ) -> Result<Item<T>, PoolError> {
        let shared = &*self.inner.shared;
        // Waiting needs tokio's timer for the acquire timeout.
        if !crate::util::in_runtime() {
            return Err(PoolError::NoRuntime);
        }
        let (sender, receiver) = oneshot::channel();
        let settled = Arc::new(AtomicBool::new(false));
        let mut expired = Vec::new();
        let queued = {
            let mut books = lock(&shared.books);
            // Checked under the lock, which `close` takes to fail the queued waiters after it
            // set the flag: a waiter queued here is either failed by `close` or finds the flag
            // set.
            if shared.is_closed() {
                return Err(self.closed());
            }
            // A waiter that keeps its place after a failed validation is first in line.
            let taken = if books.waiters == 0 || front {
                shared.take_idle_locked(&mut books, &mut expired)
            } else {
                None
            };
            match taken {
                Some(item) => Err(item),
                None => {
                    let waiter = Waiter {
                        sender,
                        settled: Arc::clone(&settled),
                    };
                    books.push_waiter(waiter, front);
                    // Another item is wanted when the pool has room and more waiters than
                    // items being made. The actor checks again when the message arrives.
                    let room = books.size() < shared.config.max_size;
                    Ok(room && books.waiters > books.creating)
                }
            }
        };
        shared.release_expired(expired);
        let needs_item = match queued {
            Ok(needs_item) => needs_item,
            Err(item) => return Ok(item),
        };
        let mut guard = WaitGuard {
            shared,
            receiver,
            settled,
            received: false,
            counted: false,
        };
        if needs_item && self.inner.actor.cast(PoolMsg::Queued).is_err() {
            // The actor is gone, so no new item can be made. The guard settles the waiter, or
            // gives back an item handed to it meanwhile.
            guard.counted = true;
            return Err(self.closed());
        }

        let cancelled = async {
            match ctx {
                Some(ctx) => ctx.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            biased;
            received = &mut guard.receiver => Some(received),
            () = crate::util::sleep_until_opt(deadline) => None,
            () = cancelled => None,
        };
        match outcome {
            Some(Ok(Ok(item))) => {
                guard.received = true;
                Ok(item)
            }
            Some(Ok(Err(error))) => {
                guard.received = true;
                Err(error)
            }
            Some(Err(_)) => {
                guard.counted = true;
                Err(self.closed())
            }
            None => {
                guard.counted = true;
                drop(guard);
                let mut books = lock(&shared.books);
                if let Some(cause) = ctx.and_then(Context::cancel_cause) {
                    books.stats.cancellations += 1;
                    return Err(self.cancelled(cause));
                }
                books.stats.timeouts += 1;
                Err(PoolError::TimedOut {
                    pool: shared.config.name.clone(),
                    timeout,
                })
            }
        }
    }

    /// Runs the validation hook on an item counted in use. Returns the hook's error when it
    /// failed (the item is then released).
    async fn check(&self, item: Item<T>) -> Result<Item<T>, BoxError> {
        let shared = &*self.inner.shared;
        let Some(validate) = shared.config.validate.clone() else {
            return Ok(item);
        };
        let mut checking = Checking {
            shared,
            armed: true,
        };
        let created = item.created;
        let outcome = crate::util::CatchUnwind::new(validate(item.value)).await;
        checking.armed = false;
        match outcome {
            Ok(Ok(value)) => Ok(Item { value, created }),
            Ok(Err(error)) => {
                tracing::debug!(pool.name = %shared.config.name, error = %error, "pool item failed validation");
                self.released_invalid();
                Err(error)
            }
            Err(panic) => {
                tracing::warn!(pool.name = %shared.config.name, panic = %panic, "pool validation panicked");
                self.released_invalid();
                Err(format!("validation panicked: {panic}").into())
            }
        }
    }

    /// Counts an item consumed by a failed validation as released.
    fn released_invalid(&self) {
        let shared = &*self.inner.shared;
        {
            let mut books = lock(&shared.books);
            books.in_use -= 1;
            books.stats.invalid += 1;
        }
        shared.capacity_freed();
    }

    fn closed(&self) -> PoolError {
        PoolError::Closed {
            pool: self.inner.shared.config.name.clone(),
        }
    }

    fn cancelled(&self, cause: CancelCause) -> PoolError {
        PoolError::Cancelled {
            pool: self.inner.shared.config.name.clone(),
            cause,
        }
    }

    /// Closes the pool: new acquires fail with [`PoolError::Closed`], every waiter is woken with
    /// that error, idle items are released at once, and items in use are released when they
    /// come back.
    ///
    /// # Cancel safety
    ///
    /// The pool is closed when this is first polled; dropping the future only skips waiting for
    /// the waiters to be woken.
    pub async fn close(&self) {
        self.inner.shared.closed.store(true, Ordering::SeqCst);
        let _ = self
            .inner
            .actor
            .call(PoolMsg::Close, Some(CLOSE_TIMEOUT))
            .await;
    }
}

/// Closing the pool when its owner (a scope or task it is registered with) ends.
impl<T: Send + 'static> Resource for ResourcePool<T> {
    type Error = std::convert::Infallible;

    async fn release(self) -> Result<(), Self::Error> {
        self.close().await;
        Ok(())
    }

    fn name(&self) -> &str {
        &self.inner.shared.config.name
    }
}

/// An item taken from a [`ResourcePool`]. It dereferences to the item.
///
/// Dropping it gives the item back (also while unwinding from a panic); an item marked broken
/// with [`Pooled::mark_broken`] is released and replaced instead. It is `Send` when the item
/// is, so items that are not `Sync` (a database connection) can cross await points.
#[must_use = "dropping the guard gives the item back at once"]
pub struct Pooled<T: Send + 'static> {
    shared: Arc<Shared<T>>,
    item: Option<Item<T>>,
    broken: bool,
}

impl<T: Send + 'static> Pooled<T> {
    /// Marks the item broken: when the guard is dropped, the item is released, not returned,
    /// and the pool makes a new one when it needs it.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// How long ago the item was made.
    pub fn age(&self) -> Duration {
        self.item
            .as_ref()
            .map(|item| item.created.elapsed())
            .unwrap_or_default()
    }
}

impl<T: Send + 'static> Deref for Pooled<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self
            .item
            .as_ref()
            .expect("the item is present until drop")
            .value
    }
}

impl<T: Send + 'static> DerefMut for Pooled<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self
            .item
            .as_mut()
            .expect("the item is present until drop")
            .value
    }
}

impl<T: Send + 'static> std::fmt::Debug for Pooled<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pooled")
            .field("pool", &self.shared.config.name)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Drop for Pooled<T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            if self.broken {
                self.shared.release_in_use(item, Release::Broken);
            } else {
                self.shared.give_back(item, false);
            }
        }
    }
}
