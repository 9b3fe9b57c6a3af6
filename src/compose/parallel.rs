use crate::{Scope, ScopeError, Task};

/// Spawns `tasks` into `scope` at once, waits, and returns their values in the order given.
pub(crate) async fn parallel<T: Send + Sync + 'static>(
    scope: Scope,
    tasks: Vec<Task<T>>,
) -> Result<Vec<T>, ScopeError> {
    let mut handles = Vec::with_capacity(tasks.len());
    for task in tasks {
        // On an error the scope handle is dropped, which cancels what was spawned.
        handles.push(scope.spawn(task)?);
    }
    let name = scope.name().clone();
    let scope_id = scope.id();
    scope.wait().await?;
    super::into_values(handles, &name, scope_id)
}
