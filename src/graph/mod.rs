//! Task graphs: tasks keyed by local ids with their dependencies, validated as a whole before
//! anything runs.

mod error;
mod task_graph;

pub use error::GraphError;
pub use task_graph::{TaskGraph, Validation};
