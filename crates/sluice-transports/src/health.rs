//! What every endpoint reports, whatever its transport: its health (running, stalled since, failed since), its most
//! recent errors with their times, and, for output endpoints, the delivery counters of [`OutputTransportStats`].
//!
//! One clock ([`epoch_ms`] of `SystemTime`) stamps every error and state change, so that the stats of different
//! endpoints can be compared.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Milliseconds since the Unix epoch.
pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One transport error, for the stats' recent-errors list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransportErrorRecord {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What librdkafka or the endpoint said.
    pub message: String,
}

/// How many recent transport errors an endpoint remembers.
const MAX_REMEMBERED_ERRORS: usize = 100;

/// The most recent transport errors, oldest first, at most [`MAX_REMEMBERED_ERRORS`].
#[derive(Default)]
pub struct RecentErrors(VecDeque<TransportErrorRecord>);

impl RecentErrors {
    /// Remembers `message` with the current time, forgetting the oldest beyond the limit.
    pub fn push(&mut self, message: String) {
        if self.0.len() == MAX_REMEMBERED_ERRORS {
            self.0.pop_front();
        }
        self.0.push_back(TransportErrorRecord {
            at_ms: epoch_ms(SystemTime::now()),
            message,
        });
    }

    /// The remembered errors, oldest first.
    pub fn to_vec(&self) -> Vec<TransportErrorRecord> {
        self.0.iter().cloned().collect()
    }

    /// The most recent error.
    pub fn last(&self) -> Option<&TransportErrorRecord> {
        self.0.back()
    }
}

/// A Kafka endpoint's condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EndpointHealth {
    /// Moving data (or idle).
    Running,
    /// The broker is not answering: a producer's messages are kept unacknowledged, a consumer receives nothing.
    /// Both continue when the broker recovers.
    Stalled {
        /// The latest transport error, or why the queue is not draining.
        reason: String,
        /// When progress stopped, in milliseconds since the Unix epoch.
        since_ms: u64,
    },
    /// A permanent error: the endpoint moves no more data.
    Failed {
        /// The first permanent error, naming topic and cause.
        error: String,
        /// When it happened, in milliseconds since the Unix epoch.
        since_ms: u64,
    },
}

/// A snapshot of an output endpoint's counters and health, the same shape for every transport. Messages are
/// *transmitted* once the destination acknowledged them (a broker's ack, a file's fsync), never before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    pub transport_errors: Vec<TransportErrorRecord>,
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
