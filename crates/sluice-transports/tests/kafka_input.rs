//! `kafka_input` against a real broker on loopback (Apache Kafka, or tansu with `SLUICE_BROKER=tansu`, started by
//! `scripts/test.sh`).
//!
//! Messages are produced with a plain librdkafka producer and read back through the real endpoint, which joins a
//! real consumer group. Enabled with `--features kafka-integration-tests`; `scripts/test.sh` turns it on.
#![cfg(feature = "kafka-integration-tests")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use serde_json::json;
use sluice_transports::kafka_input::{
    validate_input_config, EndpointHealth, InputMessage, KafkaConnectError, KafkaInputEndpoint,
    KafkaInputError,
};
use sluice_transports::kafka_tools;
use sluice_transports::testing::{brokers, eventually, PrivateBroker, TestTopic};
use sluice_types::{ConnectorConfig, KafkaInputConfig, TransportConfig};

const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A `kafka_input` config for `topics`, read from the beginning, parsed from connector JSON and validated.
fn config(servers: &str, topics: &[&str], extra: serde_json::Value) -> KafkaInputConfig {
    let mut t = json!({"bootstrap.servers": servers, "topics": topics,
                       "auto.offset.reset": "earliest", "group_join_timeout_secs": 20});
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    let connector: ConnectorConfig = serde_json::from_value(json!({
        "transport": {"name": "kafka_input", "config": t},
        "format": {"name": "json", "config": {"update_format": "raw"}},
    }))
    .unwrap();
    connector.validate().unwrap();
    match connector.transport {
        TransportConfig::KafkaInput(k) => {
            validate_input_config(&k).unwrap();
            k
        }
        other => panic!("not kafka_input: {other:?}"),
    }
}

/// Produces `(partition, payload)` messages to `topic` and waits for every acknowledgement.
fn produce(servers: &str, topic: &str, messages: &[(i32, String)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .create()
        .unwrap();
    for (partition, payload) in messages {
        producer
            .send(
                BaseRecord::<(), _>::to(topic)
                    .partition(*partition)
                    .payload(payload),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(20)).unwrap();
}

/// An endpoint reading `topic` from the beginning, connected, in a group of its own (named after the topic).
fn connected(servers: &str, topic: &str) -> KafkaInputEndpoint {
    let endpoint = KafkaInputEndpoint::new(topic, &config(servers, &[topic], json!({}))).unwrap();
    endpoint.connect().unwrap();
    endpoint
}

/// `n` messages numbered from `first`, spread round-robin over `partitions` partitions.
fn numbered(first: usize, n: usize, partitions: i32) -> Vec<(i32, String)> {
    (first..first + n)
        .map(|i| (i as i32 % partitions, format!("m{i}")))
        .collect()
}

/// Polls until `n` messages arrived or `READ_TIMEOUT` passed.
fn read(endpoint: &KafkaInputEndpoint, n: usize) -> Vec<InputMessage> {
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut messages = Vec::new();
    while messages.len() < n && Instant::now() < deadline {
        if let Some(m) = endpoint.poll(Duration::from_millis(100)).unwrap() {
            messages.push(m);
        }
    }
    messages
}

/// Whatever arrives within `period`.
fn read_for(endpoint: &KafkaInputEndpoint, period: Duration) -> Vec<InputMessage> {
    let deadline = Instant::now() + period;
    let mut messages = Vec::new();
    while Instant::now() < deadline {
        if let Some(m) = endpoint.poll(Duration::from_millis(100)).unwrap() {
            messages.push(m);
        }
    }
    messages
}

/// Payloads per partition, in the order they were read.
fn by_partition(messages: &[InputMessage]) -> BTreeMap<i32, Vec<String>> {
    let mut map: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for m in messages {
        map.entry(m.partition)
            .or_default()
            .push(String::from_utf8(m.payload.clone()).unwrap());
    }
    map
}

#[test]
fn reads_messages_produced_earlier_from_the_beginning_in_order_per_partition() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "kin-read", 3);
    let produced = numbered(0, 30, 3);
    produce(&servers, &topic.name, &produced);

    let endpoint =
        KafkaInputEndpoint::new(&topic.name, &config(&servers, &[&topic.name], json!({}))).unwrap();
    assert_eq!(endpoint.group_id(), format!("sluice-{}", topic.name));
    assert_eq!(endpoint.connect().unwrap(), 3);
    let mut messages = read(&endpoint, 30);
    // Nothing beyond what was produced.
    messages.extend(read_for(&endpoint, Duration::from_millis(500)));
    assert_eq!(messages.len(), 30);

    let mut expected: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for (p, payload) in &produced {
        expected.entry(*p).or_default().push(payload.clone());
    }
    assert_eq!(by_partition(&messages), expected);
    for m in &messages {
        assert_eq!(m.topic, topic.name);
    }
    for p in 0..3 {
        let offsets: Vec<i64> = messages
            .iter()
            .filter(|m| m.partition == p)
            .map(|m| m.offset)
            .collect();
        assert_eq!(offsets, (0..10).collect::<Vec<i64>>(), "partition {p}");
    }
    let stats = endpoint.stats();
    assert_eq!(stats.received_messages, 30);
    let bytes: usize = produced.iter().map(|(_, p)| p.len()).sum();
    assert_eq!(stats.received_bytes, bytes as u64);
    assert_eq!(stats.assigned_partitions, 3);
    assert_eq!(stats.health, EndpointHealth::Running);
}

