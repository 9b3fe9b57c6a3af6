use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ractor::ActorRef;
use tokio::time::Instant;

use super::actor::PoolMsg;
use super::config::PoolConfig;
use super::{PoolStats, PoolStatus};
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

/// Bookkeeping under one lock, so that a status snapshot is consistent: every item is in
/// exactly one of idle, in use, creating and releasing.
pub(crate) struct Books<T> {
    pub(crate) idle: VecDeque<Idle<T>>,
    pub(crate) in_use: usize,
    pub(crate) creating: usize,
    pub(crate) releasing: usize,
    pub(crate) waiters: usize,
    pub(crate) stats: PoolStats,
}

impl<T> Books<T> {
    pub(crate) fn size(&self) -> usize {
        self.idle.len() + self.in_use + self.creating + self.releasing
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
    /// are queued (a new caller never goes ahead of them), unless `for_waiter` is set because the
    /// caller serves the waiters. Expired items met on the way are released.
    pub(crate) fn take_idle(&self, for_waiter: bool) -> Option<Item<T>> {
        let mut expired = Vec::new();
        let taken = {
            let mut books = lock(&self.books);
            if !for_waiter && books.waiters > 0 {
                None
            } else {
                let mut taken = None;
                while let Some(idle) = books.idle.pop_front() {
                    if self.expired(&idle.item, Some(idle.since)) {
                        books.releasing += 1;
                        books.stats.expired += 1;
                        expired.push(idle.item);
                        continue;
                    }
                    books.in_use += 1;
                    taken = Some(idle.item);
                    break;
                }
                taken
            }
        };
        if !expired.is_empty() {
            self.finish_release(expired.len(), expired);
        }
        taken
    }

    /// Takes back an item that was in use. It goes to the actor when waiters are queued and to
    /// the idle queue otherwise. It is released instead when it is broken, expired or the pool
    /// is closed.
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
        if let Some(reason) = release {
            self.release_in_use(item, reason);
            return;
        }

        let mut books = lock(&self.books);
        // Checked again under the lock, which `close` takes to release the idle items after it
        // set the flag: an item pushed here is either released by `close` or finds the flag set.
        if self.is_closed() {
            drop(books);
            self.release_in_use(item, Release::Closed);
            return;
        }
        if books.waiters > 0 {
            // Still counted in use while it travels to the actor, which hands it over.
            drop(books);
            let Some(actor) = self.actor.get() else {
                self.release_in_use(item, Release::Closed);
                return;
            };
            match actor.cast(PoolMsg::Returned(item)) {
                Ok(()) => {}
                Err(ractor::MessagingErr::SendErr(PoolMsg::Returned(item))) => {
                    self.release_in_use(item, Release::Closed);
                }
                Err(_) => {
                    // The message, and the item in it, are gone: keep the books right.
                    lock(&self.books).in_use -= 1;
                }
            }
            return;
        }
        books.in_use -= 1;
        books.idle.push_back(Idle {
            item,
            since: Instant::now(),
        });
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
