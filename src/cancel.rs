//! Cancellation with a typed, first-wins cause.
//!
//! Every manager, scope and task reads its cancellation from a [`CancelNode`]. A node wraps a
//! [`CancellationToken`] (so cancelling a parent wakes every descendant at once) and records the
//! first cause it learns. A descendant that was cancelled through its parent's token derives its
//! cause from the parent on first read, so the cause that was recorded first always wins, even
//! when a later, more specific cause arrives for the descendant.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::names::{Name, TaskId};

/// Why a task or scope was cancelled.
///
/// The first cause recorded for a scope wins; later causes are ignored. A task's cause is the
/// cause of its scope; a nested scope cancelled by its parent carries the parent's cause inside
/// [`CancelCause::ParentCancelled`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelCause {
    /// A sibling task failed and its failure became the scope's error.
    SiblingFailed {
        /// Scope whose task failed.
        scope: Name,
        /// Task that failed.
        task: Name,
        /// Id of the task that failed.
        task_id: TaskId,
    },
    /// The scope's deadline passed.
    DeadlinePassed {
        /// Scope whose deadline passed.
        scope: Name,
        /// The deadline, as a duration from the scope's start.
        after: Duration,
    },
    /// The parent scope was cancelled, for the cause inside.
    ParentCancelled(Box<CancelCause>),
    /// The manager shut down.
    ManagerShutdown,
    /// The user cancelled the scope through its handle.
    UserCancelled {
        /// Scope that was cancelled.
        scope: Name,
    },
    /// The scope's handle was dropped, or its `wait` future was dropped before it finished.
    HandleDropped {
        /// Scope whose handle was dropped.
        scope: Name,
    },
    /// The task that opened the scope ended while the scope was still open.
    OpenerEnded {
        /// Task that opened the scope.
        task: Name,
    },
    /// The task was never spawned: its scope rejected it (closed, or an invalid graph), or the
    /// graph holding it was dropped before it was spawned.
    NotSpawned,
    /// The scope's actor was stopped or killed from outside the library (for example its ractor
    /// parent exited).
    ActorStopped {
        /// Scope whose actor stopped.
        scope: Name,
    },
}

impl CancelCause {
    /// Returns the innermost cause, looking through [`CancelCause::ParentCancelled`].
    pub fn root(&self) -> &CancelCause {
        let mut cause = self;
        while let CancelCause::ParentCancelled(inner) = cause {
            cause = inner;
        }
        cause
    }
}

impl fmt::Display for CancelCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelCause::SiblingFailed { scope, task, .. } => {
                write!(f, "task '{task}' of scope '{scope}' failed")
            }
            CancelCause::DeadlinePassed { scope, after } => {
                write!(f, "deadline of scope '{scope}' passed after {after:?}")
            }
            CancelCause::ParentCancelled(inner) => write!(f, "parent scope cancelled: {inner}"),
            CancelCause::ManagerShutdown => f.write_str("manager shut down"),
            CancelCause::UserCancelled { scope } => write!(f, "scope '{scope}' cancelled by user"),
            CancelCause::HandleDropped { scope } => {
                write!(f, "handle of scope '{scope}' dropped before it finished")
            }
            CancelCause::OpenerEnded { task } => {
                write!(f, "task '{task}' that opened the scope ended")
            }
            CancelCause::NotSpawned => f.write_str("task was never spawned"),
            CancelCause::ActorStopped { scope } => {
                write!(f, "actor of scope '{scope}' stopped from outside")
            }
        }
    }
}

/// How a node turns its parent's cause into its own.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Inherit {
    /// Take the parent's cause as it is (a scope under a manager).
    AsIs,
    /// Wrap the parent's cause in [`CancelCause::ParentCancelled`] (a scope under a scope).
    Wrapped,
}

/// One level of the cancellation tree: a token plus the first recorded cause.
#[derive(Debug)]
pub(crate) struct CancelNode {
    token: CancellationToken,
    cause: OnceLock<CancelCause>,
    parent: Option<(Arc<CancelNode>, Inherit)>,
}

impl CancelNode {
    /// Creates a root node, cancelled only by its own `cancel`.
    pub(crate) fn root() -> Arc<Self> {
        Arc::new(CancelNode {
            token: CancellationToken::new(),
            cause: OnceLock::new(),
            parent: None,
        })
    }

    /// Creates a node that is cancelled when `parent` is.
    pub(crate) fn child(parent: &Arc<CancelNode>, inherit: Inherit) -> Arc<Self> {
        Arc::new(CancelNode {
            token: parent.token.child_token(),
            cause: OnceLock::new(),
            parent: Some((Arc::clone(parent), inherit)),
        })
    }

    /// Records `cause` unless a cause is already known, then cancels. Returns whether `cause`
    /// became this node's cause.
    pub(crate) fn cancel(&self, cause: CancelCause) -> bool {
        // A parent that was cancelled first owns the cause, even if nobody has read it yet.
        self.settle_inherited();
        let won = self.cause.set(cause).is_ok();
        self.token.cancel();
        won
    }

    /// Returns whether cancellation was requested, here or on an ancestor.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Returns the cause once cancellation was requested.
    pub(crate) fn cause(&self) -> Option<CancelCause> {
        if !self.token.is_cancelled() {
            return None;
        }
        self.settle_inherited();
        self.cause.get().cloned()
    }

    /// Completes when cancellation is requested.
    pub(crate) fn cancelled(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// Returns an owned future that completes when cancellation is requested.
    pub(crate) fn cancelled_owned(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.token.clone().cancelled_owned()
    }

    fn settle_inherited(&self) {
        if self.cause.get().is_some() {
            return;
        }
        let Some((parent, inherit)) = &self.parent else {
            return;
        };
        if !parent.is_cancelled() {
            return;
        }
        if let Some(parent_cause) = parent.cause() {
            let cause = match inherit {
                Inherit::AsIs => parent_cause,
                Inherit::Wrapped => CancelCause::ParentCancelled(Box::new(parent_cause)),
            };
            let _ = self.cause.set(cause);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(scope: &str) -> CancelCause {
        CancelCause::UserCancelled {
            scope: Name::from(scope),
        }
    }

    #[test]
    fn first_cause_wins() {
        let node = CancelNode::root();
        assert!(node.cancel(user("a")));
        assert!(!node.cancel(CancelCause::ManagerShutdown));
        assert_eq!(node.cause(), Some(user("a")));
    }

    #[test]
    fn parent_cause_wins_over_later_child_cause() {
        let root = CancelNode::root();
        let child = CancelNode::child(&root, Inherit::Wrapped);
        root.cancel(user("outer"));
        assert!(!child.cancel(user("inner")));
        assert_eq!(
            child.cause(),
            Some(CancelCause::ParentCancelled(Box::new(user("outer"))))
        );
    }

    #[test]
    fn child_cancel_leaves_parent_alone() {
        let root = CancelNode::root();
        let child = CancelNode::child(&root, Inherit::AsIs);
        child.cancel(user("inner"));
        assert!(!root.is_cancelled());
        assert_eq!(root.cause(), None);
    }

    #[test]
    fn root_looks_through_parents() {
        let cause = CancelCause::ParentCancelled(Box::new(CancelCause::ParentCancelled(Box::new(
            CancelCause::ManagerShutdown,
        ))));
        assert_eq!(cause.root(), &CancelCause::ManagerShutdown);
    }
}
