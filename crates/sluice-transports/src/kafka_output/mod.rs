//! The `kafka_output` transport: a librdkafka producer with acknowledged-delivery accounting.
//!
//! - `client_config`: connector config → librdkafka config, Sluice's defaults, network-free validation.
//! - `context`: the producer context that receives delivery reports and client errors.
//! - `stats`: counters and the endpoint's health (running, stalled since when and why, failed).
//! - `endpoint`: [`KafkaOutputEndpoint`], what the pipeline calls.
//! - `create_topic`: creating a missing topic at start (`create_topic` in the config), and waiting until it is usable.
//! - `exactly_once`: how exactly-once output finds, after a restart, what an earlier run wrote (transactions with
//!   a committed marker, or progress headers), the connector's file in the pipeline's state, the partitioner.
//! - `exactly_once_endpoint`: opening an exactly-once endpoint and committing its transactions.

mod client_config;
mod context;
mod create_topic;
mod endpoint;
mod exactly_once;
mod exactly_once_endpoint;
mod stats;

pub use crate::kafka_common::KafkaConnectError;
pub use client_config::{validate_config, HEADER_OVERHEAD_BYTES, MESSAGE_OVERHEAD_BYTES};
pub use endpoint::{effective_options, KafkaOutputEndpoint, KafkaOutputError, OutgoingMessage};
pub use exactly_once::{
    murmur2, partition_of, ExactlyOnceSetup, ExactlyOnceStats, Mode as ExactlyOnceModeInUse, Place,
    PROGRESS_HEADER,
};
pub use stats::{EndpointHealth, KafkaOutputStats, TransportErrorRecord};
