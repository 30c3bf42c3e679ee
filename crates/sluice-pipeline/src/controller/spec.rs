//! What a pipeline is started with ([`PipelineSpec`], [`ControllerConfig`], [`OutputSpec`]) and how its calls fail
//! ([`PipelineError`]). A leaf of the controller: it names the connectors' specs and errors, nothing that runs.

use std::time::Duration;

use sluice_engine::EngineError;
use sluice_sql::Program;
use sluice_types::ConnectorConfig;

use crate::durable::{DurableConfig, DurableError};
use crate::input::{InputError, InputSpec};
use crate::output::OutputError;

/// How the controller batches and bounds input.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// dbsp worker threads.
    pub workers: usize,
    /// Records to wait for before a step (0: step as soon as anything arrives).
    pub min_batch_size_records: u64,
    /// The longest the oldest buffered record waits for `min_batch_size_records`.
    pub max_buffering_delay: Duration,
    /// Input records buffered (not yet stepped) at most; [`Pipeline::ingest`](super::Pipeline::ingest) waits while
    /// the buffer is full.
    pub max_buffered_records: u64,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            workers: 1,
            min_batch_size_records: 0,
            max_buffering_delay: Duration::ZERO,
            max_buffered_records: 1_000_000,
        }
    }
}

/// An output connector to attach: its name, the view it sends, and its config.
#[derive(Clone, Debug)]
pub struct OutputSpec {
    /// The attachment's name, shown in stats and errors.
    pub name: String,
    /// The view.
    pub view: String,
    /// The connector's config.
    pub config: ConnectorConfig,
}

/// Everything needed to run a pipeline.
#[derive(Clone, Debug)]
pub struct PipelineSpec {
    /// The pipeline's name, for logs and thread names.
    pub name: String,
    /// The compiled program.
    pub program: Program,
    /// Batching and bounds.
    pub config: ControllerConfig,
    /// Input connectors (Kafka topics into tables); HTTP ingress needs none.
    pub inputs: Vec<InputSpec>,
    /// Output connectors.
    pub outputs: Vec<OutputSpec>,
    /// Where to keep the journal and checkpoints (`at_least_once`); `None` keeps everything in memory, so a
    /// restart starts from empty views.
    pub durable: Option<DurableConfig>,
}

/// Why a pipeline call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// No table of that name.
    #[error("the program has no table '{0}'")]
    UnknownTable(String),
    /// No view of that name.
    #[error("the program has no view '{0}'")]
    UnknownView(String),
    /// An output connector's `send_snapshot` cannot be served (the view is not materialized, exactly-once).
    #[error("output connector '{connector}': {reason}")]
    Snapshot {
        /// The connector's name.
        connector: String,
        /// Why, and what to do.
        reason: String,
    },
    /// An output connector's `index` does not name an index of its view, or contradicts its `key_fields`.
    #[error("output connector '{connector}': {reason}")]
    Index {
        /// The connector's name.
        connector: String,
        /// Why, and what to do.
        reason: String,
    },
    /// An output connector's schemas could not be registered (the registry unreachable, or refusing them).
    #[error("output connector '{connector}': {reason}")]
    Registry {
        /// The connector's name.
        connector: String,
        /// Why, with the registry's own reason.
        reason: String,
    },
    /// An output connector promises one row per key, and neither the plan nor an index guarantees it.
    #[error("output connector '{connector}': {reason}")]
    UniqueKey {
        /// The connector's name.
        connector: String,
        /// Why, and what to do.
        reason: String,
    },
    /// An output connector sends plain rows of a view that can delete, and fails on deletes.
    #[error("output connector '{connector}': {reason}")]
    PlainRows {
        /// The connector's name.
        connector: String,
        /// Why, and what to do.
        reason: String,
    },
    /// An output connector could not start.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// An input connector could not start.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The engine could not start.
    #[error("the engine could not start: {0}")]
    Engine(#[source] EngineError),
    /// The controller thread could not be started.
    #[error("the pipeline's controller thread could not start: {0}")]
    Thread(#[source] std::io::Error),
    /// Records that do not fit the table, one message per record (naming it); nothing of the request was applied.
    #[error("{}", .0.join("; "))]
    InvalidRecords(Vec<String>),
    /// The pipeline failed earlier, for this reason (the same one [`Pipeline::failure`](super::Pipeline::failure)
    /// gives).
    #[error("the pipeline failed: {0}")]
    Failed(std::sync::Arc<super::failure::PipelineFailure>),
    /// The pipeline's durable state could not be read or written (at start: a damaged journal, a checkpoint of
    /// another program; on ingest: the journal write failed, and nothing of the request was admitted).
    #[error("{0}")]
    Durable(#[source] Box<DurableError>),
    /// The pipeline is not durable, so what was asked (a checkpoint) does not exist for it.
    #[error("the pipeline keeps no durable state (fault_tolerance.model is \"none\")")]
    NotDurable,
    /// The pipeline is shutting down or shut down.
    #[error("the pipeline is shut down")]
    Stopped,
    /// The contents of views could not be read (a view that keeps none, more rows than asked for, no answer).
    #[error("{0}")]
    Contents(String),
    /// The input buffer stayed full for the whole wait.
    #[error("the pipeline's input buffer is full ({buffered} records, the limit is {limit}); {reason}; retry later")]
    Busy {
        /// Records buffered.
        buffered: u64,
        /// `max_buffered_records`.
        limit: u64,
        /// Why the buffer does not drain (paused, an output connector is full).
        reason: String,
    },
}

impl PipelineError {
    /// [`PipelineError::Durable`], boxed (file errors carry a path: the box keeps every result small).
    pub fn durable(e: DurableError) -> PipelineError {
        PipelineError::Durable(Box::new(e))
    }
}
