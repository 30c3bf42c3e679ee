//! The transport-neutral snapshots the pipeline shows for its connectors: [`OutputTransportStats`] for output
//! endpoints, [`InputTransportStats`] for input endpoints. Every transport fills the same shape, so that the stats
//! API, the metrics and the tests read any connector the same way.

use serde::Serialize;

use super::errors::ErrorRecord;
use super::tracker::{EndpointHealth, HealthSnapshot};

/// A snapshot of an output endpoint's counters and health, the same shape for every transport. Messages are
/// *transmitted* once the destination acknowledged them (a broker's ack, a file's fsync), never before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutputTransportStats {
    /// Messages acknowledged by the broker.
    pub transmitted_messages: u64,
    /// Records carried by acknowledged messages.
    pub transmitted_records: u64,
    /// Key + value bytes of acknowledged messages.
    pub transmitted_bytes: u64,
    /// Messages handed to the transport and not yet acknowledged or failed.
    pub in_flight_messages: u64,
    /// Records in those messages.
    pub in_flight_records: u64,
    /// Key + value bytes of those messages.
    pub in_flight_bytes: u64,
    /// Messages waiting to be (re)sent by the endpoint itself: transient delivery failures being retried.
    pub queued_messages: u64,
    /// Key + value bytes of those messages.
    pub queued_bytes: u64,
    /// Messages that failed permanently or were purged at shutdown; never counted as transmitted.
    pub failed_messages: u64,
    /// Records in those messages.
    pub failed_records: u64,
    /// Messages sent again after a transient delivery failure.
    pub retried_messages: u64,
    /// Transport errors seen (client errors and failed deliveries).
    pub num_transport_errors: u64,
    /// The most recent transport errors, oldest first, at most 100.
    pub transport_errors: Vec<ErrorRecord>,
    /// Running, stalled or failed.
    pub health: EndpointHealth,
}

impl OutputTransportStats {
    /// Every counter zero, no error, running: what an endpoint reports before its first message.
    pub fn idle() -> Self {
        OutputTransportStats {
            transmitted_messages: 0,
            transmitted_records: 0,
            transmitted_bytes: 0,
            in_flight_messages: 0,
            in_flight_records: 0,
            in_flight_bytes: 0,
            queued_messages: 0,
            queued_bytes: 0,
            failed_messages: 0,
            failed_records: 0,
            retried_messages: 0,
            num_transport_errors: 0,
            transport_errors: Vec::new(),
            health: EndpointHealth::Running,
        }
    }
}

/// A snapshot of an input endpoint's counters and health, the same shape for every transport.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InputTransportStats {
    /// The transport: `kafka_input`, ...
    pub transport_name: String,
    /// Messages handed to the reader.
    pub received_messages: u64,
    /// Payload bytes of those messages.
    pub received_bytes: u64,
    /// Sources the endpoint reads now: the partitions a Kafka consumer group assigned to it.
    pub assigned_partitions: usize,
    /// Whether reading is paused.
    pub paused: bool,
    /// Transport errors seen (client errors and read errors).
    pub num_transport_errors: u64,
    /// The most recent transport error, if any.
    pub last_error: Option<String>,
    /// The most recent transport errors, oldest first, at most 100.
    pub transport_errors: Vec<ErrorRecord>,
    /// Running, stalled or failed.
    pub health: EndpointHealth,
}

impl InputTransportStats {
    /// No message yet, not paused, with the errors and health of `health`.
    pub fn new(transport_name: &str, health: HealthSnapshot) -> Self {
        InputTransportStats {
            transport_name: transport_name.to_string(),
            received_messages: 0,
            received_bytes: 0,
            assigned_partitions: 0,
            paused: false,
            num_transport_errors: health.num_errors,
            last_error: health.errors.last().map(|e| e.message.clone()),
            transport_errors: health.errors,
            health: health.health,
        }
    }
}
