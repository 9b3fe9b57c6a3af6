use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ractor::ActorRef;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::actor::PoolMsg;
use super::config::PoolConfig;
use super::{PoolError, PoolStats, PoolStatus};
use crate::util::lock;

/// An item with its birth time.
pub(crate) struct Item<T> {
    pub(crate) value: T,
    pub(crate) created: Instant,
}

/// An idle item and since when it waits.
pub(crate) struct Idle<T> {
    pub(crate) item: Item<T>,
    pub(crate) since: Instant,
}

/// The outcome sent to a waiter: an item counted in use, or the error that ends its acquire.
pub(crate) type Outcome<T> = Result<Item<T>, PoolError>;

/// An acquirer waiting for an item.
pub(crate) struct Waiter<T> {
    pub(crate) sender: oneshot::Sender<Outcome<T>>,
    /// Set, under the books' lock, by whoever settles the waiter first: the one who takes it
    /// from the queue to send it an outcome, or the acquirer when it gives up. The winner
    /// lowers the waiter count, and a settled waiter left in the queue is skipped.
    pub(crate) settled: Arc<AtomicBool>,
}

/// Bookkeeping under one lock, so that a status snapshot is consistent: every item is in
/// exactly one of idle, in use, creating and releasing, and `waiters` is the number of
/// unsettled waiters in `queue`.
pub(crate) struct Books<T> {
    pub(crate) idle: VecDeque<Idle<T>>,
    pub(crate) in_use: usize,
    pub(crate) creating: usize,
    pub(crate) releasing: usize,
    /// Waiting acquirers in the order they are served, settled ones included until they are
    /// skipped or pruned.
    pub(crate) queue: VecDeque<Waiter<T>>,
    pub(crate) waiters: usize,
    pub(crate) stats: PoolStats,
}

impl<T> Books<T> {
    pub(crate) fn size(&self) -> usize {
        self.idle.len() + self.in_use + self.creating + self.releasing
    }

    /// Queues a waiter, at the front when it keeps its place after a failed validation.
    pub(crate) fn push_waiter(&mut self, waiter: Waiter<T>, front: bool) {
        // Waiters that gave up stay queued until they reach the front. Pruning them all once
        // they are about half the queue keeps it bounded at an amortized constant cost.
        if self.queue.len() >= 2 * self.waiters + 32 {
            self.queue
                .retain(|waiter| !waiter.settled.load(Ordering::SeqCst));
        }
        // Every item kept idle went to a waiter first if one was queued, and a caller queues
        // only after it found no idle item under the same lock.
        debug_assert!(self.idle.is_empty(), "an item is idle while acquirers wait");
        if front {
            self.queue.push_front(waiter);
        } else {
            self.queue.push_back(waiter);
        }
        self.waiters += 1;
        self.stats.waited += 1;
    }

    /// Takes the first unsettled waiter from the queue, settles it and lowers the count. The
    /// caller must send it an outcome.
    pub(crate) fn pop_waiter(&mut self) -> Option<Waiter<T>> {
        while let Some(waiter) = self.queue.pop_front() {
            if waiter.settled.swap(true, Ordering::SeqCst) {
                continue;
            }
            self.waiters -= 1;
            return Some(waiter);
        }
        None
    }

    /// Takes the waiter whose settled flag is `settled` from the queue, if it is still
    /// unsettled, settles it and lowers the count. The caller must send it an outcome.
    pub(crate) fn take_waiter(&mut self, settled: &Arc<AtomicBool>) -> Option<Waiter<T>> {
        if settled.load(Ordering::SeqCst) {
            return None;
        }
        let position = self
            .queue
            .iter()
            .position(|waiter| Arc::ptr_eq(&waiter.settled, settled))?;
        let waiter = self.queue.remove(position)?;
        waiter.settled.store(true, Ordering::SeqCst);
        self.waiters -= 1;
        Some(waiter)
    }

    pub(crate) fn note_size(&mut self) {
        let size = self.size();
        if size > self.stats.peak_size {
            self.stats.peak_size = size;
        }
    }
}

