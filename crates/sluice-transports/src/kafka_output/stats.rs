//! Delivery counters and health of one `kafka_output` endpoint.
//!
//! Counters are split by where a message is: *accepted* by librdkafka, *transmitted* (acknowledged by the broker),
//! *failed* (permanently, or purged at shutdown) and *requeued* (a transient delivery failure the endpoint sends
//! again). In flight = accepted − transmitted − failed − requeued, in messages, records and bytes alike. Nothing is
//! counted as transmitted before the broker acknowledged it.
//!
//! Health is [`HealthTracker`]'s state machine: transient trouble stalls the endpoint (while messages wait) until
//! the next acknowledgement, a permanent error fails it. A local send queue full for a second also shows as stalled.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use crate::health::{epoch_ms, HealthTracker};
pub use crate::health::{EndpointHealth, OutputTransportStats, TransportErrorRecord};

/// A message's size, carried through librdkafka as the delivery opaque.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MessageSize {
    pub records: u64,
    pub bytes: u64,
}

#[derive(Default)]
struct Triple {
    messages: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
}

impl Triple {
    fn add(&self, size: MessageSize) {
        self.messages.fetch_add(1, Relaxed);
        self.records.fetch_add(size.records, Relaxed);
        self.bytes.fetch_add(size.bytes, Relaxed);
    }
    fn get(&self) -> (u64, u64, u64) {
        (
            self.messages.load(Relaxed),
            self.records.load(Relaxed),
            self.bytes.load(Relaxed),
        )
    }
}

/// A `kafka_output` endpoint's stats: the transport-neutral shape every output endpoint reports.
pub type KafkaOutputStats = OutputTransportStats;

/// Shared between the endpoint (sending thread) and the producer context (librdkafka's polling thread).
#[derive(Default)]
pub(crate) struct Counters {
    accepted: Triple,
    transmitted: Triple,
    failed: Triple,
    requeued: Triple,
    queued: AtomicU64,
    queued_bytes: AtomicU64,
    health: HealthTracker,
    /// When the sender started waiting for room in a full local queue.
    queue_full_since: Mutex<Option<(Instant, SystemTime)>>,
    // Mirrors `queue_full_since` (set under its lock), so that sending takes no lock unless the queue is full.
    queue_waiting: AtomicBool,
}

impl Counters {
    pub fn accepted(&self, size: MessageSize) {
        self.accepted.add(size);
    }

    pub fn transmitted(&self, size: MessageSize) {
        self.transmitted.add(size);
        // Progress: whatever trouble there was is over.
        self.health.recovered();
    }

    pub fn requeued(&self, size: MessageSize) {
        self.requeued.add(size);
    }

    /// A message joined the retry queue, which now holds `len` messages (called under the queue's lock).
    pub fn retry_queued(&self, size: MessageSize, len: usize) {
        self.queued_bytes.fetch_add(size.bytes, Relaxed);
        self.queued.store(len as u64, Relaxed);
    }

    /// A message left the retry queue to be sent again; `len` are left (called under the queue's lock).
    pub fn retry_taken(&self, size: MessageSize, len: usize) {
        self.queued_bytes.fetch_sub(size.bytes, Relaxed);
        self.queued.store(len as u64, Relaxed);
    }

    /// A message taken from the retry queue that cannot be sent again because the endpoint failed. Counted as
    /// one more attempt that failed, so that in flight = accepted − transmitted − failed − requeued stays exact.
    pub fn retry_abandoned(&self, size: MessageSize) {
        self.accepted.add(size);
        self.failed.add(size);
    }

    /// Messages waiting to be sent again (kept in step with the retry queue under its lock).
    pub fn queued(&self) -> u64 {
        self.queued.load(Relaxed)
    }

    /// A message that will never be delivered: counted as failed, and the endpoint fails unless it was a purge.
    pub fn failed(&self, size: MessageSize, error: Option<String>) {
        self.failed.add(size);
        if let Some(error) = error {
            self.fail(error);
        }
    }

    /// Records the first permanent error; later ones only go to the error list.
    pub fn fail(&self, error: String) {
        self.health.fail(error);
    }

    pub fn failure(&self) -> Option<String> {
        self.health.failure()
    }

    /// A transient problem: remembered as the stall reason until the next acknowledgement.
    pub fn trouble(&self, reason: String) {
        self.health.trouble(reason);
    }

    /// The latest transient problem, for error messages at startup.
    pub fn last_trouble(&self) -> Option<String> {
        self.health.last_trouble()
    }

    pub fn queue_full(&self, waiting: bool) {
        if !waiting && !self.queue_waiting.load(Relaxed) {
            return;
        }
        let mut since = self.queue_full_since();
        self.queue_waiting.store(waiting, Relaxed);
        if !waiting {
            *since = None;
        } else if since.is_none() {
            *since = Some((Instant::now(), SystemTime::now()));
        }
    }

