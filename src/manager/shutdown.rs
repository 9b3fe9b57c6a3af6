use std::sync::Arc;

use tokio::time::Instant;

use super::shared::ManagerShared;
use super::{KilledActor, ManagerError};
use crate::observe::live_under_root;
use crate::util::lock;
use crate::{ActorKind, CancelCause, ScopeRef};

use super::actor::ManagerMsg;

/// Starts the shutdown in a background task, unless it already started. The outcome is
/// published on `shared.outcome`.
pub(crate) fn begin(shared: &Arc<ManagerShared>) {
    if !shared.begin_closing() {
        return;
    }
    let background = Arc::clone(shared);
    shared.hub.spawn(async move {
        let shared = background;
        let outcome = stop_all(&shared).await;
        shared.set_outcome(outcome.clone());
        if let Some(actor) = shared.actor.get() {
            let _ = actor.cast(ManagerMsg::Exit(outcome));
            let _ = actor.get_cell().wait(None).await;
        }
    });
}

/// Stops every scope in reverse creation order, waiting for each, and kills what is left when
/// the shutdown timeout passes.
pub(crate) async fn stop_all(shared: &Arc<ManagerShared>) -> Result<(), ManagerError> {
    let config = &shared.config;
    // A timeout too large to add to the clock is no limit at all.
    let deadline = Instant::now().checked_add(config.shutdown_timeout);
    tracing::info!(parent: &shared.hub.span, "manager shutting down");

    // Stop the supervised scopes first, newest first: their children are stopped in reverse
    // start order by each.
    let supervisors: Vec<_> = lock(&shared.supervisors).drain(..).rev().collect();
    for supervisor in supervisors {
        supervisor.stop();
        let remaining = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        let _ = supervisor.cell.wait(remaining).await;
    }

    // Stop the scopes one at a time, newest first.
    let mut timed_out = false;
    loop {
        let newest: Option<ScopeRef> = lock(&shared.scopes).newest();
        let Some(scope) = newest else {
            break;
        };
        scope.cancel_with(CancelCause::ManagerShutdown);
        let stopped = scope.terminated();
        let in_time = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, stopped).await.is_ok(),
            None => {
                stopped.await;
                true
            }
        };
        if !in_time {
            timed_out = true;
            break;
        }
        lock(&shared.scopes).remove(scope.id());
    }
    shared.cancel.cancel(CancelCause::ManagerShutdown);

    // A scope that was opening while the loop above ran is cancelled by the root by now, but
    // nobody waited for it: wait for every actor of the tree that is still alive.
    if !timed_out {
        let manager_id = shared.id.as_u64();
        let late: Vec<_> = live_under_root(manager_id)
            .into_iter()
            .filter(|actor| actor.kind != ActorKind::Manager)
            .collect();
        for actor in late {
            let remaining =
                deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
            if actor.cell.wait(remaining).await.is_err() {
                timed_out = true;
                break;
            }
        }
        // Their resources too.
        let idle = shared.hub.resources.wait_idle();
        let in_time = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, idle).await.is_ok(),
            None => {
                idle.await;
                true
            }
        };
        timed_out |= !in_time;
    }

    // Past the timeout, kill whatever is left of the tree, and wait (bounded) for the kills
    // and for the releases they start in the background.
    let mut killed = Vec::new();
    if timed_out {
        let manager_id = shared.id.as_u64();
        let left: Vec<_> = live_under_root(manager_id)
            .into_iter()
            .filter(|actor| actor.kind != ActorKind::Manager)
            .collect();
        for actor in &left {
            actor.cell.kill();
            killed.push(KilledActor {
                kind: actor.kind,
                id: actor.id,
                name: actor.name.clone(),
            });
        }
        for actor in &left {
            let _ = actor.cell.wait(Some(config.release_timeout)).await;
        }
        let _ =
            tokio::time::timeout(config.release_timeout, shared.hub.resources.wait_idle()).await;
        tracing::warn!(
            parent: &shared.hub.span,
            killed = killed.len(),
            "manager shutdown timed out; killed what was left"
        );
    }
    // The manager's own resources go last, after every scope's.
    shared.resources.drain().await;
    shared.hub.errors.close();
    lock(&shared.scopes).clear();

    if !killed.is_empty() {
        return Err(ManagerError::ShutdownTimedOut {
            manager: config.name.clone(),
            timeout: config.shutdown_timeout,
            killed,
        });
    }
    if let Some(error) = lock(&shared.escalated).clone() {
        return Err(error);
    }
    tracing::info!(parent: &shared.hub.span, "manager shut down");
    Ok(())
}
