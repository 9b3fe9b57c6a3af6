//! Scopes: named groups of tasks with one goal, a first error and their own cancellation.

mod accounting;
mod actor;
mod error;
mod handle;
mod options;
mod policy;
mod progress;
mod scheduler;
mod scope_ref;
mod shared;
mod start;

pub use error::ScopeError;
pub use handle::Scope;
pub use options::ScopeOptions;
pub use policy::FailurePolicy;
pub use progress::Progress;
pub use scope_ref::ScopeRef;
pub(crate) use shared::ParentKind;
pub(crate) use start::{start, start_child, Opener, Seed, DEFAULT_RELEASE_TIMEOUT};