#[test]
fn reads_several_topics() {
    let servers = brokers();
    let a = TestTopic::new(&servers, "kin-multi-a", 1);
    let b = TestTopic::new(&servers, "kin-multi-b", 2);
    produce(&servers, &a.name, &numbered(0, 4, 1));
    produce(&servers, &b.name, &numbered(0, 6, 2));

    let endpoint =
        KafkaInputEndpoint::new(&a.name, &config(&servers, &[&a.name, &b.name], json!({})))
            .unwrap();
    assert_eq!(endpoint.connect().unwrap(), 3);
    let messages = read(&endpoint, 10);
    let from_a = messages.iter().filter(|m| m.topic == a.name).count();
    let from_b = messages.iter().filter(|m| m.topic == b.name).count();
    assert_eq!((from_a, from_b), (4, 6));
}

#[test]
fn missing_topic_fails_connect_naming_the_topic() {
    let servers = brokers();
    let present = TestTopic::new(&servers, "kin-present", 1);
    let missing = format!("kin-missing-{:08x}", rand::random::<u32>());
    let endpoint = KafkaInputEndpoint::new(
        &present.name,
        &config(&servers, &[&present.name, &missing], json!({})),
    )
    .unwrap();
    let err = endpoint.connect().unwrap_err();
    match &err {
        KafkaInputError::Connect(KafkaConnectError::TopicMissing {
            topic, servers: s, ..
        }) => {
            assert_eq!(topic, &missing);
            assert_eq!(s, &servers);
        }
        other => panic!("expected TopicMissing, got {other:?}"),
    }
    // The error is TopicMissing (matched above), not a timeout waiting for the topic to appear.
    assert!(err.to_string().contains(&missing), "{err}");
}

