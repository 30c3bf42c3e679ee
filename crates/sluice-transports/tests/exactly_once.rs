//! Exactly-once `kafka_output` endpoints against the project's broker (Apache Kafka, with transactions): what a
//! restarted endpoint finds of an earlier run's output and skips, in both modes, and fencing. A "crash" here is an
//! endpoint leaked with `mem::forget` (no abort, no flush of an open transaction), which is what a killed process
//! leaves at the broker. The pipeline-level proof (real processes killed with SIGKILL) is
//! `crates/sluice/tests/exactly_once_e2e.rs`.

#![cfg(feature = "kafka-integration-tests")]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sluice_transports::kafka_output::{ExactlyOnceSetup, KafkaOutputEndpoint, PROGRESS_HEADER};
use sluice_transports::kafka_tools::{self, read_topic, ConsumedMessage};
use sluice_transports::testing::{brokers, PrivateBroker, TestTopic};
use sluice_types::{ExactlyOnceMode, KafkaOutputConfig, KafkaOutputFaultTolerance};

fn config(topic: &str, mode: ExactlyOnceMode) -> KafkaOutputConfig {
    let mut c = KafkaOutputConfig::new(&brokers(), topic);
    c.initialization_timeout_secs = 30;
    c.fault_tolerance = Some(KafkaOutputFaultTolerance {
        mode,
        ..Default::default()
    });
    c
}

fn setup(dir: &Path, writer: &str) -> ExactlyOnceSetup {
    ExactlyOnceSetup {
        writer: writer.to_string(),
        state_file: dir.join("outputs").join("out.json"),
        checkpoint_interval: Duration::from_secs(1),
    }
}

fn open(topic: &str, mode: ExactlyOnceMode, dir: &Path, writer: &str) -> KafkaOutputEndpoint {
    KafkaOutputEndpoint::open_exactly_once("out", &config(topic, mode), &setup(dir, writer))
        .unwrap_or_else(|e| panic!("open an exactly-once endpoint: {e}"))
}

/// Sends step `step`'s messages `0..n` (the key names the message, so that every message has its own place).
fn send_step(e: &KafkaOutputEndpoint, step: u64, n: u32, only_first: u32) {
    e.begin_step(step);
    for i in 0..n {
        let key = format!("k{}", i % 5);
        let value = format!("s{step}-m{i}");
        if i < only_first {
            e.send(Some(key.as_bytes()), value.as_bytes(), 1).unwrap();
        } else {
            // The rest of the step: numbered, never handed to Kafka (the process died here).
            return;
        }
    }
}

fn values(messages: &[ConsumedMessage]) -> Vec<String> {
    let mut v: Vec<String> = messages.iter().map(ConsumedMessage::payload_text).collect();
    v.sort();
    v
}

fn expected(steps: &[(u64, u32)]) -> Vec<String> {
    let mut v: Vec<String> = steps
        .iter()
        .flat_map(|&(s, n)| (0..n).map(move |i| format!("s{s}-m{i}")))
        .collect();
    v.sort();
    v
}

fn writer(tag: &str) -> String {
    format!("eo-test-{tag}-{:08x}", rand::random::<u32>())
}

