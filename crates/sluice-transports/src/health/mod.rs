//! What every endpoint reports, whatever its transport: its health (running, stalled since, failed since), its most
//! recent errors with their times, and the counters of [`OutputTransportStats`] and [`InputTransportStats`].
//!
//! One clock ([`epoch_ms`] of `SystemTime`) stamps every error and state change, so that the stats of different
//! endpoints (and of the pipeline's own tables and connectors) can be compared. One state machine
//! ([`HealthTracker`]) decides running / stalled / failed for every endpoint, so that they all mean the same.
//!
//! - `errors`: the clock, one error record, the bounded list of recent errors.
//! - `tracker`: [`EndpointHealth`] and [`HealthTracker`].
//! - `stats`: the transport-neutral snapshots of output and input endpoints.

mod errors;
mod stats;
mod tracker;

pub use errors::{epoch_ms, now_ms, ErrorRecord, RecentErrors, TransportErrorRecord};
pub use stats::{InputTransportStats, OutputTransportStats};
pub use tracker::{EndpointHealth, HealthSnapshot, HealthTracker};
