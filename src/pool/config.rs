use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::{PoolError, ResourcePool};
use crate::{BoxError, ConfigError, Name};

pub(crate) type ItemFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;
pub(crate) type Factory<T> = Arc<dyn Fn() -> ItemFuture<T> + Send + Sync>;
pub(crate) type Validate<T> = Arc<dyn Fn(T) -> ItemFuture<T> + Send + Sync>;

/// Settings of a pool, checked by [`PoolBuilder::start`].
pub(crate) struct PoolConfig<T> {
    pub(crate) name: Name,
    pub(crate) max_size: usize,
    pub(crate) factory: Factory<T>,
    pub(crate) validate: Option<Validate<T>>,
    pub(crate) acquire_timeout: Duration,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
}

/// Builds a [`ResourcePool`]. Every setting but the maximum size and the factory has a
/// default; see each method.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ractor_scope::ResourcePool;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = ResourcePool::builder(4, || async { Ok::<_, std::io::Error>(Vec::<u8>::new()) })
///     .name("buffers")
///     .acquire_timeout(Duration::from_secs(2))
///     .start()
///     .await?;
/// let mut buffer = pool.acquire(Duration::from_secs(1)).await?;
/// buffer.push(1);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `start` is called"]
pub struct PoolBuilder<T> {
    config: PoolConfig<T>,
}

impl<T> std::fmt::Debug for PoolBuilder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("name", &self.config.name)
            .field("max_size", &self.config.max_size)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> PoolBuilder<T> {
    pub(crate) fn new<F, Fut, E>(max_size: usize, factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        // The user's closure is called inside the future, so that a panic in the closure
        // itself, before it returns its future, is caught with the future's own panics.
        let factory = Arc::new(factory);
        let factory: Factory<T> = Arc::new(move || {
            let factory = Arc::clone(&factory);
            Box::pin(async move { factory().await.map_err(Into::into) })
        });
        PoolBuilder {
            config: PoolConfig {
                name: Name::from("pool"),
                max_size,
                factory,
                validate: None,
                acquire_timeout: Duration::from_secs(30),
                max_lifetime: None,
                idle_timeout: None,
            },
        }
    }

    /// The pool's name, used in errors and logs. Default: `pool`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.config.name = name.into();
        self
    }

    /// How long an acquire that gets neither a timeout nor a [`Context`](crate::Context)
    /// waits for an item.
    ///
    /// Default: 30 s. Zero is rejected.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.config.acquire_timeout = timeout;
        self
    }

    /// Checks or recycles an item before it is handed out. The hook gets the item and returns
    /// it, or an error, in which case the item is released and the acquirer goes on waiting
    /// without losing its place. It runs in the acquirer's task: if the acquirer is cancelled
    /// meanwhile, the item is released.
    ///
    /// Default: none.
    pub fn validate<F, Fut, E>(mut self, validate: F) -> Self
    where
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        // Called inside the future, as the factory is, so that a panic in the closure is an
        // error of the acquire and not a panic in the acquirer's task.
        let validate = Arc::new(validate);
        self.config.validate = Some(Arc::new(move |item| {
            let validate = Arc::clone(&validate);
            Box::pin(async move { validate(item).await.map_err(Into::into) })
        }));
        self
    }

    /// Releases an item once it has existed this long, when it is next returned or handed out.
    ///
    /// Default: none. Zero is rejected.
    pub fn max_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.max_lifetime = Some(lifetime);
        self
    }

    /// Releases an item that stayed idle this long.
    ///
    /// Default: none. Zero is rejected.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = Some(timeout);
        self
    }

    /// Checks the settings and starts the pool's actor. The pool starts empty: items are made
    /// when acquirers need them.
    ///
    /// # Errors
    ///
    /// [`PoolError::Config`] naming an invalid setting, [`PoolError::NoRuntime`] outside a
    /// tokio runtime, [`PoolError::Stopped`] when the actor could not start.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped after the actor started, the pool is closed again.
    pub async fn start(self) -> Result<ResourcePool<T>, PoolError> {
        self.validate_settings()?;
        ResourcePool::start(self.config).await
    }

    fn validate_settings(&self) -> Result<(), ConfigError> {
        let config = &self.config;
        if config.max_size == 0 {
            return Err(ConfigError::new(
                "max_size",
                0,
                "a pool needs room for at least one item; use 1 or more",
            ));
        }
        ConfigError::nonzero(
            "acquire_timeout",
            config.acquire_timeout,
            "the acquire timeout must be greater than zero, for example 30s",
        )?;
        if let Some(lifetime) = config.max_lifetime {
            ConfigError::nonzero(
                "max_lifetime",
                lifetime,
                "a maximum lifetime must be greater than zero; leave it unset for none",
            )?;
        }
        if let Some(timeout) = config.idle_timeout {
            ConfigError::nonzero(
                "idle_timeout",
                timeout,
                "an idle timeout must be greater than zero; leave it unset for none",
            )?;
        }
        Ok(())
    }
}
