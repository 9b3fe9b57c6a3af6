use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::GraphError;
use crate::task::{TaskLaunch, TaskSlot};
use crate::{CancelCause, Name, Task, TaskError, TaskHandle, TaskId};

/// A set of tasks keyed by local ids, with the dependencies between them, declared up front and
/// validated as a whole before anything runs.
///
/// Spawn it with [`ScopeRef::spawn_graph`](crate::ScopeRef::spawn_graph). Validation rejects a
/// cycle, a self-dependency, an unknown or duplicate key, and (at spawn) a dependency on a task
/// of another scope, in O(tasks + edges).
///
/// # Examples
///
/// ```
/// use ractor_scope::{BoxError, Context, Task, TaskGraph};
///
/// let mut graph = TaskGraph::new();
/// let validate = graph.add("validate", Task::new("validate", |_ctx: Context| async {
///     Ok::<_, BoxError>(true)
/// }), [] as [&str; 0]);
/// let charge = graph.add("charge", Task::new("charge", |_ctx: Context| async {
///     Ok::<_, BoxError>(42)
/// }), ["validate"]);
/// assert_eq!(graph.validate().unwrap().edges, 1);
/// # let _ = (validate, charge);
/// ```
#[derive(Debug, Default)]
#[must_use = "a task graph does nothing until it is spawned into a scope"]
pub struct TaskGraph {
    nodes: Vec<GraphNode>,
}

/// One task of a graph, with its result type erased.
#[derive(Debug)]
pub(crate) struct GraphNode {
    pub(crate) key: Name,
    pub(crate) dependencies: Vec<Name>,
    pub(crate) launch: TaskLaunch,
}

/// What validation found: sizes, and how many dependency edges it visited.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Validation {
    /// Number of tasks.
    pub tasks: usize,
    /// Number of distinct dependency edges.
    pub edges: usize,
    /// Number of edges the cycle check visited; equal to `edges` for a graph without a cycle.
    pub edges_visited: usize,
    /// Indices of the tasks, in insertion order, sorted so that every task comes after its
    /// dependencies.
    pub(crate) order: Vec<usize>,
    /// Dependency indices of each task.
    pub(crate) dependencies: Vec<Vec<usize>>,
}

impl TaskGraph {
    /// Creates an empty graph.
    pub fn new() -> Self {
        TaskGraph::default()
    }

    /// Adds `task` under `key`, depending on the tasks with keys `dependencies`, and returns
    /// its handle. Keys are checked when the graph is validated or spawned.
    pub fn add<T, K>(
        &mut self,
        key: impl Into<Name>,
        task: Task<T>,
        dependencies: impl IntoIterator<Item = K>,
    ) -> TaskHandle<T>
    where
        T: Send + Sync + 'static,
        K: Into<Name>,
    {
        let (handle, launch) = task.into_parts();
        self.nodes.push(GraphNode {
            key: key.into(),
            dependencies: dependencies.into_iter().map(Into::into).collect(),
            launch,
        });
        handle
    }

    /// Number of tasks in the graph.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Returns whether the graph has no task.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Checks the graph as a whole: every key unique, every dependency a known key other than
    /// the task's own, and no cycle. Runs in O(tasks + edges).
    ///
    /// # Errors
    ///
    /// The first problem found, naming the tasks: [`GraphError::DuplicateKey`],
    /// [`GraphError::UnknownKey`], [`GraphError::SelfDependency`] or [`GraphError::Cycle`].
    pub fn validate(&self) -> Result<Validation, GraphError> {
        // Index the keys.
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(self.nodes.len());
        for (position, node) in self.nodes.iter().enumerate() {
            if index.insert(&node.key, position).is_some() {
                return Err(GraphError::DuplicateKey {
                    key: node.key.clone(),
                });
            }
        }

        // Tasks may also depend on each other through `Task::after` on handles that
        // `TaskGraph::add` returned; those edges count too, or a cycle through them would wait
        // forever.
        let by_task: HashMap<TaskId, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(position, node)| (node.launch.id, position))
            .collect();