#[test]
fn unreachable_broker_fails_connect_naming_the_broker() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let servers = format!("127.0.0.1:{port}");
    let endpoint = KafkaInputEndpoint::new(
        "unreachable",
        &config(&servers, &["t"], json!({"group_join_timeout_secs": 2})),
    )
    .unwrap();
    let err = endpoint.connect().unwrap_err();
    assert!(
        matches!(
            err,
            KafkaInputError::Connect(KafkaConnectError::Unreachable {
                timeout_secs: 2,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&servers), "{err}");
}

#[test]
fn pause_stops_delivery_and_resume_continues_where_it_stopped() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "kin-pause", 2);
    produce(&servers, &topic.name, &numbered(0, 10, 2));
    let endpoint = connected(&servers, &topic.name);
    let first = read(&endpoint, 10);
    assert_eq!(first.len(), 10);

    endpoint.pause().unwrap();
    assert!(endpoint.stats().paused);
    produce(&servers, &topic.name, &numbered(10, 10, 2));
    let while_paused = read_for(&endpoint, Duration::from_secs(3));
    assert!(
        while_paused.is_empty(),
        "read while paused: {while_paused:?}"
    );

    endpoint.resume().unwrap();
    assert!(!endpoint.stats().paused);
    let mut all = first;
    all.extend(read(&endpoint, 10));
    all.extend(read_for(&endpoint, Duration::from_millis(500)));
    // Every message exactly once, in order within each partition.
    let mut expected: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for (p, payload) in numbered(0, 20, 2) {
        expected.entry(p).or_default().push(payload);
    }
    assert_eq!(by_partition(&all), expected);
    assert_eq!(endpoint.stats().received_messages, 20);
}

/// Pausing while librdkafka holds messages it fetched ahead (the pipeline pauses when its buffer is full, in
/// the middle of a topic) must not lose them: after resume, reading continues after the last message handed out.
/// (Found with tansu, which answers a fetch that starts inside a record batch with nothing: a plain librdkafka
/// pause/resume, which restarts at the next message's offset, then never reads again.)
#[test]
fn pause_in_the_middle_of_fetched_messages_loses_none() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "kin-pause-mid", 1);
    produce(&servers, &topic.name, &numbered(0, 50, 1));
    let endpoint = connected(&servers, &topic.name);
    let mut all = read(&endpoint, 5);
    assert_eq!(all.len(), 5);
    for round in 0..3 {
        endpoint.pause().unwrap();
        let while_paused = read_for(&endpoint, Duration::from_millis(500));
        assert!(
            while_paused.is_empty(),
            "round {round}: read while paused: {while_paused:?}"
        );
        endpoint.resume().unwrap();
        all.extend(read(&endpoint, 5));
    }
    all.extend(read(&endpoint, 50 - all.len()));
    let mut expected: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for (p, payload) in numbered(0, 50, 1) {
        expected.entry(p).or_default().push(payload);
    }
    assert_eq!(by_partition(&all), expected);
}

#[test]
fn validation_rejects_a_bad_option_name_and_a_bad_value_naming_the_option() {
    let servers = brokers();
    let mut bad_name = KafkaInputConfig::new(&servers, &["t"]);
    bad_name
        .kafka_options
        .insert("fetch.wait.max.msx".into(), "10".into());
    let err = validate_input_config(&bad_name).unwrap_err();
    assert_eq!(err.field, "fetch.wait.max.msx");
    assert!(
        err.reason.contains("No such configuration property"),
        "{err}"
    );

    let mut bad_value = KafkaInputConfig::new(&servers, &["t"]);
    bad_value
        .kafka_options
        .insert("auto.offset.reset".into(), "oldest".into());
    let err = validate_input_config(&bad_value).unwrap_err();
    assert_eq!(err.field, "auto.offset.reset");
    assert!(err.reason.contains("oldest"), "{err}");

    // The endpoint refuses them as well, naming the option.
    for config in [&bad_name, &bad_value] {
        let err = KafkaInputEndpoint::new("bad", config).err().unwrap();
        assert!(matches!(err, KafkaInputError::Create { .. }), "{err:?}");
        let option = config
            .kafka_options
            .keys()
            .find(|k| *k != "bootstrap.servers")
            .unwrap();
        assert!(err.to_string().contains(option.as_str()), "{err}");
    }
}