/// What the pool's actor, its handles and its guards share.
pub(crate) struct Shared<T> {
    pub(crate) config: PoolConfig<T>,
    pub(crate) books: Mutex<Books<T>>,
    pub(crate) closed: AtomicBool,
    pub(crate) actor: OnceLock<ActorRef<PoolMsg<T>>>,
}

/// Why an item leaves the pool.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Release {
    Broken,
    Expired,
    Closed,
}

impl<T: Send + 'static> Shared<T> {
    pub(crate) fn new(config: PoolConfig<T>) -> Arc<Self> {
        Arc::new(Shared {
            config,
            books: Mutex::new(Books {
                idle: VecDeque::new(),
                in_use: 0,
                creating: 0,
                releasing: 0,
                queue: VecDeque::new(),
                waiters: 0,
                stats: PoolStats::default(),
            }),
            closed: AtomicBool::new(false),
            actor: OnceLock::new(),
        })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub(crate) fn status(&self) -> PoolStatus {
        let books = lock(&self.books);
        PoolStatus {
            max_size: self.config.max_size,
            size: books.size(),
            idle: books.idle.len(),
            in_use: books.in_use,
            creating: books.creating,
            releasing: books.releasing,
            waiters: books.waiters,
            closed: self.is_closed(),
        }
    }

    pub(crate) fn stats(&self) -> PoolStats {
        lock(&self.books).stats.clone()
    }

    pub(crate) fn expired(&self, item: &Item<T>, idle_since: Option<Instant>) -> bool {
        // Most pools set neither limit, and reading the clock is a measurable part of giving
        // an item back, so it is skipped then.
        if self.config.max_lifetime.is_none() && self.config.idle_timeout.is_none() {
            return false;
        }
        let now = Instant::now();
        let too_old = self
            .config
            .max_lifetime
            .is_some_and(|lifetime| now.saturating_duration_since(item.created) >= lifetime);
        let idle_too_long = match (self.config.idle_timeout, idle_since) {
            (Some(timeout), Some(since)) => now.saturating_duration_since(since) >= timeout,
            _ => false,
        };
        too_old || idle_too_long
    }

    /// Takes the oldest idle item that has not expired, counting it in use, unless waiters
    /// are queued: a new caller never goes ahead of them. Expired items met on the way are
    /// released.
    pub(crate) fn take_idle(&self) -> Option<Item<T>> {
        let mut expired = Vec::new();
        let taken = {
            let mut books = lock(&self.books);
            if books.waiters > 0 {
                None
            } else {
                self.take_idle_locked(&mut books, &mut expired)
            }
        };
        self.release_expired(expired);
        taken
    }

    /// Takes the oldest idle item that has not expired, counting it in use. Expired items met
    /// on the way are counted as releasing and moved to `expired`, which the caller passes to
    /// [`Shared::release_expired`] after it let go of the lock.
    pub(crate) fn take_idle_locked(
        &self,
        books: &mut Books<T>,
        expired: &mut Vec<Item<T>>,
    ) -> Option<Item<T>> {
        while let Some(idle) = books.idle.pop_front() {
            if self.expired(&idle.item, Some(idle.since)) {
                books.releasing += 1;
                books.stats.expired += 1;
                expired.push(idle.item);
                continue;
            }
            books.in_use += 1;
            return Some(idle.item);
        }
        None
    }

    /// Drops expired items that [`Shared::take_idle_locked`] counted as releasing.
    pub(crate) fn release_expired(&self, expired: Vec<Item<T>>) {
        if !expired.is_empty() {
            self.finish_release(expired.len(), expired);
        }
    }

    /// Takes back an item that was in use. It goes to the first waiter when waiters are
    /// queued and to the idle queue otherwise. It is released instead when it is broken,
    /// expired or the pool is closed.
    pub(crate) fn give_back(&self, item: Item<T>, broken: bool) {
        let release = if broken {
            Some(Release::Broken)
        } else if self.is_closed() {
            Some(Release::Closed)
        } else if self.expired(&item, None) {
            Some(Release::Expired)
        } else {
            None
        };
        match release {
            Some(reason) => self.release_in_use(item, reason),
            None => {
                self.settle_first(Ok(item));
            }
        }
    }

    /// Sends `outcome` to the first waiter that is still there. An item passed in must be
    /// counted in use, and stays so while it travels to the waiter. An item that no waiter
    /// takes is kept idle, or released when the pool is closed. Returns an error that no
    /// waiter took.
    pub(crate) fn settle_first(&self, outcome: Outcome<T>) -> Option<PoolError> {
        let mut outcome = outcome;
        loop {
            let waiter = {
                let mut books = lock(&self.books);
                // Checked under the lock, which `close` takes to fail the waiters and release
                // the idle items after it set the flag: an item pushed to the idle queue here
                // is either released by `close` or finds the flag set.
                if self.is_closed() {
                    if let Ok(item) = outcome {
                        drop(books);
                        self.release_in_use(item, Release::Closed);
                        return None;
                    }
                }
                match books.pop_waiter() {
                    Some(waiter) => waiter,
                    // Kept idle in the same critical section that found no waiter, so that no
                    // acquirer can queue in between and wait while this item sits idle.
                    None => match outcome {
                        Ok(item) => {
                            books.in_use -= 1;
                            books.idle.push_back(Idle {
                                item,
                                since: Instant::now(),
                            });
                            return None;
                        }
                        Err(error) => return Some(error),
                    },
                }
            };
            // Sent outside the lock, because the receiving task may run at once. The send
            // fails only when the acquirer went away after the waiter was settled here: its
            // guard found the channel empty and closed it, so the outcome comes back for the
            // next waiter.
            match waiter.sender.send(outcome) {
                Ok(()) => return None,
                Err(returned) => outcome = returned,
            }
        }
    }

    /// Sends a factory error to the waiter whose settled flag is `target`, if it is still
    /// queued. Returns the error when that waiter is gone.
    pub(crate) fn settle_target(
        &self,
        target: Option<&Arc<AtomicBool>>,
        error: PoolError,
    ) -> Option<PoolError> {
        let waiter = target.and_then(|target| lock(&self.books).take_waiter(target));
        match waiter {
            Some(waiter) => waiter.sender.send(Err(error)).err().and_then(Result::err),
            None => Some(error),
        }
    }

    /// Fails every queued waiter with `error` and releases the idle items. The caller sets the
    /// closed flag first, so that no waiter is queued and no item is kept idle afterwards.
    pub(crate) fn close_waiters(&self, error: &PoolError) {
        let (waiters, idle) = {
            let mut books = lock(&self.books);
            let mut waiters = Vec::with_capacity(books.waiters);
            while let Some(waiter) = books.pop_waiter() {
                waiters.push(waiter);
            }
            let idle: Vec<Item<T>> = books.idle.drain(..).map(|idle| idle.item).collect();
            books.releasing += idle.len();
            (waiters, idle)
        };
        for waiter in waiters {
            // An acquirer that went away meanwhile needs no error.
            let _ = waiter.sender.send(Err(error.clone()));
        }
        if !idle.is_empty() {
            self.finish_release(idle.len(), idle);
        }
    }

    /// Releases an item that was in use and sends the actor `Freed`.
    pub(crate) fn release_in_use(&self, item: Item<T>, reason: Release) {
        {
            let mut books = lock(&self.books);
            books.in_use -= 1;
            books.releasing += 1;
            match reason {
                Release::Broken => books.stats.broken += 1,
                Release::Expired => books.stats.expired += 1,
                Release::Closed => {}
            }
        }
        self.finish_release(1, vec![item]);
    }

    /// Drops items counted as releasing, then frees their capacity.
    pub(crate) fn finish_release(&self, count: usize, items: Vec<Item<T>>) {
        // Dropping the value releases it (a connection closes, a file handle is given back).
        drop(items);
        lock(&self.books).releasing -= count;
        self.capacity_freed();
    }

    /// Tells the actor that an item left, so that it can make one for a waiter.
    pub(crate) fn capacity_freed(&self) {
        if self.is_closed() {
            return;
        }
        if let Some(actor) = self.actor.get() {
            let _ = actor.cast(PoolMsg::Freed);
        }
    }
}
