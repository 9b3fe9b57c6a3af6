//! Statistics, the error stream, the live-actor registry and the tree snapshot.

mod hub;
mod registry;
mod reports;
mod stats;
mod tree;

pub(crate) use hub::Hub;
pub use registry::{live_actors, ActorKind, LiveActor};
pub(crate) use registry::{live_under_root, register, Entry, Registration};
pub use reports::{ErrorReport, ErrorReports, ReportKind};
pub use stats::Stats;
pub use tree::Tree;
