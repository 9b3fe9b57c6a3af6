use std::future::Future;

use crate::{CancelCause, Scope, ScopeError};

/// Runs `body` with `scope`, whose deadline is set. When the deadline passes first, `body` is
/// dropped, the scope's tasks (running or queued) are cancelled with the deadline cause, and
/// the result is [`ScopeError::TimedOut`]. Returns only after the scope has finished.
pub(crate) async fn with_timeout<F, Fut, R>(scope: Scope, body: F) -> Result<R, ScopeError>
where
    F: FnOnce(Scope) -> Fut,
    Fut: Future<Output = Result<R, ScopeError>>,
{
    let handle = scope.handle();
    let own = handle.shared.own_deadline;
    let outcome = {
        let body = body(scope);
        tokio::pin!(body);
        let finished = tokio::select! {
            biased;
            result = &mut body => Some(result),
            () = crate::util::sleep_until_opt(handle.deadline()) => None,
        };
        if finished.is_none() {
            // Record the deadline as the cause before `body` (and the scope handle in it) is
            // dropped, which would otherwise record "handle dropped" first. When the deadline
            // is an enclosing scope's, that scope's cancellation reaches this one at the same
            // instant.
            match own {
                Some((at, after)) if Some(at) == handle.deadline() => {
                    handle.cancel_with(CancelCause::DeadlinePassed {
                        scope: handle.name().clone(),
                        after,
                    });
                }
                _ => handle.cancel_node().cancelled().await,
            }
        }
        finished
    };
    // Dropping `body` dropped the scope handle if it still had it; either way, nothing of the
    // scope outlives this call.
    handle.terminated().await;

    let timed_out = || match own {
        Some((_, timeout)) => ScopeError::TimedOut {
            scope: handle.name().clone(),
            scope_id: handle.id(),
            timeout,
        },
        None => handle
            .final_result()
            .err()
            .unwrap_or_else(|| handle.closed_error()),
    };
    match outcome {
        None => {
            // The deadline that passed may be an enclosing scope's: report that one as it is.
            match handle.cancel_cause() {
                Some(CancelCause::DeadlinePassed { .. }) | None => Err(timed_out()),
                Some(_) => Err(handle.final_result().err().unwrap_or_else(timed_out)),
            }
        }
        Some(Err(ScopeError::Cancelled {
            cause: CancelCause::DeadlinePassed { .. },
            ..
        })) => Err(timed_out()),
        Some(result) => result,
    }
}
