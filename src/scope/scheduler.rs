use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use ractor::ActorId;

use crate::task::{TaskLaunch, TaskSlot};
use crate::util::IdHash;
use crate::{TaskId, TaskState};

/// Decides when a scope's tasks start: after their dependencies completed, by priority under
/// the scope's concurrency limit. Owned by the scope actor; it starts no actor itself.
///
/// A task is in exactly one place: waiting for dependencies, ready, or running. Of running
/// tasks only a count is kept, plus the slots of those that other tasks wait for, by actor id,
/// to learn which one ended.
pub(crate) struct Scheduler {
    limit: Option<usize>,
    next_seq: u64,
    next_arrival: u64,
    ready: ReadyQueue,
    waiting: HashMap<TaskId, Waiting, IdHash>,
    /// For each unfinished task that others wait for, the tasks waiting for it.
    dependents: HashMap<TaskId, Vec<TaskId>, IdHash>,
    running: usize,
    watched: HashMap<ActorId, Arc<dyn TaskSlot>, IdHash>,
}

/// The capacity a queue keeps once a burst of tasks has drained from it, so that a scope that
/// once queued 100,000 tasks does not hold their slots for the rest of its life.
pub(crate) const KEPT_CAPACITY: usize = 64;

/// The ready tasks: by priority under a limit, by arrival otherwise.
enum ReadyQueue {
    Arrival(VecDeque<Ready>),
    Priority(BinaryHeap<Ready>),
}

impl ReadyQueue {
    fn push(&mut self, ready: Ready) {
        match self {
            ReadyQueue::Arrival(queue) => queue.push_back(ready),
            ReadyQueue::Priority(heap) => heap.push(ready),
        }
    }

    fn pop(&mut self) -> Option<TaskLaunch> {
        let ready = match self {
            ReadyQueue::Arrival(queue) => {
                let ready = queue.pop_front();
                if queue.is_empty() {
                    queue.shrink_to(KEPT_CAPACITY);
                }
                ready
            }
            ReadyQueue::Priority(heap) => {
                let ready = heap.pop();
                if heap.is_empty() {
                    heap.shrink_to(KEPT_CAPACITY);
                }
                ready
            }
        };
        ready.map(|ready| ready.launch)
    }

    fn is_empty(&self) -> bool {
        match self {
            ReadyQueue::Arrival(queue) => queue.is_empty(),
            ReadyQueue::Priority(heap) => heap.is_empty(),
        }
    }

    /// Removes every ready task, with its arrival number.
    fn drain(&mut self) -> Vec<(u64, TaskLaunch)> {
        let all: Vec<Ready> = match self {
            ReadyQueue::Arrival(queue) => queue.drain(..).collect(),
            ReadyQueue::Priority(heap) => heap.drain().collect(),
        };
        all.into_iter()
            .map(|ready| (ready.seq, ready.launch))
            .collect()
    }
}

/// A task whose dependencies completed, waiting for a slot.
struct Ready {
    priority: i32,
    /// When it was added to the scope; `take_unstarted` keeps this order.
    seq: u64,
    /// When it became ready; the queue serves equal priorities in this order.
    arrival: u64,
    launch: TaskLaunch,
}

impl PartialEq for Ready {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ready {}

impl PartialOrd for Ready {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ready {
    /// Higher priority first; among equals, the one that became ready first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.arrival.cmp(&self.arrival))
    }
}

/// A task waiting for `missing` dependencies to complete.
struct Waiting {
    seq: u64,
    missing: usize,
    launch: TaskLaunch,
}

/// A task that will never run because `dependency` did not complete.
pub(crate) struct Skip {
    pub(crate) launch: TaskLaunch,
    pub(crate) dependency: Arc<dyn TaskSlot>,
}

impl Scheduler {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Scheduler {
            limit,
            next_seq: 0,
            next_arrival: 0,
            ready: match limit {
                // Without a limit every ready task starts at once, so arrival order is enough.
                None => ReadyQueue::Arrival(VecDeque::new()),
                Some(_) => ReadyQueue::Priority(BinaryHeap::new()),
            },
            waiting: HashMap::default(),
            dependents: HashMap::default(),
            running: 0,
            watched: HashMap::default(),
        }
    }

    /// Returns whether a task is waiting or ready.
    pub(crate) fn has_unstarted(&self) -> bool {
        !self.ready.is_empty() || !self.waiting.is_empty()
    }

