//! The seam between an output connector and its transport: [`OutputEndpoint`] and the [`Message`] it takes.
//!
//! An endpoint takes encoded messages (bytes, an optional key and headers) and reports what the destination
//! acknowledged. Adding a transport is one file implementing the trait (with its config type in `sluice-types`)
//! and one line in `registry.rs`, the one place that knows every output transport.

use std::time::Duration;

use sluice_formats::MessageHeader;
use sluice_transports::health::OutputTransportStats;
use sluice_transports::kafka_output::ExactlyOnceStats;
use sluice_types::{DeletePolicy, FormatConfig, JsonUpdateFormat, MessageOptions};

pub use crate::endpoint_error::EndpointError;

/// One message for the destination.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    /// The message key, if the format gives one.
    pub key: Option<&'a [u8]>,
    /// The payload; `None` for a tombstone (a key whose row is gone).
    pub value: Option<&'a [u8]>,
    /// Per-message headers from the format (`header_fields`, `system_headers`).
    pub headers: &'a [MessageHeader],
    /// How many records (delta entries) it carries, for the counters.
    pub records: usize,
}

/// Where an output connector's messages go.
///
/// An endpoint opened for exactly-once delivery (see [`registry::open`](super::registry::open)) also skips, during
/// a restart's replay, every message that an earlier run already delivered: `send` returns `Ok` for those without
/// sending them.
///
/// The contract every implementation keeps: a message counts as transmitted only once the destination acknowledged
/// it (made it durable); `send` blocks while the destination is full instead of dropping; an error from `send` is
/// permanent, and the endpoint takes no more messages after it.
pub trait OutputEndpoint: Send + Sync {
    /// The largest key + value a single message may have.
    fn max_payload_bytes(&self) -> usize;
    /// Whether messages keep their keys, headers and tombstones. An endpoint that writes values only (a file)
    /// says no, and formats that need them are refused at start rather than silently cut down.
    fn carries_keys(&self) -> bool {
        true
    }
    /// Hands one message to the transport.
    fn send(&self, message: Message<'_>) -> Result<(), EndpointError>;
    /// Called once every message of a step has been sent: an endpoint that acknowledges in batches (a file's fsync)
    /// does it here, so that a step's messages count as transmitted without waiting for the next step.
    fn batch_sent(&self) -> Result<(), EndpointError> {
        Ok(())
    }
    /// Gives up for good (a shutdown ran out of time): a `send` blocked waiting for room returns an error promptly,
    /// and every later call fails. Endpoints whose `send` never blocks for long need nothing.
    fn abort(&self, reason: &str) {
        let _ = reason;
    }
    /// Waits, at most `timeout`, until every message sent is acknowledged.
    fn flush(&self, timeout: Duration) -> Result<(), EndpointError>;
    /// Delivery counters and health.
    fn stats(&self) -> OutputTransportStats;
    /// The messages that follow belong to pipeline step `step`. Exactly-once endpoints number each step's messages
    /// from here, to know them again in a replay.
    fn begin_step(&self, step: u64) {
        let _ = step;
    }
    /// Checkpoint `step`'s barrier, once every message up to it is acknowledged: an exactly-once endpoint commits
    /// what it holds open (a Kafka transaction) before the checkpoint is committed.
    fn commit_step(&self, step: u64) -> Result<(), EndpointError> {
        let _ = step;
        Ok(())
    }
    /// Exactly-once delivery's state; `None` for an endpoint that delivers at least once.
    fn exactly_once_stats(&self) -> Option<ExactlyOnceStats> {
        None
    }
}

/// The field of `format` that needs message keys, headers or tombstones, if any.
pub(crate) fn needs_keys(format: &FormatConfig) -> Option<&'static str> {
    let (options, upsert, op_header): (MessageOptions<'_>, bool, bool) = match format {
        FormatConfig::Json(json) => (
            json.message_options(),
            json.update_format == JsonUpdateFormat::Upsert,
            json.update_format == JsonUpdateFormat::Raw
                && json.delete_policy() == DeletePolicy::OpHeader,
        ),
        FormatConfig::Csv(csv) => (
            csv.message_options(),
            false,
            !csv.weight_column && csv.delete_policy() == DeletePolicy::OpHeader,
        ),
        // Avro messages are keyed (`confluent_jdbc`) or say insert or delete in a header (`raw`).
        FormatConfig::Avro(_) => return Some("format.name"),
    };
    if upsert {
        Some("format.config.update_format")
    } else if op_header {
        Some("format.config.on_delete")
    } else if options.key_fields.is_some() {
        Some("format.config.key_fields")
    } else if !options.header_fields.is_empty() {
        Some("format.config.header_fields")
    } else if options.system_headers {
        Some("format.config.system_headers")
    } else {
        None
    }
}
