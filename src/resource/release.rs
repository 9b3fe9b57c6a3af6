use std::future::Future;
use std::pin::Pin;

use crate::BoxError;

/// Something that must be given back when its owner ends: a connection, a lock, a temporary
/// file, a reservation to compensate.
///
/// # Examples
///
/// ```
/// use ractor_scope::Resource;
///
/// struct TempDir(std::path::PathBuf);
///
/// impl Resource for TempDir {
///     type Error = std::io::Error;
///
///     async fn release(self) -> Result<(), Self::Error> {
///         tokio::fs::remove_dir_all(&self.0).await
///     }
/// }
/// ```
pub trait Resource: Send + 'static {
    /// Error returned by a failed release.
    type Error: Into<BoxError>;

    /// Releases the resource. Called exactly once, by the library, when the owner ends.
    ///
    /// A release that does not finish within the owner's release timeout is dropped and
    /// reported as timed out.
    fn release(self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Name of the resource in reports and logs. Defaults to the type's name.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

/// A [`Resource`] made from a name and an async closure; see [`release_fn`].
#[must_use = "a ReleaseFn does nothing until it is registered with a scope or task"]
pub struct ReleaseFn<F> {
    name: String,
    release: F,
}

impl<F> std::fmt::Debug for ReleaseFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseFn")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Makes a [`Resource`] named `name` whose release runs `release`.
///
/// # Examples
///
/// ```
/// let undo = ractor_scope::release_fn("reservation", || async {
///     // give the reserved stock back
///     Ok::<(), std::io::Error>(())
/// });
/// # let _ = undo;
/// ```
pub fn release_fn<F, Fut, E>(name: impl Into<String>, release: F) -> ReleaseFn<F>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    ReleaseFn {
        name: name.into(),
        release,
    }
}

impl<F, Fut, E> Resource for ReleaseFn<F>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    type Error = E;

    fn release(self) -> impl Future<Output = Result<(), E>> + Send {
        (self.release)()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

pub(crate) type ReleaseFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// A registered resource with its type erased.
pub(crate) struct Entry {
    pub(crate) name: crate::Name,
    pub(crate) release: Box<dyn FnOnce() -> ReleaseFuture + Send>,
}

impl Entry {
    pub(crate) fn new<R: Resource>(resource: R) -> Self {
        let name = crate::Name::from(resource.name());
        Entry {
            name,
            release: Box::new(move || {
                Box::pin(async move { resource.release().await.map_err(Into::into) })
            }),
        }
    }
}