        // Resolve each dependency to an index, once per distinct edge.
        let mut dependencies: Vec<Vec<usize>> = Vec::with_capacity(self.nodes.len());
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        let mut edges = 0;
        for (position, node) in self.nodes.iter().enumerate() {
            let mut resolved = Vec::with_capacity(node.dependencies.len());
            for key in &node.dependencies {
                let Some(&dependency) = index.get(key.as_ref()) else {
                    return Err(GraphError::UnknownKey {
                        task: node.key.clone(),
                        key: key.clone(),
                    });
                };
                if dependency == position {
                    return Err(GraphError::SelfDependency {
                        task: node.key.clone(),
                    });
                }
                resolved.push(dependency);
            }
            for slot in &node.launch.dependencies {
                if let Some(&dependency) = by_task.get(&slot.id()) {
                    resolved.push(dependency);
                }
            }
            resolved.sort_unstable();
            resolved.dedup();
            for &dependency in &resolved {
                dependents[dependency].push(position);
            }
            edges += resolved.len();
            dependencies.push(resolved);
        }

        // Kahn's algorithm: take tasks whose dependencies are all taken, in insertion order
        // among the ready ones. Each edge is visited once.
        let mut missing: Vec<usize> = dependencies.iter().map(Vec::len).collect();
        let mut ready: VecDeque<usize> = (0..self.nodes.len())
            .filter(|&position| missing[position] == 0)
            .collect();
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut edges_visited = 0;
        while let Some(position) = ready.pop_front() {
            order.push(position);
            for &dependent in &dependents[position] {
                edges_visited += 1;
                missing[dependent] -= 1;
                if missing[dependent] == 0 {
                    ready.push_back(dependent);
                }
            }
        }
        if order.len() < self.nodes.len() {
            return Err(GraphError::Cycle {
                tasks: self.find_cycle(&dependencies, &missing),
            });
        }
        Ok(Validation {
            tasks: self.nodes.len(),
            edges,
            edges_visited,
            order,
            dependencies,
        })
    }

    /// Finds one cycle among the tasks Kahn's algorithm could not take (`missing > 0`): from
    /// such a task, follow untaken dependencies until a task repeats.
    fn find_cycle(&self, dependencies: &[Vec<usize>], missing: &[usize]) -> Vec<Name> {
        let Some(start) = (0..self.nodes.len()).find(|&position| missing[position] > 0) else {
            return Vec::new();
        };
        let mut seen_at: HashMap<usize, usize> = HashMap::new();
        let mut path = Vec::new();
        let mut current = start;
        loop {
            if let Some(&first) = seen_at.get(&current) {
                let cycle: Vec<Name> = path[first..]
                    .iter()
                    .map(|&position: &usize| self.nodes[position].key.clone())
                    .collect();
                return cycle;
            }
            seen_at.insert(current, path.len());
            path.push(current);
            // A task left untaken always has an untaken dependency.
            match dependencies[current]
                .iter()
                .copied()
                .find(|&dependency| missing[dependency] > 0)
            {
                Some(next) => current = next,
                None => return Vec::new(),
            }
        }
    }

    /// Validates the graph and returns its tasks in dependency order, each with the slots of
    /// its dependencies added.
    pub(crate) fn into_launches(mut self) -> Result<Vec<TaskLaunch>, GraphError> {
        // On an error, `self` is dropped with its tasks, which ends them (see `Drop`).
        let validation = self.validate()?;
        let nodes = std::mem::take(&mut self.nodes);
        let slots: Vec<Arc<dyn TaskSlot>> = nodes
            .iter()
            .map(|node| Arc::clone(&node.launch.slot))
            .collect();
        let mut launches: Vec<Option<TaskLaunch>> =
            nodes.into_iter().map(|node| Some(node.launch)).collect();
        let mut ordered = Vec::with_capacity(launches.len());
        for position in validation.order {
            let mut launch = launches[position]
                .take()
                .expect("each task appears once in the order");
            for &dependency in &validation.dependencies[position] {
                let slot = &slots[dependency];
                if !launch
                    .dependencies
                    .iter()
                    .any(|known| known.id() == slot.id())
                {
                    launch.dependencies.push(Arc::clone(slot));
                }
            }
            ordered.push(launch);
        }
        Ok(ordered)
    }
}

impl Drop for TaskGraph {
    /// Ends the tasks of a graph that was dropped, or rejected, before they were spawned, as
    /// cancelled with cause [`CancelCause::NotSpawned`], so that their handles do not wait
    /// forever.
    fn drop(&mut self) {
        for node in &self.nodes {
            let slot = &node.launch.slot;
            slot.finish(Err(TaskError::Cancelled {
                task: slot.name().clone(),
                task_id: slot.id(),
                cause: CancelCause::NotSpawned,
            }));
        }
    }
}
