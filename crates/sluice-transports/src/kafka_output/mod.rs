//! The `kafka_output` transport: a librdkafka producer with acknowledged-delivery accounting.
//!
//! - `client_config`: connector config → librdkafka config, Sluice's defaults, network-free validation.
//! - `context`: the producer context that receives delivery reports and client errors.
//! - `stats`: counters and the endpoint's health (running, stalled since when and why, failed).
//! - `endpoint`: [`KafkaOutputEndpoint`], what the pipeline calls.

mod client_config;
mod context;
mod endpoint;
mod stats;

pub use crate::kafka_common::KafkaConnectError;
pub use client_config::{validate_config, HEADER_OVERHEAD_BYTES, MESSAGE_OVERHEAD_BYTES};
pub use endpoint::{effective_options, KafkaOutputEndpoint, KafkaOutputError};
pub use stats::{EndpointHealth, KafkaOutputStats, TransportErrorRecord};
