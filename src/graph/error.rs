use crate::{Name, TaskId};

/// A dependency graph that cannot run, naming the tasks involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// The dependencies form a cycle.
    #[error("dependency cycle: {}; remove one of these dependencies", cycle_text(.tasks))]
    Cycle {
        /// Keys of the tasks on the cycle: each depends on the next, and the last on the first.
        tasks: Vec<Name>,
    },
    /// A task depends on itself.
    #[error("task '{task}' depends on itself; remove that dependency")]
    SelfDependency {
        /// Key of the task.
        task: Name,
    },
    /// A task depends on a key that no task in the graph has.
    #[error("task '{task}' depends on unknown key '{key}'; add a task with that key or remove the dependency")]
    UnknownKey {
        /// Key of the task.
        task: Name,
        /// The unknown key.
        key: Name,
    },
    /// Two tasks in the graph have the same key.
    #[error("duplicate key '{key}' in the task graph; give each task its own key")]
    DuplicateKey {
        /// The repeated key.
        key: Name,
    },
    /// A task depends on a task of another scope, or on one that was never spawned.
    #[error("task '{task}' depends on task '{dependency}' ({dependency_id}), which is not a task of this scope; dependencies must be tasks of the same scope")]
    OtherScope {
        /// Name of the task.
        task: Name,
        /// Name of the dependency.
        dependency: Name,
        /// Id of the dependency.
        dependency_id: TaskId,
    },
}

fn cycle_text(tasks: &[Name]) -> String {
    let mut text = String::new();
    for task in tasks {
        text.push_str(&format!("'{task}' -> "));
    }
    if let Some(first) = tasks.first() {
        text.push_str(&format!("'{first}'"));
    }
    text
}
