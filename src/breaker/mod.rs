//! The circuit breaker: a shared actor that stops calls to a failing dependency and lets a few
//! trial calls through once it may have recovered.

mod actor;
mod config;
mod core;
mod error;
mod event;
mod handle;
mod stats;
mod word;

pub use config::BreakerBuilder;
pub use error::BreakerError;
pub use event::{BreakerEvents, BreakerState, Transition, TransitionReason};
pub use handle::CircuitBreaker;
pub use stats::BreakerStats;
