/// A consistent snapshot of a pool's items and waiters.
///
/// `size = idle + in_use + creating + releasing`, and `size <= max_size`, in every snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PoolStatus {
    /// The pool's maximum size.
    pub max_size: usize,
    /// Items that exist or are being made or released.
    pub size: usize,
    /// Items waiting in the pool.
    pub idle: usize,
    /// Items handed out.
    pub in_use: usize,
    /// Items the factory is making.
    pub creating: usize,
    /// Items being released.
    pub releasing: usize,
    /// Acquirers waiting for an item.
    pub waiters: usize,
    /// Whether the pool is closed.
    pub closed: bool,
}

/// Counters of a pool since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PoolStats {
    /// Items handed out.
    pub acquired: u64,
    /// Acquires that waited for an item.
    pub waited: u64,
    /// Acquires that timed out.
    pub timeouts: u64,
    /// Acquires cancelled by their caller: the task's [`Context`](crate::Context) was
    /// cancelled, or the acquire future was dropped while it waited or validated an item.
    pub cancellations: u64,
    /// Items the factory made.
    pub created: u64,
    /// Factory calls that failed.
    pub factory_errors: u64,
    /// Items released because they were marked broken.
    pub broken: u64,
    /// Items released because they failed validation.
    pub invalid: u64,
    /// Items released because they outlived their maximum lifetime or idle timeout.
    pub expired: u64,
    /// The largest `size` ever seen.
    pub peak_size: usize,
}
