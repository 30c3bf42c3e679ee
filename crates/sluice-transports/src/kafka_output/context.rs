//! The producer context: librdkafka calls it on its polling thread with delivery reports, client errors and logs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedHeaders, DeliveryResult, Message, OwnedHeaders};
use rdkafka::producer::ProducerContext;

use super::stats::{Counters, MessageSize};
use crate::kafka_common::errors::{classify, Severity};
use crate::kafka_common::forward_log;

/// A message whose delivery failed transiently, waiting to be sent again by the endpoint.
pub(crate) struct Retry {
    pub key: Option<Vec<u8>>,
    /// `None`: a tombstone.
    pub payload: Option<Vec<u8>>,
    /// Every header the message had (static and its own), sent again as they were.
    pub headers: Option<OwnedHeaders>,
    pub size: MessageSize,
}

/// State shared by the endpoint and librdkafka's callbacks.
pub(crate) struct Shared {
    pub topic: String,
    pub counters: Counters,
    pub retries: Mutex<VecDeque<Retry>>,
    /// Exactly-once output: a message is never sent again out of its place, so a failed delivery fails the
    /// endpoint (the pipeline's restart then sends it exactly once).
    pub exactly_once: bool,
}

/// The context handed to librdkafka.
pub(crate) struct OutputContext {
    pub shared: Arc<Shared>,
    /// The last client error and when it came, to drop the second report of the same event (below).
    pub last_error: Mutex<Option<(String, Instant)>>,
}

/// rdkafka 0.39 hands each producer error event to [`ClientContext::error`] twice in a row (once while polling
/// the event, once more in `BaseProducer::poll`), so every error was counted and listed twice. A report equal to
/// the previous one within this window is that second call. librdkafka already folds repeats of one error into
/// "N identical error(s) suppressed", so nothing it reports separately is this close and this equal.
const DUPLICATE_REPORT_WINDOW: Duration = Duration::from_millis(100);

impl OutputContext {
    pub fn new(shared: Arc<Shared>) -> Self {
        OutputContext {
            shared,
            last_error: Mutex::new(None),
        }
    }

    /// Whether `message` repeats the previous report (and records it as the previous one otherwise).
    fn is_second_report(&self, message: &str) -> bool {
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((previous, at)) = last.as_ref() {
            if previous == message && at.elapsed() < DUPLICATE_REPORT_WINDOW {
                *last = None;
                return true;
            }
        }
        *last = Some((message.to_string(), Instant::now()));
        false
    }
}

impl ClientContext for OutputContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        forward_log(level, facility, message, &self.shared.topic);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let message = format!("{error}: {reason}");
        if self.is_second_report(&message) {
            return;
        }
        match classify(&error) {
            Severity::Permanent => {
                tracing::error!(topic = %self.shared.topic, error = %message, "Kafka producer failed.");
                self.shared.counters.fail(format!(
                    "Kafka producer for topic '{}' failed: {message}",
                    self.shared.topic
                ));
            }
            Severity::Transient | Severity::Purged => {
                tracing::warn!(topic = %self.shared.topic, error = %message, "Kafka broker trouble; messages are kept and retried.");
                self.shared.counters.trouble(message);
            }
        }
    }
}

impl ProducerContext for OutputContext {
    type DeliveryOpaque = Box<MessageSize>;

    fn delivery(&self, result: &DeliveryResult<'_>, size: Self::DeliveryOpaque) {
        let size = *size;
        let counters = &self.shared.counters;
        let (error, message) = match result {
            Ok(_) => {
                counters.transmitted(size);
                return;
            }
            Err((error, message)) => (error, message),
        };
        match classify(error) {
            Severity::Purged => counters.failed(size, None),
            Severity::Permanent => counters.failed(
                size,
                Some(format!(
                    "delivery to Kafka topic '{}' failed permanently: {error}",
                    self.shared.topic
                )),
            ),
            Severity::Transient if self.shared.exactly_once => counters.failed(
                size,
                Some(format!(
                    "delivery to Kafka topic '{}' failed: {error}; exactly-once output does not send a message \
                     again out of order: the pipeline fails, and its restart sends what is missing exactly once",
                    self.shared.topic
                )),
            ),
            Severity::Transient => {
                // Only reachable when the user set a finite message.timeout.ms: librdkafka gave up, Sluice does
                // not. The message goes back to the endpoint, which sends it again before anything new.
                counters.trouble(format!("delivery failed, will retry: {error}"));
                counters.requeued(size);
                let retry = Retry {
                    key: message.key().map(<[u8]>::to_vec),
                    payload: message.payload().map(<[u8]>::to_vec),
                    headers: message.headers().map(BorrowedHeaders::detach),
                    size,
                };
                let mut retries = self
                    .shared
                    .retries
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                retries.push_back(retry);
                counters.retry_queued(size, retries.len());
            }
        }
    }
}
