//! Tasks: named async functions of a [`Context`], each run by its own actor.

mod actor;
mod builder;
mod compose;
mod context;
mod error;
mod handle;
mod state;

pub(crate) use actor::{TaskActor, TaskArgs};
pub use builder::Task;
pub(crate) use builder::TaskLaunch;
pub use context::Context;
pub use error::TaskError;
pub use handle::TaskHandle;
pub(crate) use handle::TaskSlot;
pub use state::TaskState;
