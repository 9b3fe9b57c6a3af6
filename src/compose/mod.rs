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

/// Takes the values out of the handles of a scope that finished successfully, in order. Each
/// handle is then the last owner of its value.
fn into_values<T: Send + Sync + 'static>(
    handles: Vec<crate::TaskHandle<T>>,
    scope: &crate::Name,
    scope_id: crate::ScopeId,
) -> Result<Vec<T>, crate::ScopeError> {
    handles
        .into_iter()
        .map(|handle| {
            handle
                .into_inner()
                .map_err(|source| crate::ScopeError::TaskFailed {
                    scope: scope.clone(),
                    scope_id,
                    source,
                })
        })
        .collect()
}
