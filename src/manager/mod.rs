//! The manager: the root actor of a tree of scopes.

mod actor;
mod compose;
mod config;
mod error;
mod handle;
mod shared;
mod shutdown;

pub use config::ManagerConfig;
pub use error::{KilledActor, ManagerError};
pub use handle::Manager;
