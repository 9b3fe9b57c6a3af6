//! Scopes: named groups of tasks with one goal, a first error and their own cancellation.

mod actor;
mod error;
mod handle;
mod options;
mod policy;
mod progress;
mod scheduler;
mod shared;
mod start;

pub use error::ScopeError;
pub use handle::Scope;
pub use options::ScopeOptions;
pub use policy::FailurePolicy;
pub use progress::Progress;
pub(crate) use shared::ParentKind;
pub use shared::ScopeRef;
pub(crate) use start::{start, start_child, Seed, DEFAULT_RELEASE_TIMEOUT};
