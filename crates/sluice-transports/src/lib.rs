//! Transport endpoints: where encoded bytes go, and where bytes to decode come from.
//!
//! A transport sees bytes only: a payload, an optional key and static headers. It never sees a record, a schema or
//! SQL; `sluice-formats` turns a view's changes into bytes and the pipeline hands those bytes here, and decodes the
//! bytes an input endpoint reads.
//!
//! - [`kafka_output`]: the Kafka producer endpoint ([`kafka_output::KafkaOutputEndpoint`]) and the network-free
//!   validation of its librdkafka options ([`kafka_output::validate_config`]).
//! - [`kafka_input`]: the Kafka consumer endpoint ([`kafka_input::KafkaInputEndpoint`]) and the network-free
//!   validation of its librdkafka options ([`kafka_input::validate_input_config`]).
//! - [`health`]: what every endpoint reports: health (one state machine, [`health::HealthTracker`]), recent errors,
//!   and the transport-neutral counters of output and input endpoints.
//! - [`kafka_tools`]: topic administration and read-back consumers for the CLI, the demo and the tests.
//!
//! Delivery contract of every output endpoint: a message counts as transmitted only once the destination
//! acknowledged it; a full local queue blocks the sender (backpressure) instead of dropping; transient trouble keeps
//! messages and shows the endpoint as stalled; a permanent error fails the endpoint with a message naming
//! destination and cause. Input endpoints follow the same rules for trouble: transient shows as stalled and reading
//! continues when the source recovers, permanent fails the endpoint naming source and cause.
//!
//! This crate must not depend on the engine, the SQL front end or the formats (its tests may use the formats).

pub mod health;
mod kafka_common;
pub mod kafka_input;
pub mod kafka_output;
pub mod kafka_tools;
#[cfg(feature = "test-support")]
pub mod testing;