    /// Takes in a newly spawned task. Returns the tasks that will never run: this one, when a
    /// dependency already ended without completing.
    pub(crate) fn admit(&mut self, launch: TaskLaunch) -> Option<Skip> {
        let seq = self.next_seq;
        self.next_seq += 1;

        let mut missing = 0;
        for dependency in &launch.dependencies {
            match dependency.state() {
                TaskState::Completed => {}
                TaskState::Pending | TaskState::Running => missing += 1,
                _ => {
                    let dependency = Arc::clone(dependency);
                    return Some(Skip { launch, dependency });
                }
            }
        }
        if missing == 0 {
            self.push_ready(seq, launch);
            return None;
        }
        for dependency in &launch.dependencies {
            if !dependency.state().is_finished() {
                self.dependents
                    .entry(dependency.id())
                    .or_default()
                    .push(launch.id);
                // A dependency already started is watched from now on; one not started yet is
                // watched when it starts.
                if let Some(actor) = dependency.actor() {
                    self.watched.insert(actor, Arc::clone(dependency));
                }
            }
        }
        self.waiting.insert(
            launch.id,
            Waiting {
                seq,
                missing,
                launch,
            },
        );
        None
    }

    /// Returns whether a ready task could start now.
    pub(crate) fn can_start(&self) -> bool {
        !self.ready.is_empty() && self.limit.is_none_or(|limit| self.running < limit)
    }

    /// Takes the next ready task if the concurrency limit leaves a slot for it.
    pub(crate) fn next_to_start(&mut self) -> Option<TaskLaunch> {
        if self.limit.is_some_and(|limit| self.running >= limit) {
            return None;
        }
        self.ready.pop()
    }

    /// Records that a task's actor started.
    pub(crate) fn started(&mut self, actor: ActorId, slot: Arc<dyn TaskSlot>) {
        self.running += 1;
        slot.bind_actor(actor);
        if self.dependents.contains_key(&slot.id()) {
            self.watched.insert(actor, slot);
        }
    }

    /// Records that a task's actor ended, and settles the tasks waiting for it. Returns the
    /// tasks that will never run because of it, directly or through other skipped tasks.
    pub(crate) fn ended(&mut self, actor: &ActorId) -> Vec<Skip> {
        self.running = self.running.saturating_sub(1);
        match self.watched.remove(actor) {
            Some(slot) => self.settle(slot),
            None => Vec::new(),
        }
    }

    /// Frees the tasks waiting for `finished` when it completed. When it failed, timed out or
    /// was skipped, skips them and, in turn, the tasks waiting for those. When it was
    /// cancelled, leaves them to the scope's cancellation.
    fn settle(&mut self, finished: Arc<dyn TaskSlot>) -> Vec<Skip> {
        let mut skipped = Vec::new();
        let mut settling = vec![finished];
        while let Some(finished) = settling.pop() {
            let Some(waiters) = self.dependents.remove(&finished.id()) else {
                continue;
            };
            let state = finished.state();
            // A task ends cancelled only when its scope was cancelled. Its waiters stay where
            // they are: the scope's cancellation ends them next, as cancelled, or as skipped
            // when another of their dependencies failed, whichever event the actor reads first.
            if state == TaskState::Cancelled {
                continue;
            }
            let completed = state == TaskState::Completed;
            for waiter in waiters {
                if completed {
                    self.one_less(waiter);
                } else if let Some(waiting) = self.waiting.remove(&waiter) {
                    // Its own waiters are skipped in turn, naming it.
                    settling.push(Arc::clone(&waiting.launch.slot));
                    skipped.push(Skip {
                        launch: waiting.launch,
                        dependency: Arc::clone(&finished),
                    });
                }
            }
        }
        skipped
    }

    fn one_less(&mut self, waiter: TaskId) {
        let Some(waiting) = self.waiting.get_mut(&waiter) else {
            return;
        };
        waiting.missing -= 1;
        if waiting.missing == 0 {
            let waiting = self
                .waiting
                .remove(&waiter)
                .expect("the waiting task was just found");
            self.push_ready(waiting.seq, waiting.launch);
        }
    }

    /// Queues a task whose dependencies completed behind the tasks that became ready before it.
    fn push_ready(&mut self, seq: u64, launch: TaskLaunch) {
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        self.ready.push(Ready {
            priority: launch.priority,
            seq,
            arrival,
            launch,
        });
    }

    /// Removes every task that has not started, in the order they were added (so each comes
    /// after the tasks it depends on).
    pub(crate) fn take_unstarted(&mut self) -> Vec<TaskLaunch> {
        let mut unstarted: Vec<(u64, TaskLaunch)> = self
            .waiting
            .drain()
            .map(|(_, waiting)| (waiting.seq, waiting.launch))
            .chain(self.ready.drain())
            .collect();
        unstarted.sort_by_key(|(seq, _)| *seq);
        self.dependents.clear();
        unstarted.into_iter().map(|(_, launch)| launch).collect()
    }
}