/// A crash after the transaction of steps 1–2 committed and before the pipeline's checkpoint: the restart replays
/// steps 1–3 and sends only step 3; an open transaction (step 3's first attempt) is aborted by the restart.
#[test]
fn transactions_restart_skips_exactly_the_committed_steps() {
    let topic = TestTopic::new(&brokers(), "eo-txn", 3);
    let dir = tempfile::tempdir().unwrap();
    let w = writer("txn");
    let first = open(&topic.name, ExactlyOnceMode::Transactions, dir.path(), &w);
    assert_eq!(first.exactly_once_stats().unwrap().mode, "transactions");
    send_step(&first, 1, 4, 4);
    send_step(&first, 2, 3, 3);
    first.flush(Duration::from_secs(30)).unwrap();
    first.commit_step(2).unwrap();
    send_step(&first, 3, 5, 5);
    first.flush(Duration::from_secs(30)).unwrap();
    let stats = first.exactly_once_stats().unwrap();
    assert_eq!(stats.committed_step, 2, "{stats:?}");
    assert_eq!(stats.open_transaction_first_step, Some(3), "{stats:?}");
    std::mem::forget(first);

    let second = open(&topic.name, ExactlyOnceMode::Auto, dir.path(), &w);
    let stats = second.exactly_once_stats().unwrap();
    assert_eq!(
        (stats.mode.as_str(), stats.resumed_after_step),
        ("transactions", 2),
        "{stats:?}"
    );
    for (step, n) in [(1, 4), (2, 3), (3, 5)] {
        send_step(&second, step, n, n);
    }
    second.flush(Duration::from_secs(30)).unwrap();
    second.commit_step(3).unwrap();
    let stats = second.exactly_once_stats().unwrap();
    assert_eq!(stats.skipped_messages, 7, "{stats:?}");
    assert_eq!(stats.transactions_committed, 1, "{stats:?}");
    drop(second);

    // read_committed (librdkafka's default): each message once; step 3's aborted first attempt is invisible.
    let got = read_topic(&brokers(), &topic.name, 12, Duration::from_secs(30)).unwrap();
    assert_eq!(values(&got), expected(&[(1, 4), (2, 3), (3, 5)]));
    // Keys stay the user's, and every key is in Java's murmur2 partition.
    for m in &got {
        let key = m.key.as_deref().unwrap();
        let want = sluice_transports::kafka_output::partition_of(Some(key), 0, 0, 3);
        assert_eq!(m.partition, want, "{m:?}");
    }
}

/// Markers: a crash in the middle of step 2 (two of its five messages sent); the restart replays steps 1 and 2 and
/// sends, per partition, only what comes after that partition's last message.
#[test]
fn markers_restart_skips_per_partition_what_was_written() {
    let topic = TestTopic::new(&brokers(), "eo-markers", 3);
    let dir = tempfile::tempdir().unwrap();
    let w = writer("markers");
    let first = open(&topic.name, ExactlyOnceMode::Markers, dir.path(), &w);
    send_step(&first, 1, 6, 6);
    send_step(&first, 2, 5, 2);
    first.flush(Duration::from_secs(30)).unwrap();
    std::mem::forget(first);

    let second = open(&topic.name, ExactlyOnceMode::Auto, dir.path(), &w);
    assert_eq!(second.exactly_once_stats().unwrap().mode, "markers");
    send_step(&second, 1, 6, 6);
    send_step(&second, 2, 5, 5);
    send_step(&second, 3, 2, 2);
    second.flush(Duration::from_secs(30)).unwrap();
    second.commit_step(3).unwrap();
    let stats = second.exactly_once_stats().unwrap();
    assert_eq!(stats.skipped_messages, 8, "{stats:?}");
    assert_eq!(stats.committed_step, 3, "{stats:?}");
    drop(second);

    let got = read_topic(&brokers(), &topic.name, 13, Duration::from_secs(30)).unwrap();
    assert_eq!(values(&got), expected(&[(1, 6), (2, 5), (3, 2)]));
    // Each partition holds its messages in (step, number) order, each with its progress header.
    let mut last: BTreeMap<i32, (u64, u32)> = BTreeMap::new();
    for m in &got {
        let header = m
            .headers
            .iter()
            .find(|(k, _)| k == PROGRESS_HEADER)
            .and_then(|(_, v)| v.clone())
            .expect("a progress header");
        let text = String::from_utf8(header).unwrap();
        let parts: Vec<&str> = text.split(':').collect();
        let place = (parts[1].parse().unwrap(), parts[2].parse().unwrap());
        if let Some(prev) = last.insert(m.partition, place) {
            assert!(
                prev < place,
                "partition {} goes back: {prev:?} then {place:?}",
                m.partition
            );
        }
        assert_eq!(m.payload_text(), format!("s{}-m{}", place.0, place.1));
    }
}

