//! The resource pool: a shared actor that lends a bounded set of items (connections, clients,
//! buffers) to tasks, first come, first served.

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
