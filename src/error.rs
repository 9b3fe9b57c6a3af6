//! Error types shared by every area.

use std::time::Duration;

/// A boxed error, the type task bodies and releases may return through `Into`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An invalid setting, naming the setting, its value and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {setting} {value}: {fix}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The setting, as named by its builder method (for example `shutdown_timeout`).
    pub setting: &'static str,
    /// The rejected value, as written in Rust debug notation.
    pub value: String,
    /// What to do instead.
    pub fix: &'static str,
}

impl ConfigError {
    pub(crate) fn new(
        setting: &'static str,
        value: impl std::fmt::Debug,
        fix: &'static str,
    ) -> Self {
        ConfigError {
            setting,
            value: format!("{value:?}"),
            fix,
        }
    }

    /// Rejects a zero duration with the given fix.
    pub(crate) fn nonzero(
        setting: &'static str,
        value: Duration,
        fix: &'static str,
    ) -> Result<(), Self> {
        if value.is_zero() {
            return Err(ConfigError::new(setting, value, fix));
        }
        Ok(())
    }
}

/// Walks `error` and its `source()` chain and returns the first error of type `E`.
pub(crate) fn find_in_chain<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}
