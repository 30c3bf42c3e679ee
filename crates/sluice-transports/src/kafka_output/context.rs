//! The producer context: librdkafka calls it on its polling thread with delivery reports, client errors and logs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::ProducerContext;

use super::stats::{Counters, MessageSize};
use crate::kafka_common::errors::{classify, Severity};
use crate::kafka_common::forward_log;

/// A message whose delivery failed transiently, waiting to be sent again by the endpoint.
pub(crate) struct Retry {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub size: MessageSize,
}

/// State shared by the endpoint and librdkafka's callbacks.
pub(crate) struct Shared {
    pub topic: String,
    pub counters: Counters,
    pub retries: Mutex<VecDeque<Retry>>,
}

/// The context handed to librdkafka.
pub(crate) struct OutputContext {
    pub shared: Arc<Shared>,
}

impl ClientContext for OutputContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        forward_log(level, facility, message, &self.shared.topic);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let message = format!("{error}: {reason}");
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
            Severity::Transient => {
                // Only reachable when the user set a finite message.timeout.ms: librdkafka gave up, Sluice does
                // not. The message goes back to the endpoint, which sends it again before anything new.
                counters.trouble(format!("delivery failed, will retry: {error}"));
                counters.requeued(size);
                let retry = Retry {
                    key: message.key().map(<[u8]>::to_vec),
                    payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
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