    fn queue_full_since(&self) -> MutexGuard<'_, Option<(Instant, SystemTime)>> {
        self.queue_full_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub fn in_flight(&self) -> u64 {
        let accepted = self.accepted.messages.load(Relaxed);
        let done = self.transmitted.messages.load(Relaxed)
            + self.failed.messages.load(Relaxed)
            + self.requeued.messages.load(Relaxed);
        accepted.saturating_sub(done)
    }

    pub fn snapshot(&self) -> KafkaOutputStats {
        let (am, ar, ab) = self.accepted.get();
        let (tm, tr, tb) = self.transmitted.get();
        let (fm, fr, fb) = self.failed.get();
        let (rm, rr, rb) = self.requeued.get();
        let queued = self.queued.load(Relaxed);
        let in_flight_messages = am.saturating_sub(tm + fm + rm);
        let h = self.health.snapshot();
        let waiting = in_flight_messages + queued > 0;
        let queue_full_since = *self.queue_full_since();
        let health = match h.health {
            failed @ EndpointHealth::Failed { .. } => failed,
            // Trouble while nothing waits for delivery stalls nothing.
            stalled @ EndpointHealth::Stalled { .. } if waiting => stalled,
            _ => match queue_full_since.filter(|(s, _)| s.elapsed().as_secs() >= 1) {
                Some((_, since)) => EndpointHealth::Stalled {
                    reason: format!(
                        "the local send queue is full ({in_flight_messages} messages awaiting acknowledgement)"
                    ),
                    since_ms: epoch_ms(since),
                },
                None => EndpointHealth::Running,
            },
        };
        KafkaOutputStats {
            transmitted_messages: tm,
            transmitted_records: tr,
            transmitted_bytes: tb,
            in_flight_messages,
            in_flight_records: ar.saturating_sub(tr + fr + rr),
            in_flight_bytes: ab.saturating_sub(tb + fb + rb),
            queued_messages: queued,
            queued_bytes: self.queued_bytes.load(Relaxed),
            failed_messages: fm,
            failed_records: fr,
            retried_messages: rm,
            num_transport_errors: h.num_errors,
            transport_errors: h.errors,
            health,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: MessageSize = MessageSize {
        records: 2,
        bytes: 10,
    };

    #[test]
    fn only_acknowledged_messages_count_as_transmitted() {
        let c = Counters::default();
        c.accepted(ONE);
        c.accepted(ONE);
        c.transmitted(ONE);
        let s = c.snapshot();
        assert_eq!(
            (
                s.transmitted_messages,
                s.transmitted_records,
                s.transmitted_bytes
            ),
            (1, 2, 10)
        );
        assert_eq!(
            (s.in_flight_messages, s.in_flight_records, s.in_flight_bytes),
            (1, 2, 10)
        );
    }

    #[test]
    fn bytes_move_from_in_flight_to_the_retry_queue_and_back_never_to_transmitted() {
        let c = Counters::default();
        let big = MessageSize {
            records: 1,
            bytes: 300,
        };
        c.accepted(ONE);
        c.accepted(big);
        // The big message's delivery failed transiently: it leaves the in-flight figures for the retry queue.
        c.requeued(big);
        c.retry_queued(big, 1);
        let s = c.snapshot();
        assert_eq!((s.in_flight_messages, s.in_flight_bytes), (1, 10));
        assert_eq!((s.queued_messages, s.queued_bytes), (1, 300));
        assert_eq!(s.transmitted_bytes, 0);
        // Sent again: back in flight, then acknowledged together with the other one.
        c.retry_taken(big, 0);
        c.accepted(big);
        let s = c.snapshot();
        assert_eq!((s.in_flight_messages, s.in_flight_bytes), (2, 310));
        assert_eq!((s.queued_messages, s.queued_bytes), (0, 0));
        c.transmitted(ONE);
        c.transmitted(big);
        let s = c.snapshot();
        assert_eq!((s.transmitted_messages, s.transmitted_bytes), (2, 310));
        assert_eq!((s.in_flight_messages, s.in_flight_bytes), (0, 0));
    }

    #[test]
    fn trouble_with_messages_waiting_is_a_stall_until_the_next_ack() {
        let c = Counters::default();
        c.accepted(ONE);
        c.trouble("all brokers down".into());
        assert!(
            matches!(c.snapshot().health, EndpointHealth::Stalled { ref reason, .. } if reason == "all brokers down")
        );
        c.transmitted(ONE);
        assert_eq!(c.snapshot().health, EndpointHealth::Running);
        assert_eq!(c.snapshot().num_transport_errors, 1);
    }

    #[test]
    fn trouble_while_idle_is_not_a_stall() {
        let c = Counters::default();
        c.trouble("idle connection closed".into());
        assert_eq!(c.snapshot().health, EndpointHealth::Running);
    }

    #[test]
    fn first_permanent_error_wins_and_error_list_is_bounded() {
        let c = Counters::default();
        c.fail("first".into());
        for i in 0..150 {
            c.fail(format!("later {i}"));
        }
        let s = c.snapshot();
        assert!(matches!(s.health, EndpointHealth::Failed { ref error, .. } if error == "first"));
        assert_eq!(s.transport_errors.len(), 100);
        assert_eq!(s.num_transport_errors, 151);
    }
}
