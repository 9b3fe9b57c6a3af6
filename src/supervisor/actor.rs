use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::{broadcast, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::spec::{ChildSpec, Parent, Started};
use super::{
    AutoShutdown, BackoffState, ChildExit, RestartType, RestartWindow, ShutdownPolicy, Strategy,
    SupervisorError, SupervisorEvent, SupervisorOptions,
};
use crate::observe::{register, ActorKind, Entry, Hub, Registration};
use crate::util::{lock, panic_message, CatchUnwind};
use crate::Name;

/// The actor of a supervised scope. Its children are the children of its specifications, in
/// specification order.
pub(crate) struct SupervisorActor;

pub(crate) enum SupervisorMsg {
    /// Start these children, in start order (after a restart delay).
    Start(Vec<usize>),
    /// A child could not be started.
    StartFailed(usize, String),
}

#[cfg(feature = "cluster")]
impl ractor::Message for SupervisorMsg {}

/// What the supervisor's handles read.
pub(crate) struct Shared {
    pub(crate) name: Name,
    /// The scope's id in the live-actor registry.
    pub(crate) id: u64,
    /// Its parent's id in the registry, and the root of its tree.
    pub(crate) parent_id: Option<u64>,
    pub(crate) root: u64,
    pub(crate) children: Mutex<Vec<(Name, Option<ActorCell>)>>,
    pub(crate) outcome: watch::Sender<Option<Result<(), SupervisorError>>>,
    /// Subscriptions are made through this; the actor's state owns the only strong sender,
    /// so the channel closes on every exit path, kills included.
    pub(crate) events: broadcast::WeakSender<SupervisorEvent>,
    /// A subscription made with the channel, for the handle's first `events` call: starting
    /// returns after the children's first starts, and their first decisions must not be lost.
    pub(crate) first_events: Mutex<Option<broadcast::Receiver<SupervisorEvent>>>,
    pub(crate) hub: Option<Arc<Hub>>,
    /// Cancelled when the owner stops the scope. ractor handles a stop only after the running
    /// handler returns, so a child start still running (one that hangs) is abandoned on this.
    pub(crate) stopping: CancellationToken,
    /// The scope's span, under its manager's (or its parent scope's) span. Decisions are logged
    /// in it, and task children run in spans under it.
    pub(crate) span: tracing::Span,
}

/// The handle an owner (a manager, a task) keeps to stop a supervised scope it started.
#[derive(Clone)]
pub(crate) struct StopHandle {
    pub(crate) cell: ActorCell,
    pub(crate) stopping: CancellationToken,
}

impl StopHandle {
    /// Stops the scope gracefully, abandoning a child start that is still running.
    pub(crate) fn stop(&self) {
        self.stopping.cancel();
        self.cell.stop(None);
    }
}

pub(crate) struct Args {
    pub(crate) options: SupervisorOptions,
    pub(crate) specs: Vec<ChildSpec>,
    pub(crate) shared: Arc<Shared>,
    /// A user's actor to unlink from before a clean stop.
    pub(crate) user_parent: Option<ActorCell>,
    /// Told once every child's first start was attempted, so that starting a supervised scope
    /// returns with its children started, as in OTP.
    pub(crate) started: Option<oneshot::Sender<()>>,
    /// The strong sender of the event channel; see [`Shared::events`].
    pub(crate) events: broadcast::Sender<SupervisorEvent>,
}

struct Child {
    spec: ChildSpec,
    cell: Option<ActorCell>,
    /// The running child's entry in the live-actor registry.
    registration: Option<Registration>,
    token: Option<CancellationToken>,
    /// A nested scope's `stopping` token, cancelled before it is stopped.
    abandon: Option<CancellationToken>,
    started: Instant,
    backoff: BackoffState,
    /// Ended and not restarted.
    done: bool,
}

pub(crate) struct State {
    options: SupervisorOptions,
    shared: Arc<Shared>,
    user_parent: Option<ActorCell>,
    children: Vec<Child>,
    window: RestartWindow,
    /// Children this supervisor is stopping; their exits are not failures.
    stopping: HashSet<ActorId>,
    registration: Registration,
    started: Option<oneshot::Sender<()>>,
    events: broadcast::Sender<SupervisorEvent>,
}

impl State {
    fn emit(&self, event: SupervisorEvent) {
        match &event {
            SupervisorEvent::GaveUp { .. } | SupervisorEvent::ChildKilled { .. } => {
                tracing::warn!(parent: &self.shared.span, supervisor.name = %self.options.name, event = ?event, "supervisor decision")
            }
            _ => {
                tracing::info!(parent: &self.shared.span, supervisor.name = %self.options.name, event = ?event, "supervisor decision")
            }
        }
        let _ = self.events.send(event);
    }

    fn publish_children(&self) {
        *lock(&self.shared.children) = self
            .children
            .iter()
            .map(|child| (child.spec.name.clone(), child.cell.clone()))
            .collect();
    }

    /// Starts the children at `indices`, in start order. A child that fails to start is
    /// handled as a failure, by message.
    async fn start(&mut self, myself: &ActorRef<SupervisorMsg>, indices: &[usize]) {
        for &index in indices {
            let child = &mut self.children[index];
            // Already running (started again by an overlapping restart): never run it twice.
            if child.cell.is_some() {
                continue;
            }
            // Once the owner has stopped the scope, no further child starts.
            if self.shared.stopping.is_cancelled() {
                break;
            }
            let parent = Parent {
                cell: myself.get_cell(),
                id: self.shared.id,
                root: self.shared.root,
                hub: self.shared.hub.clone(),
                stopping: self.shared.stopping.clone(),
                span: self.shared.span.clone(),
            };
            // A start that panics counts as a failed start. A user's start still running when
            // the owner stops the scope is abandoned, so that the stop can proceed.
            let start = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (child.spec.start)(parent)
            }));
            let outcome = match start {
                Ok(future) if child.spec.user_start => {
                    tokio::select! {
                        biased;
                        () = self.shared.stopping.cancelled() => break,
                        outcome = CatchUnwind::new(future) => outcome,
                    }
                }
                Ok(future) => CatchUnwind::new(future).await,
                Err(panic) => Err(panic_message(panic)),
            };
            let started = match outcome {
                Ok(started) => started,
                Err(message) => Err(format!("its start function panicked: {message}").into()),
            };
            let started = started.and_then(|started| linked_under(myself, started));
            match started {
                Ok(started) => {
                    child.registration = Some(register(
                        crate::names::next_id(),
                        Entry {
                            kind: ActorKind::Child,
                            name: child.spec.name.clone(),
                            parent: Some(self.shared.id),
                            root: self.shared.root,
                            cell: started.cell.clone(),
                            started: Instant::now(),
                            task: None,
                        },
                    ));
                    child.cell = Some(started.cell);
                    child.token = started.token;
                    child.abandon = started.abandon;
                    child.started = Instant::now();
                }
                Err(error) => {
                    // A failed start ran for no time, so the backoff keeps growing over
                    // repeated failed starts instead of measuring from the last good run.
                    child.started = Instant::now();
                    self.stop_strays(myself);
                    let _ = myself.cast(SupervisorMsg::StartFailed(index, error.to_string()));
                }
            }
        }
        if self.shared.stopping.is_cancelled() {
            // An abandoned start may have spawned its actor already.
            self.stop_strays(myself);
        }
        self.publish_children();
    }

    /// Stops the actors linked under the scope that are not its children: what a start that
    /// failed had spawned before it failed.
    fn stop_strays(&self, myself: &ActorRef<SupervisorMsg>) {
        for stray in myself.get_children() {
            let known = self.stopping.contains(&stray.get_id())
                || self.children.iter().any(|child| {
                    child
                        .cell
                        .as_ref()
                        .is_some_and(|cell| cell.get_id() == stray.get_id())
                });
            if !known {
                stray.stop(None);
            }
        }
    }

    /// Stops one child by its shutdown policy and waits for it; kills it past its graceful
    /// timeout and reports that.
    async fn stop_child(&mut self, index: usize) {
        let child = &mut self.children[index];
        child.registration = None;
        let Some(cell) = child.cell.take() else {
            return;
        };
        self.stopping.insert(cell.get_id());
        if let Some(abandon) = child.abandon.take() {
            abandon.cancel();
        }
        match child.spec.shutdown {
            ShutdownPolicy::Kill => {
                cell.kill();
                // A kill lands at the child's next await; one that never awaits is given up on.
                let _ = cell.wait(Some(STOP_WAIT)).await;
            }
            ShutdownPolicy::Graceful { timeout } => {
                match child.token.take() {
                    Some(token) => token.cancel(),
                    None => cell.stop(None),
                }
                if cell.wait(Some(timeout)).await.is_err() {
                    cell.kill();
                    let _ = cell.wait(Some(timeout)).await;
                    let name = child.spec.name.clone();
                    self.emit(SupervisorEvent::ChildKilled {
                        child: name,
                        timeout,
                    });
                }
            }
        }
        self.publish_children();
    }

    /// Stops every running child in reverse start order.
    async fn stop_all(&mut self) {
        for index in (0..self.children.len()).rev() {
            self.stop_child(index).await;
        }
    }

    /// Decides what a child's end means: restart (with the strategy's siblings), leave it
    /// stopped, give up, or shut the scope down for a significant child.
    async fn on_exit(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        index: usize,
        exit: ChildExit,
    ) -> Result<(), ActorProcessingErr> {
        let name = self.children[index].spec.name.clone();
        let restart = match (self.children[index].spec.restart, &exit) {
            (RestartType::Permanent, _) => true,
            (RestartType::Transient, ChildExit::Normal) => false,
            (RestartType::Transient, _) => true,
            (RestartType::Temporary, _) => false,
        };

        if !restart {
            self.children[index].done = true;
            self.emit(SupervisorEvent::LeftStopped {
                child: name.clone(),
                exit,
            });
            if self.children[index].spec.significant && self.significant_end() {
                self.emit(SupervisorEvent::AutoShutdown { child: name });
                self.stop_all().await;
                self.exit_cleanly(myself);
            }
            return Ok(());
        }

        let now = Instant::now();
        let policy = self.options.policy.clone();
        if !self.window.allow(now) {
            self.emit(SupervisorEvent::GaveUp {
                child: name.clone(),
                exit,
                max_restarts: policy.max_restarts(),
                period: policy.period(),
            });
            self.stop_all().await;
            let error = SupervisorError::RestartLimit {
                supervisor: self.options.name.clone(),
                child: name,
                max_restarts: policy.max_restarts(),
                period: policy.period(),
            };
            self.shared.outcome.send_replace(Some(Err(error.clone())));
            self.registration.remove();
            return Err(Box::new(error));
        }

        if let Some(hub) = &self.shared.hub {
            hub.stats.restarted();
        }
        let started = self.children[index].started;
        let delay = self.children[index]
            .backoff
            .next_delay(&self.options.policy, started, now);
        let group: Vec<usize> = match policy.strategy() {
            Strategy::OneForOne => vec![index],
            Strategy::OneForAll => (0..self.children.len())
                .filter(|&i| i == index || !self.children[i].done)
                .collect(),
            Strategy::RestForOne => (index..self.children.len())
                .filter(|&i| i == index || !self.children[i].done)
                .collect(),
        };
        // The siblings restarted with it stop first, in reverse start order.
        for &sibling in group.iter().rev() {
            if sibling != index {
                self.stop_child(sibling).await;
            }
        }
        // A temporary sibling is stopped with the group but never started again, as in OTP.
        // Its end does not count towards an automatic shutdown, which only a significant
        // child's own exit triggers.
        let (group, left): (Vec<usize>, Vec<usize>) = group
            .into_iter()
            .partition(|&i| i == index || self.children[i].spec.restart != RestartType::Temporary);
        for sibling in left {
            self.children[sibling].done = true;
            self.emit(SupervisorEvent::LeftStopped {
                child: self.children[sibling].spec.name.clone(),
                exit: ChildExit::StoppedWithSibling,
            });
        }
        self.emit(SupervisorEvent::Restarting {
            child: name,
            exit,
            delay,
            restarted: group
                .iter()
                .map(|&i| self.children[i].spec.name.clone())
                .collect(),
        });
        if delay.is_zero() {
            self.start(myself, &group).await;
        } else {
            myself.send_after(delay, move || SupervisorMsg::Start(group));
        }
        Ok(())
    }

    /// Returns whether significant children ending now shuts the scope down.
    fn significant_end(&self) -> bool {
        match self.options.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => self
                .children
                .iter()
                .filter(|child| child.spec.significant)
                .all(|child| child.done),
        }
    }

    /// Stops the supervisor after a clean end, unlinking from a user's actor first so that
    /// ractor's default supervision handling does not stop it.
    fn exit_cleanly(&self, myself: &ActorRef<SupervisorMsg>) {
        self.shared.outcome.send_replace(Some(Ok(())));
        self.registration.remove();
        if let Some(parent) = &self.user_parent {
            myself.get_cell().unlink(parent.clone());
        }
        myself.stop(None);
    }
}

