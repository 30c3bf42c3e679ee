//! Counters and health of one `kafka_input` endpoint.
//!
//! Transient trouble (no broker answering) makes the endpoint `stalled` until a message arrives again or a broker
//! answers a metadata request; a permanent error makes it `failed` for good. The state machine is
//! [`crate::health::HealthTracker`]'s; this file decides what counts as trouble and progress for a consumer.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::health::{HealthTracker, InputTransportStats};

/// A `kafka_input` endpoint's stats: the transport-neutral shape every input endpoint reports.
pub type KafkaInputStats = InputTransportStats;

/// Shared between the endpoint and the consumer context (both run on the thread that polls).
#[derive(Default)]
pub(crate) struct InputCounters {
    received_messages: AtomicU64,
    received_bytes: AtomicU64,
    assigned: AtomicUsize,
    paused: AtomicBool,
    joined: AtomicBool,
    health: HealthTracker,
}

impl InputCounters {
    /// A message of `bytes` payload bytes was handed out: progress, so whatever trouble there was is over.
    pub fn received(&self, bytes: usize) {
        self.received_messages.fetch_add(1, Relaxed);
        self.received_bytes.fetch_add(bytes as u64, Relaxed);
        self.recovered();
    }

    /// A broker answered again.
    pub fn recovered(&self) {
        self.health.recovered();
    }

    pub fn stalled(&self) -> bool {
        self.health.in_trouble()
    }

    /// A transient problem: the endpoint is stalled until it recovers.
    pub fn trouble(&self, reason: String) {
        self.health.trouble(reason);
    }

    /// The latest transient problem, for error messages at startup.
    pub fn last_trouble(&self) -> Option<String> {
        self.health.last_trouble()
    }

    /// A permanent error; the first one is kept as the reason the endpoint failed.
    pub fn fail(&self, error: String) {
        self.health.fail(error);
    }

    pub fn failure(&self) -> Option<String> {
        self.health.failure()
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Relaxed);
    }

    pub fn paused(&self) -> bool {
        self.paused.load(Relaxed)
    }

    /// The consumer group assigned `partitions` partitions (possibly none) to this endpoint.
    pub fn assigned(&self, partitions: usize) {
        self.assigned.store(partitions, Relaxed);
        self.joined.store(true, Relaxed);
    }

    pub fn joined(&self) -> bool {
        self.joined.load(Relaxed)
    }

    pub fn snapshot(&self) -> KafkaInputStats {
        KafkaInputStats {
            received_messages: self.received_messages.load(Relaxed),
            received_bytes: self.received_bytes.load(Relaxed),
            assigned_partitions: self.assigned.load(Relaxed),
            paused: self.paused(),
            ..InputTransportStats::new("kafka_input", self.health.snapshot())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::EndpointHealth;

    #[test]
    fn trouble_is_a_stall_until_a_message_arrives() {
        let c = InputCounters::default();
        c.trouble("all brokers down".into());
        let s = c.snapshot();
        assert!(
            matches!(s.health, EndpointHealth::Stalled { ref reason, .. } if reason == "all brokers down")
        );
        assert_eq!(s.last_error.as_deref(), Some("all brokers down"));
        c.received(7);
        let s = c.snapshot();
        assert_eq!(s.health, EndpointHealth::Running);
        assert_eq!((s.received_messages, s.received_bytes), (1, 7));
        assert_eq!(s.num_transport_errors, 1);
        // The error stays in the history after recovery.
        assert_eq!(s.last_error.as_deref(), Some("all brokers down"));
    }

    #[test]
    fn first_permanent_error_wins_over_trouble() {
        let c = InputCounters::default();
        c.trouble("transport failure".into());
        c.fail("unknown topic".into());
        c.fail("later".into());
        let s = c.snapshot();
        assert!(
            matches!(s.health, EndpointHealth::Failed { ref error, .. } if error == "unknown topic")
        );
        assert_eq!(s.last_error.as_deref(), Some("later"));
        assert_eq!(c.failure().as_deref(), Some("unknown topic"));
    }

    #[test]
    fn stats_serialize_with_health_state() {
        let c = InputCounters::default();
        c.assigned(3);
        c.set_paused(true);
        let v = serde_json::to_value(c.snapshot()).unwrap();
        assert_eq!(v["assigned_partitions"], 3);
        assert_eq!(v["paused"], true);
        assert_eq!(v["health"]["state"], "running");
        assert_eq!(v["last_error"], serde_json::Value::Null);
    }
}
