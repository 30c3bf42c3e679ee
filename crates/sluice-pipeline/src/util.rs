//! Small helpers shared by the controller and the connectors. The clock and the recent-errors lists of the stats
//! are `sluice_transports::health`'s, so that a table's, a connector's and a transport's errors are stamped alike.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, ignoring poisoning: every value behind our mutexes stays consistent between statements, and a
/// panic elsewhere is reported through the pipeline's state, not through poisoned locks.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
