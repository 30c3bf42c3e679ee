//! Small Kafka utilities for the CLI, the demo and the tests: wait for a broker, create and delete topics, write
//! messages to a topic, read a topic back from the beginning.
//!
//! These are blocking helpers around librdkafka's admin client and a group-less consumer (partitions assigned
//! explicitly, no offsets committed), so they work against any Kafka-compatible broker without consumer-group
//! support.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// The read-back consumer's context: end-of-partition is how it knows it is done, not an error to log.
struct ReadBackContext;

impl ClientContext for ReadBackContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let eof = matches!(error, KafkaError::PartitionEOF(_))
            || error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF);
        if !eof {
            tracing::warn!(error = %error, "Kafka consumer error: {reason}");
        }
    }
}

impl ConsumerContext for ReadBackContext {}

/// A failure of a Kafka tool, as text for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ToolError(String);

fn config(servers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", servers);
    c.set_log_level(rdkafka::config::RDKafkaLogLevel::Error);
    c
}

fn admin(servers: &str) -> Result<AdminClient<DefaultClientContext>, ToolError> {
    config(servers).create().map_err(|e| {
        ToolError(format!(
            "cannot create a Kafka admin client for '{servers}': {e}"
        ))
    })
}

/// Waits until a broker at `servers` answers a metadata request; returns the number of brokers it reports.
pub fn wait_for_broker(servers: &str, timeout: Duration) -> Result<usize, ToolError> {
    let client = admin(servers)?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client
            .inner()
            .fetch_metadata(None, left.min(Duration::from_secs(2)))
        {
            Ok(m) if !m.brokers().is_empty() => return Ok(m.brokers().len()),
            Ok(_) | Err(_) if !left.is_zero() => std::thread::sleep(Duration::from_millis(100)),
            Ok(_) => return Err(ToolError(format!("broker '{servers}' reports no brokers"))),
            Err(e) => {
                return Err(ToolError(format!(
                    "no Kafka broker answered at '{servers}' within {timeout:?}: {e}"
                )))
            }
        }
    }
}

/// Creates `topic` with `partitions` partitions (replication factor 1). An existing topic is fine.
pub fn create_topic(servers: &str, topic: &str, partitions: i32) -> Result<(), ToolError> {
    let client = admin(servers)?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = futures_executor::block_on(client.create_topics([&new], &options))
        .map_err(|e| ToolError(format!("cannot create topic '{topic}': {e}")))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(ToolError(format!("cannot create topic '{name}': {code}")))
            }
        }
    }
    Ok(())
}

/// Writes one message per payload to `topic` (partitions chosen by librdkafka) and waits until none is outstanding
/// (librdkafka's flush). A test and demo helper: a message the broker finally rejects is not reported one by one.
pub fn produce(servers: &str, topic: &str, payloads: &[&[u8]]) -> Result<(), ToolError> {
    produce_messages(servers, topic, None, payloads)
}

/// [`produce`] into one partition of the topic.
pub fn produce_to(
    servers: &str,
    topic: &str,
    partition: i32,
    payloads: &[&[u8]],
) -> Result<(), ToolError> {
    produce_messages(servers, topic, Some(partition), payloads)
}

fn produce_messages(
    servers: &str,
    topic: &str,
    partition: Option<i32>,
    payloads: &[&[u8]],
) -> Result<(), ToolError> {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = config(servers).create().map_err(|e| {
        ToolError(format!(
            "cannot create a Kafka producer for '{servers}': {e}"
        ))
    })?;
    for payload in payloads {
        let mut record = BaseRecord::<(), [u8]>::to(topic).payload(*payload);
        if let Some(p) = partition {
            record = record.partition(p);
        }
        // A full local queue only means the broker is behind: serve the delivery reports and retry.
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(100));
                }
                Err((e, _)) => {
                    return Err(ToolError(format!("cannot write to topic '{topic}': {e}")))
                }
            }
        }
    }
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| ToolError(format!("topic '{topic}': messages not acknowledged: {e}")))
}

/// Deletes `topic`; a missing topic is fine.
pub fn delete_topic(servers: &str, topic: &str) -> Result<(), ToolError> {
    let client = admin(servers)?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = futures_executor::block_on(client.delete_topics(&[topic], &options))
        .map_err(|e| ToolError(format!("cannot delete topic '{topic}': {e}")))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((name, code)) => {
                return Err(ToolError(format!("cannot delete topic '{name}': {code}")))
            }
        }
    }
    Ok(())
}

/// One message read back from a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedMessage {
    /// Partition it was read from.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// Message key.
    pub key: Option<Vec<u8>>,
    /// Message value.
    pub payload: Option<Vec<u8>>,
    /// Headers in order, as (key, value).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl ConsumedMessage {
    /// The value as UTF-8 text (lossy), empty for a tombstone.
    pub fn payload_text(&self) -> String {
        String::from_utf8_lossy(self.payload.as_deref().unwrap_or_default()).into_owned()
    }
}

/// Reads `topic` from the beginning of every partition until at least `min_messages` were read and every
/// partition is at its end, or `timeout` passes. Returns the messages in partition, offset order.
pub fn read_topic(
    servers: &str,
    topic: &str,
    min_messages: usize,
    timeout: Duration,
) -> Result<Vec<ConsumedMessage>, ToolError> {
    let consumer: BaseConsumer<ReadBackContext> = config(servers)
        .set("group.id", "sluice-read-back")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create_with_context(ReadBackContext)
        .map_err(|e| ToolError(format!("cannot create a Kafka consumer: {e}")))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| ToolError(format!("cannot read metadata of topic '{topic}': {e}")))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(ToolError(format!("topic '{topic}' does not exist")));
    }
    let mut assignment = TopicPartitionList::new();
    for p in &partitions {
        assignment
            .add_partition_offset(topic, *p, Offset::Beginning)
            .map_err(|e| ToolError(e.to_string()))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| ToolError(format!("cannot assign partitions of '{topic}': {e}")))?;

    let deadline = Instant::now() + timeout;
    let mut at_end = HashSet::new();
    let mut messages = Vec::new();
    while Instant::now() < deadline {
        if messages.len() >= min_messages && at_end.len() == partitions.len() {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                messages.push(ConsumedMessage {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().map(<[u8]>::to_vec),
                    headers: m
                        .headers()
                        .map(|hs| {
                            hs.iter()
                                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => return Err(ToolError(format!("reading topic '{topic}': {e}"))),
        }
    }
    messages.sort_by_key(|m| (m.partition, m.offset));
    Ok(messages)
}
