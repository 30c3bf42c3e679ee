//! What an HTTP watcher of a view receives, and how far behind it may fall.

use std::sync::Arc;

use sluice_data::Delta;

/// Batches a watcher may fall behind before it is disconnected.
pub(super) const WATCH_QUEUE_BATCHES: usize = 1024;

/// What a watcher receives: one step's changes of its view, or the reason the watch ended.
#[derive(Clone, Debug)]
pub enum WatchEvent {
    /// The changes of step `step` (never empty).
    Changes {
        /// The step's number, from 1.
        step: u64,
        /// The changes.
        delta: Arc<Delta>,
    },
    /// The watch ended: the pipeline stopped, or the watcher fell too far behind.
    Ended(String),
}
