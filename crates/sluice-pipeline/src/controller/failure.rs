//! Why a running pipeline failed ([`PipelineFailure`]) and why a step failed ([`StepError`]): typed, with the
//! engine's or the transport's error as the source, so that callers can tell an engine error from a panic or a
//! lost input without reading the message. A leaf: the controller thread, the admission and the handle use it.

use sluice_engine::EngineError;

use crate::durable::DurableError;
use crate::endpoint_error::EndpointError;

/// Why one step of the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The engine refused a table's input.
    #[error("table {table}: {source}")]
    Push {
        /// The table.
        table: String,
        /// The engine's error.
        source: EngineError,
    },
    /// The engine's transaction failed.
    #[error("{0}")]
    Step(#[source] EngineError),
    /// The step's journal mark could not be written or synced.
    #[error("{0}")]
    Journal(#[source] DurableError),
    /// Reading a view's contents for `send_snapshot` failed.
    #[error("sending the snapshot: {0}")]
    Snapshot(#[source] EngineError),
    /// Replaying the journal after a restart found something it cannot replay.
    #[error("replaying the journal: {0}")]
    Replay(String),
}

/// Why a running pipeline failed. The first failure is kept; the pipeline then takes no more input.
#[derive(Debug, thiserror::Error)]
pub enum PipelineFailure {
    /// A step failed.
    #[error(transparent)]
    Step(#[from] StepError),
    /// The controller thread panicked (a bug); the message is the panic's.
    #[error("the controller panicked: {0}")]
    Panic(String),
    /// The journal could not make admitted input durable (a failed sync): nothing after the last good sync can
    /// be trusted to survive a crash.
    #[error("{0}")]
    Durable(#[source] DurableError),
    /// An output connector failed permanently: its messages can no longer be delivered.
    #[error("output connector '{connector}': {error}")]
    Output {
        /// The connector's name.
        connector: String,
        /// The connector's fatal error.
        error: String,
    },
    /// An input connector's transport failed permanently (topic deleted, authorization revoked).
    #[error("input connector '{connector}': {source}")]
    Input {
        /// The connector's name.
        connector: String,
        /// The transport's error.
        source: EndpointError,
    },
}