impl Actor for SupervisorActor {
    type Msg = SupervisorMsg;
    type State = State;
    type Arguments = Args;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Args,
    ) -> Result<Self::State, ActorProcessingErr> {
        let registration = register(
            args.shared.id,
            Entry {
                kind: ActorKind::Supervisor,
                name: args.shared.name.clone(),
                parent: args.shared.parent_id,
                root: args.shared.root,
                cell: myself.get_cell(),
                started: Instant::now(),
                task: None,
            },
        );
        let seed = crate::names::next_id();
        let children = args
            .specs
            .into_iter()
            .enumerate()
            .map(|(index, spec)| Child {
                spec,
                cell: None,
                registration: None,
                token: None,
                abandon: None,
                started: Instant::now(),
                backoff: BackoffState::new(seed.wrapping_mul(31).wrapping_add(index as u64)),
                done: false,
            })
            .collect();
        Ok(State {
            window: RestartWindow::new(&args.options.policy),
            options: args.options,
            shared: args.shared,
            user_parent: args.user_parent,
            children,
            stopping: HashSet::new(),
            registration,
            started: args.started,
            events: args.events,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let all: Vec<usize> = (0..state.children.len()).collect();
        state.start(&myself, &all).await;
        if let Some(started) = state.started.take() {
            let _ = started.send(());
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::Start(indices) => {
                state.start(&myself, &indices).await;
                Ok(())
            }
            SupervisorMsg::StartFailed(index, error) => {
                state
                    .on_exit(&myself, index, ChildExit::StartFailed(error))
                    .await
            }
        }
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, exit) = match &event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let exit = if reason.as_deref() == Some("killed") {
                    ChildExit::Killed
                } else {
                    ChildExit::Normal
                };
                (cell.clone(), exit)
            }
            SupervisionEvent::ActorFailed(cell, error) => {
                (cell.clone(), ChildExit::Failed(error.to_string()))
            }
            _ => return Ok(()),
        };
        drop(event);
        if state.stopping.remove(&cell.get_id()) {
            return Ok(());
        }
        let Some(index) = state.children.iter().position(|child| {
            child
                .cell
                .as_ref()
                .is_some_and(|known| known.get_id() == cell.get_id())
        }) else {
            return Ok(());
        };
        state.children[index].cell = None;
        state.children[index].registration = None;
        state.children[index].token = None;
        state.publish_children();
        state.on_exit(&myself, index, exit).await
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.stop_all().await;
        state.registration.remove();
        state.shared.outcome.send_if_modified(|outcome| {
            if outcome.is_none() {
                *outcome = Some(Ok(()));
                true
            } else {
                false
            }
        });
        // A clean end unlinks from a user's actor, so that ractor's default supervision
        // handling does not stop it.
        let clean = matches!(*state.shared.outcome.borrow(), Some(Ok(())));
        if clean {
            if let Some(parent) = &state.user_parent {
                myself.get_cell().unlink(parent.clone());
            }
        }
        Ok(())
    }
}

