//! Structured concurrency and supervision for the [`ractor`] actor framework on tokio.
//!
//! A [`Manager`] (the root actor) opens named [`Scope`]s (actors); a scope runs [`Task`]s
//! (actors): named async functions of a [`Context`], each with an optional timeout. Work cannot
//! leak out of a scope:
//!
//! - **First error wins.** The first task failure (an error, a panic or the task's own
//!   timeout) becomes the scope's error and cancels its sibling tasks, with a typed
//!   [`CancelCause`]. Nothing outside the scope is touched, except the scope's own child
//!   scopes.
//! - **Nothing outlives its scope.** [`Scope::wait`] returns only after every task actor of
//!   the scope has terminated and every resource registered with the scope or its tasks has
//!   been released. Dropping the scope handle cancels the scope.
//! - **Resources are released in reverse order on every exit path**: success, error, panic,
//!   timeout, cancellation, shutdown, and kills, which skip ractor's `post_stop`.
//! - **Observable**: [`Stats`], an error stream ([`Manager::errors`]), `tracing` spans that
//!   nest manager, scope and task, and a live [`Tree`].
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use ractor_scope::{Context, Manager, ManagerConfig, Task};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = Manager::start(ManagerConfig::new("example")).await?;
//!
//! let scope = manager.scope("assemble_page").await?;
//! let profile = scope.spawn(
//!     Task::new("profile", |_ctx: Context| async { Ok::<_, std::io::Error>("ada") })
//!         .timeout(Duration::from_secs(5)),
//! )?;
//! let orders = scope.spawn(Task::new("orders", |ctx: Context| async move {
//!     if ctx.is_cancelled() {
//!         return Err("cancelled".into());
//!     }
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(vec![1, 2, 3])
//! }))?;
//! scope.wait().await?;
//!
//! assert_eq!(*profile.result()?, "ada");
//! assert_eq!(orders.result()?.len(), 3);
//! manager.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What is not covered
//!
//! The guarantees hold for work the library runs. They do not cover work a task detaches on
//! purpose (`tokio::spawn`, `spawn_blocking`), a tokio runtime that is being shut down (a
//! background release then cannot run), or a build with `panic = "abort"` (a panic then ends
//! the process).
//!
//! Timeouts, deadlines and cancellation take effect when a body awaits. A body that blocks its
//! thread (a `std::thread::sleep`, a long computation with no await) cannot be interrupted.
//! If it returns before it awaits again, its result is kept even after its timeout or its
//! scope's deadline has passed, as with `tokio::time::timeout`. Run such work with
//! `spawn_blocking` and await it, or check [`Context::is_cancelled`] between steps.
//!
//! # Features
//!
//! - `cluster`: turns on ractor's `cluster` feature and the explicit `ractor::Message` impls
//!   it requires. Turn it on when anything in the build turns on ractor's `cluster`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod breaker;
mod cancel;
mod compose;
mod error;
mod graph;
mod manager;
mod names;
mod observe;
mod pool;
mod resource;
mod scope;
mod supervisor;
mod task;
mod util;

pub use breaker::{
    BreakerBuilder, BreakerError, BreakerEvents, BreakerState, BreakerStats, CircuitBreaker,
    Transition, TransitionReason,
};
pub use cancel::CancelCause;
pub use compose::Step;
pub use error::{BoxError, ConfigError};
pub use graph::{GraphError, TaskGraph, Validation};
pub use manager::{KilledActor, Manager, ManagerConfig, ManagerError};
pub use names::{ManagerId, Name, ScopeId, TaskId};
pub use observe::{
    live_actors, ActorKind, ErrorReport, ErrorReports, LiveActor, ReportKind, Stats, Tree,
};
pub use pool::{AcquireWith, PoolBuilder, PoolError, PoolStats, PoolStatus, Pooled, ResourcePool};
pub use resource::{release_fn, ReleaseError, ReleaseFailure, ReleaseFn, Resource};
pub use scope::{FailurePolicy, Progress, Scope, ScopeError, ScopeOptions, ScopeRef};
pub use supervisor::{
    AutoShutdown, Backoff, BackoffState, ChildContext, ChildExit, ChildSpec, RestartPolicy,
    RestartType, RestartWindow, ShutdownPolicy, Strategy, Supervisor, SupervisorError,
    SupervisorEvent, SupervisorEvents, SupervisorOptions,
};
pub use task::{Context, Task, TaskError, TaskHandle, TaskState};

/// Re-export of the ractor version this crate is built on, for linking managers and scopes
/// under the user's own actors.
pub use ractor;
