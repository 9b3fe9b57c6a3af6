//! Helpers built on scopes: run tasks in parallel, in series, or under a deadline. Each opens
//! a scope of its own, so they nest: inside a task they open a child scope through its
//! `Context`, and nested deadlines compose.

mod parallel;
mod series;
mod timeout;

pub(crate) use parallel::parallel;
pub use series::Step;
pub(crate) use series::{series, series_with};
pub(crate) use timeout::with_timeout;
