use super::RestartPolicy;
use crate::Name;

/// When significant children end the supervised scope.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AutoShutdown {
    /// Never: significance is ignored.
    #[default]
    Never,
    /// When any significant child exits without being restarted.
    AnySignificant,
    /// When every significant child has exited without being restarted.
    AllSignificant,
}

/// Options of a supervised scope.
#[derive(Debug, Clone)]
#[must_use = "options do nothing until a supervised scope is started with them"]
pub struct SupervisorOptions {
    pub(crate) name: Name,
    pub(crate) policy: RestartPolicy,
    pub(crate) auto_shutdown: AutoShutdown,
}

impl SupervisorOptions {
    /// Options for a supervised scope named `name`, with the default [`RestartPolicy`] and no
    /// auto-shutdown.
    pub fn new(name: impl Into<Name>) -> Self {
        SupervisorOptions {
            name: name.into(),
            policy: RestartPolicy::default(),
            auto_shutdown: AutoShutdown::Never,
        }
    }

    /// The restart policy. Default: [`RestartPolicy::default`].
    pub fn policy(mut self, policy: RestartPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// When significant children end the scope. Default: [`AutoShutdown::Never`].
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }
}
