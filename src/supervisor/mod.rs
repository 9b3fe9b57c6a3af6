//! Supervised scopes: long-lived children restarted by an OTP-style policy (strategy, restart
//! intensity, backoff), with the policy as plain serde data so a service can keep it in its
//! configuration file.

mod actor;

pub(crate) use actor::StopHandle;
mod backoff;
mod child;
mod error;
mod event;
mod handle;
mod options;
mod policy;
mod spec;

pub use backoff::{BackoffState, RestartWindow};
pub use error::SupervisorError;
pub use event::{ChildExit, SupervisorEvent, SupervisorEvents};
pub use handle::Supervisor;
pub use options::{AutoShutdown, SupervisorOptions};
pub use policy::{Backoff, RestartPolicy, RestartType, ShutdownPolicy, Strategy};
pub use spec::{ChildContext, ChildSpec};
