//! The manager: the root actor of a tree of scopes.

mod actor;
mod config;
mod error;
mod handle;
mod shared;
mod shutdown;

pub use config::ManagerConfig;
pub use error::{KilledActor, ManagerError};
pub use handle::Manager;