/// Starts a nested supervised scope under `parent`. Returns its cell and its `stopping`
/// token, which descends from the parent's, so that stopping any scope above abandons a
/// child start in progress below.
pub(crate) async fn spawn_nested(
    options: SupervisorOptions,
    specs: Vec<ChildSpec>,
    parent: Parent,
) -> Result<(ActorCell, CancellationToken), crate::BoxError> {
    // A nested scope has no handle to subscribe through, so it keeps no first subscription.
    let (shared, events) = new_shared(
        &options,
        parent.hub.clone(),
        Some(parent.id),
        Some(parent.root),
        false,
        parent.stopping.child_token(),
        Some(&parent.span),
    );
    let stopping = shared.stopping.clone();
    let parent = parent.cell;
    let (started, children_started) = oneshot::channel();
    let args = Args {
        options,
        specs,
        shared,
        user_parent: None,
        started: Some(started),
        events,
    };
    let (actor, _) = Actor::spawn_linked(None, SupervisorActor, args, parent).await?;
    // An error means the actor stopped before its children started; its exit reaches the
    // parent as a supervision event.
    let _ = children_started.await;
    Ok((actor.get_cell(), stopping))
}

/// Checks the actor a start function returned: it must be linked under the scope, or the
/// scope would never learn of its exit.
fn linked_under(
    myself: &ActorRef<SupervisorMsg>,
    started: Started,
) -> Result<Started, crate::BoxError> {
    let cell = &started.cell;
    if cell.get_id() == myself.get_id() {
        return Err(
            "the start function returned the supervised scope's own actor; return \
             the child it spawned"
                .into(),
        );
    }
    // A child that already stopped has left the list; its exit event is on its way.
    let linked = cell.get_status() >= ractor::ActorStatus::Stopping
        || myself
            .get_children()
            .iter()
            .any(|child| child.get_id() == cell.get_id());
    if !linked {
        // Refused, so nothing else would ever stop it.
        cell.stop(None);
        return Err(format!(
            "the start function returned actor {} that is not linked under the supervised \
             scope; spawn it with Actor::spawn_linked(None, actor, args, supervisor)",
            cell.get_id()
        )
        .into());
    }
    Ok(started)
}

