//! Labels and ids of managers, scopes and tasks.
//!
//! Names are labels chosen by the user and may repeat; ids are unique within the process. User
//! names are never passed to ractor's global name registry.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A user-chosen label of a manager, scope or task, cheap to clone.
pub type Name = Arc<str>;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Returns a process-wide unique, non-zero id.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u64);

        impl $name {
            pub(crate) fn next() -> Self {
                Self(next_id())
            }

            /// Returns the id as a number, unique among all ids of this process.
            pub fn as_u64(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// Unique id of a manager.
    ManagerId,
    "m"
);
id_type!(
    /// Unique id of a scope.
    ScopeId,
    "s"
);
id_type!(
    /// Unique id of a task.
    TaskId,
    "t"
);
