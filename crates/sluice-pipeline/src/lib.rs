//! The runtime of one pipeline: input records → engine steps → view deltas → output connectors.
//!
//! - [`controller::Pipeline`] owns the engine (on a controller thread), the per-table input buffer, batching
//!   (`min_batch_size_records`, `max_buffering_delay`), pause/resume, backpressure, watchers and stats.
//! - An input connector reads an [`input::InputEndpoint`] (a Kafka topic) into a table on a thread of its own:
//!   parse, check, hand over to the controller's buffer, pause the endpoint while the pipeline is paused or the
//!   buffer is full. [`input::registry::open`] is the one place that knows every input transport.
//! - [`output::OutputConnector`] sits between a view's deltas and a transport endpoint: it owns the queue, the
//!   encoding thread, the backpressure signal and the stats, so the encoder stays a pure function of schema and
//!   delta and the transport sees only bytes.
//!
//! - [`durable`]: a durable pipeline's input journal, checkpoint manifest and recovery (`at_least_once` and
//!   `exactly_once`).
//!
//! A pipeline must run without the REST server: this crate must not depend on HTTP (axum), the manager's database
//! (sqlx) or dbsp itself. It depends on the engine, `sluice-formats` and `sluice-transports`, never the other way
//! round.

pub mod controller;
pub mod durable;
mod endpoint_error;
pub mod input;
pub mod output;
mod rows;
mod util;

pub use controller::{
    CheckpointFailure, CheckpointStatus, ControllerConfig, DurabilityStats, OutputSpec, Pipeline,
    PipelineError, PipelineFailure, PipelineSpec, PipelineState, PipelineStats, StepError,
    WatchEvent,
};
pub use input::{InputConnectorStats, InputSpec};
