//! The shapes of a pipeline's stats: its state, per-table input counters, global counters.

use serde::Serialize;
use sluice_transports::health::ErrorRecord;

use super::durability::DurabilityStats;
use crate::input::InputConnectorStats;
use crate::output::OutputConnectorStats;

/// Where a running pipeline is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PipelineState {
    /// Stepping as input arrives.
    Running,
    /// Buffering input without stepping.
    Paused,
    /// Stopped by an error; only shutdown is left.
    Failed,
    /// Shut down.
    Stopped,
}

/// Counters of one table's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TableInputStats {
    /// The table.
    pub table: String,
    /// Records accepted into the buffer.
    pub total_records: u64,
    /// Bytes of the requests or messages that carried them.
    pub total_bytes: u64,
    /// Records accepted but not yet stepped.
    pub buffered_records: u64,
    /// Records stepped into the engine.
    pub processed_records: u64,
    /// Of those, changes dropped as late: a `LATENESS` column's value was below its waterline (the column's
    /// largest value so far minus the lateness). Always 0 for a table without `LATENESS`.
    pub late_records: u64,
    /// Records rejected (parse errors, invalid values).
    pub num_parse_errors: u64,
    /// The most recent errors, oldest first.
    pub parse_errors: Vec<ErrorRecord>,
}

/// Pipeline-wide counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GlobalStats {
    /// Running, paused, failed or stopped.
    pub state: PipelineState,
    /// Why the pipeline failed.
    pub error: Option<String>,
    /// Input records buffered for the next step.
    pub buffered_input_records: u64,
    /// Input records accepted since start.
    pub total_input_records: u64,
    /// Input records stepped into the engine.
    pub total_processed_records: u64,
    /// Steps run.
    pub steps: u64,
    /// View changes produced by all steps.
    pub total_output_records: u64,
    /// When stepping stopped because an output connector was full (ms since the Unix epoch).
    pub stalled_since_ms: Option<u64>,
    /// Which connector stopped stepping and why.
    pub stall_reason: Option<String>,
    /// HTTP watchers connected.
    pub watchers: u64,
}

/// A snapshot of a pipeline: global counters, per-table input and per-connector output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PipelineStats {
    /// Pipeline-wide counters.
    pub global_metrics: GlobalStats,
    /// One entry per table.
    pub inputs: Vec<TableInputStats>,
    /// One entry per input connector.
    pub input_connectors: Vec<InputConnectorStats>,
    /// One entry per output connector.
    pub outputs: Vec<OutputConnectorStats>,
    /// Checkpoints and recovery of a durable pipeline; absent when `fault_tolerance.model` is `none`.
    pub fault_tolerance: Option<DurabilityStats>,
}
