//! The `kafka_input` transport: a librdkafka consumer that reads every partition of a list of topics.
//!
//! - `client_config`: connector config → librdkafka consumer config, Sluice's defaults, network-free validation.
//! - `context`: the consumer context: client errors, logs, and the consumer group's partition assignments.
//! - `stats`: counters and the endpoint's health (running, stalled since when and why, failed).
//! - `close`: the consumer's close on drop, within a bound.
//! - `endpoint`: [`KafkaInputEndpoint`], what the pipeline calls.
//!
//! The endpoint joins a consumer group (`subscribe`): the broker assigns the partitions, and a second connector
//! with the same `group.id` shares them (Apache Kafka, and tansu 0.6 as well, the second broker the tests use). Nothing
//! is committed automatically: a durable pipeline keeps its positions in its journal, starts the endpoint there
//! (`start_from`) and commits a checkpoint's positions for Kafka's tools (`commit_offsets`); otherwise reading
//! begins where `auto.offset.reset` says.

mod client_config;
mod close;
mod context;
mod endpoint;
mod stats;

pub use crate::kafka_common::{EndpointHealth, KafkaConnectError, TransportErrorRecord};
pub use client_config::{effective_input_options, validate_input_config};
pub use endpoint::{InputMessage, KafkaInputEndpoint, KafkaInputError};
pub use stats::KafkaInputStats;
