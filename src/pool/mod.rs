//! The resource pool: a bounded set of items (connections, clients, buffers) lent to tasks,
//! first come, first served. Acquirers take, queue for and hand over items under one lock
//! (`shared.rs`). The pool's actor (`actor.rs`) makes new items, reaps idle ones and closes the
//! pool.

mod actor;
mod config;
mod error;
mod handle;
mod shared;
mod status;

pub use config::PoolBuilder;
pub use error::PoolError;
pub use handle::{AcquireWith, Pooled, ResourcePool};
pub use status::{PoolStats, PoolStatus};
