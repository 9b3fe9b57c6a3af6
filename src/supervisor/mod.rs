//! Restart policies for supervised scopes: which children restart together, how often before
//! the scope gives up, and how long to wait between restarts. Plain data that serde reads, so
//! a service can keep its policies in its configuration file.
//!
//! NOTE: the supervised scope that applies these policies is not built yet; these types, the
//! restart window and the backoff computation are its tested groundwork.

mod backoff;
mod policy;

pub use backoff::{BackoffState, RestartWindow};
pub use policy::{Backoff, RestartPolicy, RestartType, ShutdownPolicy, Strategy};
