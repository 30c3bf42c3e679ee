//! Counters and health of one `kafka_input` endpoint.
//!
//! Transient trouble (no broker answering) makes the endpoint `stalled` until a message arrives again or a broker
//! answers a metadata request; a permanent error makes it `failed` for good.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use crate::kafka_common::{epoch_ms, EndpointHealth, RecentErrors, TransportErrorRecord};

/// A snapshot of an endpoint's counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KafkaInputStats {
    /// Messages handed to the caller of `poll`.
    pub received_messages: u64,
    /// Payload bytes of those messages.
    pub received_bytes: u64,
    /// Partitions the consumer group currently assigns to this endpoint.
    pub assigned_partitions: usize,
    /// Whether reading is paused.
    pub paused: bool,
    /// Transport errors seen (client errors and consume errors).
    pub num_transport_errors: u64,
    /// The most recent transport error, if any.
    pub last_error: Option<String>,
    /// The most recent transport errors, oldest first, at most 100.
    pub transport_errors: Vec<TransportErrorRecord>,
    /// Running, stalled or failed.
    pub health: EndpointHealth,
}

#[derive(Default)]
struct Health {
    failed: Option<(String, SystemTime)>,
    trouble: Option<(String, SystemTime)>,
    errors: RecentErrors,
}

/// Shared between the endpoint and the consumer context (both run on the thread that polls).
#[derive(Default)]
pub(crate) struct InputCounters {
    received_messages: AtomicU64,
    received_bytes: AtomicU64,
    transport_errors: AtomicU64,
    assigned: AtomicUsize,
    paused: AtomicBool,
    joined: AtomicBool,
    health: Mutex<Health>,
    // Mirrors of `health`, set under its lock, so that receiving a message takes no lock unless something is wrong.
    has_failed: AtomicBool,
    has_trouble: AtomicBool,
}

impl InputCounters {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A message of `bytes` payload bytes was handed out: progress, so whatever trouble there was is over.
    pub fn received(&self, bytes: usize) {
        self.received_messages.fetch_add(1, Relaxed);
        self.received_bytes.fetch_add(bytes as u64, Relaxed);
        self.recovered();
    }

    /// A broker answered again.
    pub fn recovered(&self) {
        if self.has_trouble.load(Relaxed) {
            let mut h = self.health();
            h.trouble = None;
            self.has_trouble.store(false, Relaxed);
        }
    }

    pub fn stalled(&self) -> bool {
        self.has_trouble.load(Relaxed)
    }

    /// A transient problem: the endpoint is stalled until it recovers.
    pub fn trouble(&self, reason: String) {
        self.transport_errors.fetch_add(1, Relaxed);
        let mut h = self.health();
        h.errors.push(reason.clone());
        match &mut h.trouble {
            Some((r, _)) => *r = reason,
            None => h.trouble = Some((reason, SystemTime::now())),
        }
        self.has_trouble.store(true, Relaxed);
    }

    /// The latest transient problem, for error messages at startup.
    pub fn last_trouble(&self) -> Option<String> {
        self.health().trouble.as_ref().map(|(r, _)| r.clone())
    }

    /// A permanent error; the first one is kept as the reason the endpoint failed.
    pub fn fail(&self, error: String) {
        self.transport_errors.fetch_add(1, Relaxed);
        let mut h = self.health();
        h.errors.push(error.clone());
        h.failed.get_or_insert((error, SystemTime::now()));
        self.has_failed.store(true, Relaxed);
    }

    pub fn failure(&self) -> Option<String> {
        if !self.has_failed.load(Relaxed) {
            return None;
        }
        self.health().failed.as_ref().map(|(e, _)| e.clone())
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
        let h = self.health();
        let health = if let Some((error, since)) = &h.failed {
            EndpointHealth::Failed {
                error: error.clone(),
                since_ms: epoch_ms(*since),
            }
        } else if let Some((reason, since)) = &h.trouble {
            EndpointHealth::Stalled {
                reason: reason.clone(),
                since_ms: epoch_ms(*since),
            }
        } else {
            EndpointHealth::Running
        };
        KafkaInputStats {
            received_messages: self.received_messages.load(Relaxed),
            received_bytes: self.received_bytes.load(Relaxed),
            assigned_partitions: self.assigned.load(Relaxed),
            paused: self.paused(),
            num_transport_errors: self.transport_errors.load(Relaxed),
            last_error: h.errors.last().map(|e| e.message.clone()),
            transport_errors: h.errors.to_vec(),
            health,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
