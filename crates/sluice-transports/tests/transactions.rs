//! The capability exactly-once delivery is built on, proven against the project's broker: a transactional producer's
//! committed messages are seen by `read_committed` and `read_uncommitted` consumers, its aborted messages only by
//! `read_uncommitted`, and a `read_committed` consumer does not stop at an aborted transaction. Apache Kafka has
//! transactions; a broker without them fails here (at `init_transactions`), which is the point of the test.

#![cfg(feature = "kafka-integration-tests")]

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use sluice_transports::testing::{brokers, TestTopic};

const TIMEOUT: Duration = Duration::from_secs(60);

fn producer(brokers: &str, transactional_id: &str) -> ThreadedProducer<DefaultProducerContext> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("transactional.id", transactional_id)
        .set("enable.idempotence", "true")
        .create()
        .expect("create a transactional producer");
    producer
        .init_transactions(TIMEOUT)
        .expect("the broker supports transactions (init_transactions)");
    producer
}

fn send_transaction(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    prefix: &str,
    commit: bool,
) {
    producer.begin_transaction().expect("begin");
    for i in 0..3 {
        let payload = format!("{prefix}-{i}");
        producer
            .send(BaseRecord::<(), _>::to(topic).payload(&payload))
            .map_err(|(e, _)| e)
            .expect("send in a transaction");
    }
    if commit {
        producer.commit_transaction(TIMEOUT).expect("commit");
    } else {
        producer.flush(TIMEOUT).expect("flush before abort");
        producer.abort_transaction(TIMEOUT).expect("abort");
    }
}

/// Every payload a consumer with `isolation` reads from the topic's only partition, from the start, until it has
/// read `expected` payloads or, once it has, nothing more comes for a while (to see extra ones).
fn read_all(brokers: &str, topic: &str, isolation: &str, expected: usize) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{topic}-{isolation}"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .expect("create a consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
                quiet_since = Instant::now();
            }
            Some(Err(e)) => panic!("{isolation} consumer: {e}"),
            None if out.len() >= expected && quiet_since.elapsed() > Duration::from_secs(2) => {
                break
            }
            None => {}
        }
    }
    out
}

#[test]
fn committed_and_aborted_transactions_are_seen_according_to_the_isolation_level() {
    let brokers = brokers();
    let topic = TestTopic::new(&brokers, "transactions", 1);
    let producer = producer(&brokers, &format!("{}-producer", topic.name));
    send_transaction(&producer, &topic.name, "committed-a", true);
    send_transaction(&producer, &topic.name, "aborted", false);
    send_transaction(&producer, &topic.name, "committed-b", true);

    let committed: Vec<String> = ["committed-a", "committed-b"]
        .iter()
        .flat_map(|p| (0..3).map(move |i| format!("{p}-{i}")))
        .collect();
    assert_eq!(
        read_all(&brokers, &topic.name, "read_committed", committed.len()),
        committed,
        "read_committed sees exactly the committed messages, in order, past the aborted transaction"
    );

    let everything: Vec<String> = ["committed-a", "aborted", "committed-b"]
        .iter()
        .flat_map(|p| (0..3).map(move |i| format!("{p}-{i}")))
        .collect();
    assert_eq!(
        read_all(&brokers, &topic.name, "read_uncommitted", everything.len()),
        everything,
        "read_uncommitted sees the aborted messages too"
    );
}

#[test]
fn an_open_transaction_is_invisible_to_read_committed_until_it_commits() {
    let brokers = brokers();
    let topic = TestTopic::new(&brokers, "transactions-open", 1);
    let producer = producer(&brokers, &format!("{}-producer", topic.name));
    producer.begin_transaction().expect("begin");
    producer
        .send(BaseRecord::<(), _>::to(&topic.name).payload("pending"))
        .map_err(|(e, _)| e)
        .expect("send");
    producer.flush(TIMEOUT).expect("flush");
    // Written to the log, not committed: read_uncommitted sees it, read_committed does not.
    assert_eq!(
        read_all(&brokers, &topic.name, "read_uncommitted", 1),
        vec!["pending"]
    );
    assert!(read_all(&brokers, &topic.name, "read_committed", 0).is_empty());
    producer.commit_transaction(TIMEOUT).expect("commit");
    assert_eq!(
        read_all(&brokers, &topic.name, "read_committed", 1),
        vec!["pending"]
    );
}