/// Markers mode needs Sluice to be the topic's only writer: a partition that ends with someone else's message is
/// refused at restart, naming the partition.
#[test]
fn markers_refuse_a_topic_someone_else_wrote_to() {
    let topic = TestTopic::new(&brokers(), "eo-foreign", 1);
    kafka_tools::produce(&brokers(), &topic.name, &[b"before sluice"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = writer("foreign");
    // What was there before the connector's first start is not in the way.
    let first = open(&topic.name, ExactlyOnceMode::Markers, dir.path(), &w);
    send_step(&first, 1, 2, 2);
    first.flush(Duration::from_secs(30)).unwrap();
    drop(first);
    let again = open(&topic.name, ExactlyOnceMode::Markers, dir.path(), &w);
    assert_eq!(again.exactly_once_stats().unwrap().resumed_after_step, 1);
    drop(again);

    kafka_tools::produce(&brokers(), &topic.name, &[b"someone else"]).unwrap();
    let err = KafkaOutputEndpoint::open_exactly_once(
        "out",
        &config(&topic.name, ExactlyOnceMode::Markers),
        &setup(dir.path(), &w),
    )
    .err()
    .expect("a foreign tail is refused");
    let message = err.to_string();
    assert!(message.contains("partition 0"), "{message}");
    assert!(message.contains("only writer"), "{message}");
}

/// A second instance of the same connector (same transactional id) fences the first: the first cannot commit, and
/// nothing it sent in its open transaction becomes visible.
#[test]
fn a_second_instance_fences_the_first() {
    let topic = TestTopic::new(&brokers(), "eo-fence", 1);
    let dir = tempfile::tempdir().unwrap();
    let w = writer("fence");
    let first = open(&topic.name, ExactlyOnceMode::Transactions, dir.path(), &w);
    send_step(&first, 1, 3, 3);
    first.flush(Duration::from_secs(30)).unwrap();

    let second = open(&topic.name, ExactlyOnceMode::Transactions, dir.path(), &w);
    let err = first
        .commit_step(1)
        .expect_err("the fenced instance commits nothing");
    assert!(
        err.to_string().contains("fenced") || err.to_string().contains("another producer"),
        "{err}"
    );
    assert!(first.send(Some(b"k"), b"late", 1).is_err());

    send_step(&second, 1, 3, 3);
    second.flush(Duration::from_secs(30)).unwrap();
    second.commit_step(1).unwrap();
    drop(second);
    drop(first);
    let got = read_topic(&brokers(), &topic.name, 3, Duration::from_secs(30)).unwrap();
    assert_eq!(values(&got), expected(&[(1, 3)]));
}

/// A checkpoint interval that keeps a transaction open longer than brokers allow by default is refused at start,
/// naming the field and the limit.
#[test]
fn a_too_long_checkpoint_interval_is_refused_for_transactions() {
    let topic = TestTopic::new(&brokers(), "eo-timeout", 1);
    let dir = tempfile::tempdir().unwrap();
    let mut s = setup(dir.path(), &writer("timeout"));
    s.checkpoint_interval = Duration::from_secs(3600);
    let err = KafkaOutputEndpoint::open_exactly_once(
        "out",
        &config(&topic.name, ExactlyOnceMode::Transactions),
        &s,
    )
    .err()
    .expect("refused");
    let message = err.to_string();
    assert!(message.contains("transaction.timeout.ms"), "{message}");
    assert!(message.contains("900000"), "{message}");
}

/// A transaction that outlives `transaction.timeout.ms` while the broker is down is aborted by the broker when it
/// is back. The endpoint must then fail loudly (naming the transaction), nothing of the transaction may be visible,
/// and the restarted endpoint must send it exactly once.
#[test]
fn a_transaction_that_outlives_its_timeout_in_an_outage_fails_loudly_and_is_sent_once_after() {
    let broker = PrivateBroker::start();
    let servers = broker.address();
    kafka_tools::create_topic(&servers, "eo-outage", 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = writer("outage");
    let mut config = KafkaOutputConfig::new(&servers, "eo-outage");
    config.initialization_timeout_secs = 30;
    config.fault_tolerance = Some(KafkaOutputFaultTolerance {
        mode: ExactlyOnceMode::Transactions,
        producer_options: BTreeMap::from([(
            "transaction.timeout.ms".to_string(),
            "5000".to_string(),
        )]),
        ..Default::default()
    });
    let first =
        KafkaOutputEndpoint::open_exactly_once("out", &config, &setup(dir.path(), &w)).unwrap();
    send_step(&first, 1, 3, 3);
    first.flush(Duration::from_secs(30)).unwrap();
    broker.down();
    std::thread::sleep(Duration::from_secs(2));
    broker.up();
    // The broker aborts timed-out transactions on a 10 s timer (transaction.abort.timed.out.transaction.cleanup
    // .interval.ms): after 5 s of timeout and one timer period this one is aborted for sure.
    std::thread::sleep(Duration::from_secs(16));
    let err = first
        .commit_step(1)
        .expect_err("a transaction the broker aborted cannot commit");
    let message = err.to_string();
    assert!(message.contains("transaction of steps 1..=1"), "{message}");
    assert!(message.contains("exactly once"), "{message}");
    drop(first);
    assert!(
        read_topic(&servers, "eo-outage", 0, Duration::from_secs(10))
            .unwrap()
            .is_empty(),
        "nothing of the aborted transaction is visible"
    );

    let again =
        KafkaOutputEndpoint::open_exactly_once("out", &config, &setup(dir.path(), &w)).unwrap();
    assert_eq!(again.exactly_once_stats().unwrap().resumed_after_step, 0);
    send_step(&again, 1, 3, 3);
    again.flush(Duration::from_secs(30)).unwrap();
    again.commit_step(1).unwrap();
    drop(again);
    let got = read_topic(&servers, "eo-outage", 3, Duration::from_secs(30)).unwrap();
    assert_eq!(values(&got), expected(&[(1, 3)]));
}

/// `create_topic` under exactly-once output: the missing topic is created before the mode is chosen and what an
/// earlier run wrote is looked for, and the messages of the first checkpoint arrive exactly once.
#[test]
fn create_topic_creates_the_missing_topic_of_an_exactly_once_endpoint() {
    struct DeleteAtEnd(String);
    impl Drop for DeleteAtEnd {
        fn drop(&mut self) {
            let _ = kafka_tools::delete_topic(&brokers(), &self.0);
        }
    }
    let topic = DeleteAtEnd(format!("eo-create-{:08x}", rand::random::<u32>()));
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&topic.0, ExactlyOnceMode::Auto);
    c.create_topic = Some(sluice_types::transport::kafka::KafkaCreateTopic {
        partitions: Some(3),
        ..Default::default()
    });
    let e =
        KafkaOutputEndpoint::open_exactly_once("out", &c, &setup(dir.path(), &writer("create")))
            .unwrap_or_else(|e| panic!("open an exactly-once endpoint: {e}"));
    assert_eq!(e.exactly_once_stats().unwrap().mode, "transactions");
    send_step(&e, 1, 4, 4);
    e.flush(Duration::from_secs(30)).unwrap();
    e.commit_step(1).unwrap();
    drop(e);
    let got = read_topic(&brokers(), &topic.0, 4, Duration::from_secs(30)).unwrap();
    assert_eq!(values(&got), expected(&[(1, 4)]));
    assert!(got.iter().all(|m| (0..3).contains(&m.partition)), "{got:?}");
}