pub(crate) fn new_shared(
    options: &SupervisorOptions,
    hub: Option<Arc<Hub>>,
    parent_id: Option<u64>,
    root: Option<u64>,
    keep_first_events: bool,
    stopping: CancellationToken,
    parent_span: Option<&tracing::Span>,
) -> (Arc<Shared>, broadcast::Sender<SupervisorEvent>) {
    let (events, first_events) = broadcast::channel(EVENT_BUFFER);
    let id = crate::names::next_id();
    // Under the manager's or the parent scope's span; a scope started on its own takes the
    // caller's current span as its parent.
    let span = match parent_span {
        Some(parent) => tracing::info_span!(
            parent: parent,
            "supervisor",
            supervisor.name = %options.name,
            supervisor.id = id,
        ),
        None => tracing::info_span!(
            "supervisor",
            supervisor.name = %options.name,
            supervisor.id = id,
        ),
    };
    let shared = Arc::new(Shared {
        name: options.name.clone(),
        id,
        parent_id,
        root: root.unwrap_or(id),
        children: Mutex::new(Vec::new()),
        outcome: watch::Sender::new(None),
        events: events.downgrade(),
        first_events: Mutex::new(keep_first_events.then_some(first_events)),
        hub,
        stopping,
        span,
    });
    (shared, events)
}

/// How many decisions a subscriber may fall behind before it misses some.
pub(crate) const EVENT_BUFFER: usize = 256;

/// How long a caller waits for a supervisor to stop its children before giving up waiting.
pub(crate) const STOP_WAIT: Duration = Duration::from_secs(60);
