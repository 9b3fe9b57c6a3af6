//! Resources released in reverse order when their owner ends.
//!
//! A [`Resource`] is registered with a scope ([`ScopeRef::register`](crate::ScopeRef::register))
//! or with a task ([`Context::register`](crate::Context::register)). Each owner keeps a release
//! stack. Whichever exit path of the owner runs first (the graceful one, or the fallback that
//! runs when ractor skips `post_stop`) drains it, taking each resource off the stack before
//! releasing it, so every resource is released exactly once.

mod error;
mod release;
mod stack;

pub use error::{ReleaseError, ReleaseFailure};
pub use release::{release_fn, ReleaseFn, Resource};
pub(crate) use stack::{Owner, ReleaseGroup, ReleaseStack};
