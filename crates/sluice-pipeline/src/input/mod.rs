//! Input connectors: a source (a Kafka topic) → parser → a table of the pipeline, each on a thread of its own.
//!
//! The thread polls the consumer, parses each message with the connector's format and hands the records to the
//! controller's input buffer. Each message is all or nothing, like an HTTP ingress request: if any record of it
//! is malformed or does not fit the table, none of its records is applied, and the error (with topic, partition
//! and offset) is counted and listed for the table and for the connector.
//!
//! # Backpressure and pause
//! While the input buffer is full (an output connector stalled, or the engine is behind) the thread keeps the
//! records it holds, pauses the consumer and offers them again; it never drops them. Pausing the pipeline pauses
//! the consumer too. The consumer keeps being polled while paused, as the group protocol requires.
//!
//! # Failure and shutdown
//! A permanent transport error (topic deleted, authorization revoked) fails the whole pipeline with a message that
//! names the connector: a pipeline that silently stops reading one of its inputs would be worse. At shutdown the
//! thread offers what it holds one last time, then stops; offsets are not committed (see docs/kafka-input.md).
//!
//! One file per role: `spec` (what a connector starts with, its errors and stats), `endpoint` (the transport seam,
//! [`InputEndpoint`]), `registry` (the one place that knows every input transport), `kafka` (the `kafka_input`
//! endpoint), `sink` (the pipeline as a connector sees it), `connector` (the connector's thread).

mod connector;
pub mod endpoint;
mod kafka;
pub mod registry;
pub(crate) mod sink;
mod spec;

pub(crate) use connector::InputConnector;
pub use endpoint::{EndpointError, InputEndpoint, InputMessage, Position, SourceOffset};
pub use spec::{InputConnectorStats, InputError, InputSpec};
