//! [`RecordSink`]: where an input connector hands its records — the pipeline's input buffer. The controller
//! implements it; the connector knows only this trait, so the input side does not depend on the controller.

use std::time::Duration;

use sluice_data::Row;
use sluice_sql::TableDef;

use super::endpoint::Position;
use crate::durable::journal::SourceProgress;
use crate::endpoint_error::EndpointError;

/// Why the sink did not take records.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The input buffer stayed full for the whole wait; the reason says why it does not drain.
    Busy(String),
    /// The pipeline failed or is shutting down: nothing more can be handed over.
    Closed,
}

/// The pipeline, as an input connector sees it.
pub(crate) trait RecordSink: Send + Sync {
    /// Whether stepping is paused (the connector then stops reading).
    fn paused(&self) -> bool;
    /// The table with index `t` (its schema, whether it is append-only).
    fn table(&self, t: usize) -> &TableDef;
    /// Adds checked records to table `t`, waiting up to `wait` for room; a refusal gives the records back.
    /// `progress` says how far the source had read with them (the next offset per partition), for a durable
    /// pipeline's journal.
    fn admit(
        &self,
        t: usize,
        records: Vec<(Row, i64)>,
        bytes: u64,
        wait: Duration,
        progress: &[SourceProgress],
    ) -> Result<(), (Refusal, Vec<(Row, i64)>)>;
    /// Counts and lists errors of records of table `t` that were not admitted.
    fn record_errors(&self, t: usize, errors: &[String]);
    /// The connector `connector` failed permanently: the pipeline fails.
    fn input_failed(&self, connector: &str, error: EndpointError);
    /// The positions (topic, partition, next offset) of `connector` in the last committed checkpoint, with that
    /// checkpoint's number, when it is newer than checkpoint `after`: what the connector may commit to its source.
    fn checkpointed_positions(&self, connector: &str, after: u64) -> Option<(u64, Vec<Position>)>;
}
