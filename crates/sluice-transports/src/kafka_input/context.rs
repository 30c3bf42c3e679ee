//! The consumer context: librdkafka calls it, on the thread that polls, with client errors, logs and the consumer
//! group's rebalances.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use super::stats::InputCounters;
use crate::kafka_common::errors::{classify, Severity};
use crate::kafka_common::forward_log;

/// The context handed to librdkafka.
pub(crate) struct InputContext {
    /// The topics read, comma-separated, for logs and messages.
    pub topics: String,
    pub counters: Arc<InputCounters>,
    /// Where each partition read so far (or given a start) continues: the endpoint's next offsets.
    pub positions: Arc<Mutex<HashMap<(String, i32), i64>>>,
}

impl InputContext {
    /// Records a consumer error; returns the message of a permanent one, which fails the endpoint.
    pub fn record(&self, error: &KafkaError) -> Option<String> {
        let permanent = matches!(error, KafkaError::MessageConsumptionFatal(_))
            || classify(error) == Severity::Permanent;
        if permanent {
            let message = format!("reading Kafka topic(s) '{}' failed: {error}", self.topics);
            tracing::error!(topics = %self.topics, error = %error, "Kafka consumer failed.");
            self.counters.fail(message.clone());
            Some(message)
        } else {
            tracing::warn!(topics = %self.topics, error = %error, "Kafka broker trouble; reading resumes when it recovers.");
            self.counters.trouble(error.to_string());
            None
        }
    }
}

impl InputContext {
    /// `partitions` with the known positions set, or `None` when none of them has one.
    fn positioned(&self, partitions: &TopicPartitionList) -> Option<TopicPartitionList> {
        let positions = self.positions.lock().unwrap_or_else(|p| p.into_inner());
        let mut known = false;
        let mut out = TopicPartitionList::new();
        for e in partitions.elements() {
            let offset = match positions.get(&(e.topic().to_string(), e.partition())) {
                Some(o) => {
                    known = true;
                    Offset::Offset(*o)
                }
                None => e.offset(),
            };
            out.add_partition_offset(e.topic(), e.partition(), offset)
                .ok()?;
        }
        known.then_some(out)
    }
}

impl ClientContext for InputContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        forward_log(level, facility, message, &self.topics);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(error, KafkaError::PartitionEOF(_)) {
            return;
        }
        tracing::debug!(topics = %self.topics, "Kafka client error: {error}: {reason}");
        self.record(&error);
    }
}

impl ConsumerContext for InputContext {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                // Partitions with a known position continue there: without committed offsets the group would
                // start them at `auto.offset.reset`, reading again (or skipping) what this endpoint already saw.
                if let Some(positioned) = self.positioned(partitions) {
                    if let Err(e) = consumer.assign(&positioned) {
                        self.counters.fail(format!(
                            "cannot start assigned partitions at their positions: {e}"
                        ));
                    }
                }
                // A paused endpoint stays paused across rebalances: newly assigned partitions start paused.
                if self.counters.paused() {
                    if let Err(e) = consumer.pause(partitions) {
                        self.counters
                            .fail(format!("cannot pause newly assigned partitions: {e}"));
                    }
                }
                let assigned = consumer
                    .assignment()
                    .map_or(partitions.count(), |a| a.count());
                self.counters.assigned(assigned);
            }
            Rebalance::Revoke(_) => {
                let assigned = consumer.assignment().map_or(0, |a| a.count());
                self.counters.assigned(assigned);
            }
            Rebalance::Error(e) => {
                self.record(e);
            }
        }
    }
}
