//! Small helpers shared by the controller and the connectors.

use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Locks `m`, ignoring poisoning: every value behind our mutexes stays consistent between statements, and a
/// panic elsewhere is reported through the pipeline's state, not through poisoned locks.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Milliseconds since the Unix epoch, for timestamps in stats.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How many recent errors a table or connector lists in its stats.
const MAX_LISTED_ERRORS: usize = 100;

/// One error, as listed in the stats.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ErrorRecord {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The error, naming where it happened (table, record, column; or connector, topic, offset).
    pub message: String,
}

/// The most recent errors of one table or connector, oldest first: a bounded list so that a stream of bad input
/// cannot grow memory, while the count of all errors is kept elsewhere.
#[derive(Default)]
pub(crate) struct RecentErrors(Mutex<std::collections::VecDeque<ErrorRecord>>);

impl RecentErrors {
    pub(crate) fn push(&self, message: String) {
        let mut list = lock(&self.0);
        if list.len() == MAX_LISTED_ERRORS {
            list.pop_front();
        }
        list.push_back(ErrorRecord {
            at_ms: now_ms(),
            message,
        });
    }

    pub(crate) fn snapshot(&self) -> Vec<ErrorRecord> {
        lock(&self.0).iter().cloned().collect()
    }
}