#[test]
fn broker_outage_stalls_without_failing_and_reading_continues_after_restart() {
    let broker = PrivateBroker::start();
    let servers = broker.address();
    let topic = TestTopic::new(&servers, "kin-outage", 1);
    produce(&servers, &topic.name, &numbered(0, 5, 1));
    let endpoint = connected(&servers, &topic.name);
    assert_eq!(read(&endpoint, 5).len(), 5);

    broker.down();
    assert!(
        eventually(Duration::from_secs(30), || {
            // Transient: poll keeps answering Ok while the broker is away.
            assert!(endpoint.poll(Duration::from_millis(100)).unwrap().is_none());
            matches!(endpoint.stats().health, EndpointHealth::Stalled { .. })
        }),
        "{:?}",
        endpoint.stats()
    );
    let stats = endpoint.stats();
    assert!(stats.num_transport_errors > 0);
    assert!(stats.last_error.is_some());

    broker.up();
    produce(&servers, &topic.name, &numbered(5, 5, 1));
    let after = read(&endpoint, 5);
    let payloads: Vec<String> = after
        .iter()
        .map(|m| String::from_utf8(m.payload.clone()).unwrap())
        .collect();
    assert_eq!(payloads, ["m5", "m6", "m7", "m8", "m9"]);
    assert_eq!(endpoint.stats().health, EndpointHealth::Running);
}

/// Dropping an endpoint (what a pipeline's stop does) returns even when its group coordinator never answers: the
/// broker is frozen (SIGSTOP: connections open, no answers), so librdkafka's close waits for its LeaveGroup request,
/// and rdkafka's drop waits for the close without a bound. The endpoint gives the close 10 s and finishes it in the
/// background; the test allows 30 s, well below the request timeout (`socket.timeout.ms`, 60 s) that would end
/// librdkafka's wait on its own.
#[test]
fn dropping_an_endpoint_whose_broker_hangs_returns() {
    let broker = PrivateBroker::start();
    let servers = broker.address();
    // The broker is this test's own and dies with it: no topic to clean up.
    kafka_tools::create_topic(&servers, "kin-hung", 1).unwrap();
    produce(&servers, "kin-hung", &numbered(0, 3, 1));
    let endpoint = connected(&servers, "kin-hung");
    assert_eq!(read(&endpoint, 3).len(), 3);

    broker.freeze();
    let (done, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(endpoint);
        let _ = done.send(());
    });
    let returned = dropped.recv_timeout(Duration::from_secs(30));
    broker.thaw();
    returned.expect("dropping the endpoint did not return within 30 s");
}

/// A subscribed topic deleted under a running endpoint fails it, naming the topic, at librdkafka's next metadata
/// refresh (`topic.metadata.refresh.interval.ms`, 5 minutes by default; 2 s here). Against tansu 0.6 (the tests'
/// second broker, which does not run this file) the same deletion crashes the process inside librdkafka 2.12.1
/// (SIGSEGV in `rd_kafka_metadata_cache_find`); Apache Kafka's metadata does not.
#[test]
fn topic_deleted_under_a_running_endpoint_fails_it_naming_the_topic() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "kin-deleted", 1);
    produce(&servers, &topic.name, &numbered(0, 3, 1));
    let endpoint = KafkaInputEndpoint::new(
        &topic.name,
        &config(
            &servers,
            &[&topic.name],
            json!({"topic.metadata.refresh.interval.ms": "2000"}),
        ),
    )
    .unwrap();
    endpoint.connect().unwrap();
    assert_eq!(read(&endpoint, 3).len(), 3);

    kafka_tools::delete_topic(&servers, &topic.name).unwrap();
    let deadline = Instant::now() + READ_TIMEOUT;
    let err = loop {
        assert!(Instant::now() < deadline, "still {:?}", endpoint.stats());
        match endpoint.poll(Duration::from_millis(100)) {
            Ok(m) => assert!(m.is_none(), "{m:?}"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, KafkaInputError::Failed(_)), "{err:?}");
    assert!(err.to_string().contains(&topic.name), "{err}");
    assert!(
        matches!(endpoint.stats().health, EndpointHealth::Failed { .. }),
        "{:?}",
        endpoint.stats()
    );
    // Every later poll fails the same way.
    assert_eq!(
        endpoint.poll(Duration::ZERO).unwrap_err().to_string(),
        err.to_string()
    );
}
