//! `kafka_output` against a real broker on loopback (Apache Kafka, or tansu with `SLUICE_BROKER=tansu`, started by
//! `scripts/test.sh`).
//!
//! Every test writes a view's delta through the real encoder and the real endpoint and reads the topic back with
//! a real consumer. Enabled with `--features kafka-integration-tests`; `scripts/test.sh` turns it on.
#![cfg(feature = "kafka-integration-tests")]

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use sluice_data::{Field, Relation, Row, SqlType, Value};
use sluice_formats::{build_encoder, MessageLimits, SinkError};
use sluice_transports::kafka_output::{
    EndpointHealth, KafkaConnectError, KafkaOutputEndpoint, KafkaOutputError, OutgoingMessage,
};
use sluice_transports::kafka_tools::{self, read_topic, ConsumedMessage};
use sluice_transports::testing::{brokers, eventually, PrivateBroker, TestTopic};
use sluice_types::{ConnectorConfig, KafkaOutputConfig, TransportConfig};

const READ_TIMEOUT: Duration = Duration::from_secs(30);

fn view() -> Relation {
    Relation::new(
        "v",
        vec![
            Field::new("id", SqlType::BigInt, false),
            Field::new("s", SqlType::varchar(), true),
        ],
    )
}

fn row(id: i64, s: &str) -> Row {
    Row::new(vec![Value::BigInt(id), Value::from(s)])
}

/// A connector config for `topic` with extra transport options and a format.
fn connector(
    servers: &str,
    topic: &str,
    transport: serde_json::Value,
    format: serde_json::Value,
) -> ConnectorConfig {
    let mut t =
        json!({"bootstrap.servers": servers, "topic": topic, "initialization_timeout_secs": 20});
    for (k, v) in transport.as_object().unwrap() {
        t[k] = v.clone();
    }
    let config: ConnectorConfig = serde_json::from_value(json!({
        "transport": {"name": "kafka_output", "config": t},
        "format": format,
    }))
    .unwrap();
    config.validate().unwrap();
    config
}

fn kafka(config: &ConnectorConfig) -> &KafkaOutputConfig {
    match &config.transport {
        TransportConfig::KafkaOutput(k) => k,
        other => panic!("not kafka_output: {other:?}"),
    }
}

/// Encodes `steps` with the connector's format and sends every message through `endpoint`.
fn send_steps(
    config: &ConnectorConfig,
    endpoint: &KafkaOutputEndpoint,
    steps: &[Vec<(Row, i64)>],
) -> usize {
    let mut encoder = build_encoder(
        config.format.as_ref().unwrap(),
        &view(),
        MessageLimits {
            max_message_bytes: endpoint.max_payload_bytes(),
        },
    )
    .unwrap();
    let mut sent = 0;
    for delta in steps {
        let errors = encoder
            .encode(delta, &mut |m| {
                sent += 1;
                let headers: Vec<(&str, Option<&[u8]>)> = m
                    .headers
                    .iter()
                    .map(|h| (&*h.name, h.value.as_deref()))
                    .collect();
                let message = OutgoingMessage {
                    key: m.key.as_deref(),
                    value: m.value.as_deref(),
                    headers: &headers,
                    records: m.records,
                };
                endpoint
                    .send_message(message)
                    .map_err(|e| SinkError(Box::new(e)))
            })
            .unwrap();
        assert!(errors.is_empty(), "{errors:?}");
    }
    sent
}

fn payloads(messages: &[ConsumedMessage]) -> Vec<String> {
    messages.iter().map(ConsumedMessage::payload_text).collect()
}

#[test]
fn delta_through_json_encoder_arrives_in_step_order_with_deletes_first() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "order", 1);
    let config = connector(&servers, &topic.name, json!({}), json!({"name": "json"}));
    let endpoint = KafkaOutputEndpoint::new("order", kafka(&config)).unwrap();
    assert_eq!(endpoint.connect().unwrap(), 1);
    let steps = vec![
        vec![(row(1, "a"), 1), (row(2, "b"), 2)],
        vec![(row(3, "c"), 1), (row(1, "a"), -1)],
    ];
    let sent = send_steps(&config, &endpoint, &steps);
    endpoint.flush(READ_TIMEOUT).unwrap();

    let stats = endpoint.stats();
    assert_eq!(stats.transmitted_messages, 5);
    assert_eq!(stats.transmitted_records, 5);
    assert_eq!(stats.in_flight_messages, 0);
    assert_eq!(stats.health, EndpointHealth::Running);

    let got = read_topic(&servers, &topic.name, sent, READ_TIMEOUT).unwrap();
    assert_eq!(
        payloads(&got),
        vec![
            r#"{"insert":{"id":1,"s":"a"}}"#,
            r#"{"insert":{"id":2,"s":"b"}}"#,
            r#"{"insert":{"id":2,"s":"b"}}"#,
            r#"{"delete":{"id":1,"s":"a"}}"#,
            r#"{"insert":{"id":3,"s":"c"}}"#,
        ]
    );
    assert!(got.iter().all(|m| m.key.is_none()));
    assert_eq!(
        stats.transmitted_bytes,
        got.iter()
            .map(|m| m.payload_text().len() as u64)
            .sum::<u64>()
    );
}

#[test]
fn static_headers_arrive_on_every_message() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "headers", 1);
    let config = connector(
        &servers,
        &topic.name,
        json!({"headers": [{"key": "source", "value": "sluice"}, {"key": "bin", "value": [1, 2, 255]}, {"key": "empty"}]}),
        json!({"name": "csv"}),
    );
    let endpoint = KafkaOutputEndpoint::new("headers", kafka(&config)).unwrap();
    endpoint.connect().unwrap();
    let sent = send_steps(
        &config,
        &endpoint,
        &[vec![(row(1, "x"), 1), (row(2, "y"), -1)]],
    );
    endpoint.flush(READ_TIMEOUT).unwrap();

    let got = read_topic(&servers, &topic.name, sent, READ_TIMEOUT).unwrap();
    assert_eq!(payloads(&got), vec!["2,y,-1\n", "1,x,1\n"]);
    for m in &got {
        assert_eq!(
            m.headers,
            vec![
                ("source".to_string(), Some(b"sluice".to_vec())),
                ("bin".to_string(), Some(vec![1, 2, 255])),
                ("empty".to_string(), None),
            ]
        );
    }
}

#[test]
fn debezium_messages_carry_their_keys() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "debezium", 3);
    let config = connector(
        &servers,
        &topic.name,
        json!({}),
        json!({"name": "json", "config": {"update_format": "debezium", "key_fields": ["id"]}}),
    );
    let endpoint = KafkaOutputEndpoint::new("debezium", kafka(&config)).unwrap();
    assert_eq!(endpoint.connect().unwrap(), 3);
    let sent = send_steps(
        &config,
        &endpoint,
        &[
            vec![(row(7, "new"), 1), (row(7, "old"), -1)],
            vec![(row(7, "new"), -1)],
        ],
    );
    endpoint.flush(READ_TIMEOUT).unwrap();

    // Step 1 is one `u` message; step 2 a `d` and its tombstone. All on the key's one partition, in order.
    let got = read_topic(&servers, &topic.name, sent, READ_TIMEOUT).unwrap();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|m| m.partition == got[0].partition));
    let mut ops = Vec::new();
    for m in &got {
        let key: serde_json::Value = serde_json::from_slice(m.key.as_deref().unwrap()).unwrap();
        assert_eq!(key["payload"], json!({"id": 7}));
        let Some(payload) = m.payload.as_deref() else {
            ops.push("tombstone".to_string());
            continue;
        };
        let value: serde_json::Value = serde_json::from_slice(payload).unwrap();
        ops.push(value["payload"]["op"].as_str().unwrap().to_string());
        if ops.len() == 1 {
            assert_eq!(value["payload"]["before"]["s"], "old");
            assert_eq!(value["payload"]["after"]["s"], "new");
        }
    }
    assert_eq!(ops, vec!["u", "d", "tombstone"]);
}

#[test]
fn per_row_headers_follow_the_static_ones() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "rowheaders", 1);
    let config = connector(
        &servers,
        &topic.name,
        json!({"headers": [{"key": "source", "value": "sluice"}]}),
        json!({"name": "json", "config": {"header_fields": ["s"], "system_headers": true}}),
    );
    let endpoint = KafkaOutputEndpoint::new("headers", kafka(&config)).unwrap();
    endpoint.connect().unwrap();
    let sent = send_steps(&config, &endpoint, &[vec![(row(1, "eu"), 1)]]);
    endpoint.flush(READ_TIMEOUT).unwrap();
    let got = read_topic(&servers, &topic.name, sent, READ_TIMEOUT).unwrap();
    let headers: Vec<(String, String)> = got[0]
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), String::from_utf8(v.clone().unwrap()).unwrap()))
        .collect();
    let expected = [
        ("source", "sluice"),
        ("s", "eu"),
        ("sluice.op", "insert"),
        ("sluice.view", "v"),
        ("sluice.step", "0"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(headers, expected);
}

/// Decodes NDJSON messages into a multiset of (action, id, s).
fn decode_multiset(messages: &[ConsumedMessage]) -> BTreeMap<String, usize> {
    let mut set = BTreeMap::new();
    for m in messages {
        for line in m.payload_text().split('\n') {
            let v: serde_json::Value =
                serde_json::from_str(line).expect("every line is one JSON record");
            *set.entry(v.to_string()).or_default() += 1;
        }
    }
    set
}

#[test]
fn splitting_at_a_small_message_max_bytes_loses_and_duplicates_nothing() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "split", 1);
    let config = connector(
        &servers,
        &topic.name,
        json!({"message.max.bytes": 1000}),
        json!({"name": "json", "config": {"buffer_size_records": 50}}),
    );
    let endpoint = KafkaOutputEndpoint::new("split", kafka(&config)).unwrap();
    endpoint.connect().unwrap();
    assert!(endpoint.max_payload_bytes() < 1000);
    let records: Vec<(i64, String)> = (0..500)
        .map(|i| (i, "x".repeat((i % 7) as usize * 40)))
        .collect();
    let delta: Vec<(Row, i64)> = records.iter().map(|(i, s)| (row(*i, s), 1)).collect();
    let sent = send_steps(&config, &endpoint, &[delta]);
    endpoint.flush(READ_TIMEOUT).unwrap();
    assert!(
        sent > 500 / 50,
        "small messages force more than the 50-record packing: {sent}"
    );

    let got = read_topic(&servers, &topic.name, sent, READ_TIMEOUT).unwrap();
    assert_eq!(got.len(), sent);
    assert!(got
        .iter()
        .all(|m| m.payload.as_ref().unwrap().len() <= endpoint.max_payload_bytes()));
    let expected: BTreeMap<String, usize> = records
        .iter()
        .map(|(i, s)| (json!({"insert": {"id": i, "s": s}}).to_string(), 1))
        .collect();
    assert_eq!(decode_multiset(&got), expected);
    assert_eq!(endpoint.stats().transmitted_records, 500);
}

#[test]
fn unreachable_broker_is_reported_naming_the_servers_and_the_timeout() {
    // Nothing listens on port 1 of the loopback interface.
    let mut config = KafkaOutputConfig::new("127.0.0.1:1", "nowhere");
    config.initialization_timeout_secs = 2;
    let endpoint = KafkaOutputEndpoint::new("unreachable", &config).unwrap();
    let err = endpoint.connect().unwrap_err();
    assert!(
        matches!(
            err,
            KafkaOutputError::Connect(KafkaConnectError::Unreachable {
                timeout_secs: 2,
                ..
            })
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("broker(s) '127.0.0.1:1'") && text.contains("did not answer within 2 s"),
        "{text}"
    );
}

#[test]
fn missing_topic_is_reported_naming_the_topic_the_brokers_and_librdkafkas_reason() {
    let servers = brokers();
    let topic = format!("missing-{:08x}", rand::random::<u32>());
    let mut config = KafkaOutputConfig::new(&servers, &topic);
    config.initialization_timeout_secs = 5;
    let endpoint = KafkaOutputEndpoint::new("missing", &config).unwrap();
    let err = endpoint.connect().unwrap_err();
    let KafkaOutputError::Connect(KafkaConnectError::TopicMissing { reason, .. }) = &err else {
        panic!("expected TopicMissing, got {err:?}");
    };
    let reason = reason
        .clone()
        .expect("the broker's metadata carries an error for the topic");
    let text = err.to_string();
    assert!(
        text.contains(&format!("topic '{topic}'"))
            && text.contains(&format!("broker(s) '{servers}'"))
            && text.contains(&reason),
        "{text}"
    );
}

#[test]
fn message_over_the_size_limit_fails_the_endpoint_like_a_broker_refusal() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "too-large", 1);
    let config = connector(
        &servers,
        &topic.name,
        json!({"message.max.bytes": 1000}),
        json!({"name": "json"}),
    );
    let endpoint = KafkaOutputEndpoint::new("too-large", kafka(&config)).unwrap();
    endpoint.connect().unwrap();
    let limit = endpoint.max_payload_bytes();
    endpoint.send(None, &vec![b'x'; limit], 1).unwrap();
    endpoint.flush(READ_TIMEOUT).unwrap();

    // One byte over Sluice's limit, still under librdkafka's own: refused by the endpoint itself.
    let err = endpoint.send(None, &vec![b'y'; limit + 1], 1).unwrap_err();
    assert!(
        matches!(err, KafkaOutputError::TooLarge { size, .. } if size == limit + 1),
        "{err}"
    );
    let stats = endpoint.stats();
    match &stats.health {
        EndpointHealth::Failed { error, .. } => {
            assert_eq!(error, &err.to_string());
            assert!(error.contains(&topic.name), "{error}");
        }
        other => panic!("expected failed, got {other:?}"),
    }
    // Failed means failed: a message of a fitting size is refused too, and nothing else was sent.
    let again = endpoint.send(None, b"{}", 1).unwrap_err();
    assert!(matches!(again, KafkaOutputError::Failed(_)), "{again}");
    assert_eq!(
        (
            stats.transmitted_messages,
            stats.in_flight_messages,
            stats.failed_messages
        ),
        (1, 0, 0)
    );
    let got = read_topic(&servers, &topic.name, 1, READ_TIMEOUT).unwrap();
    assert_eq!(got.len(), 1);
}

#[test]
fn flush_timeout_names_the_unacknowledged_messages_and_counts_none_as_delivered() {
    let broker = PrivateBroker::start();
    let servers = broker.address();
    let topic = TestTopic::new(&servers, "flush", 1);
    let config = connector(
        &servers,
        &topic.name,
        json!({"reconnect.backoff.max.ms": 500}),
        json!({"name": "json"}),
    );
    let endpoint = KafkaOutputEndpoint::new("flush", kafka(&config)).unwrap();
    endpoint.connect().unwrap();
    let message = |i: usize| format!(r#"{{"insert":{{"id":{i},"s":"flush"}}}}"#);
    let bytes = |ids: std::ops::Range<usize>| ids.map(|i| message(i).len() as u64).sum::<u64>();

    for i in 0..5 {
        endpoint.send(None, message(i).as_bytes(), 1).unwrap();
    }
    endpoint.flush(READ_TIMEOUT).unwrap();

    // With the broker gone, nothing sent from now on can be acknowledged.
    broker.down();
    for i in 5..15 {
        endpoint.send(None, message(i).as_bytes(), 1).unwrap();
    }
    let err = endpoint.flush(Duration::from_secs(1)).unwrap_err();
    assert!(
        matches!(err, KafkaOutputError::FlushTimeout { in_flight: 10, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("10 messages") && text.contains(&topic.name),
        "{text}"
    );
    let stats = endpoint.stats();
    assert_eq!(
        (stats.transmitted_messages, stats.transmitted_bytes),
        (5, bytes(0..5)),
        "{stats:?}"
    );
    assert_eq!(
        (
            stats.in_flight_messages,
            stats.in_flight_records,
            stats.in_flight_bytes
        ),
        (10, 10, bytes(5..15)),
        "{stats:?}"
    );
    assert_eq!(
        (
            stats.queued_messages,
            stats.queued_bytes,
            stats.failed_messages
        ),
        (0, 0, 0),
        "{stats:?}"
    );

    // The timeout dropped nothing: once the broker is back, the same messages are delivered, once each.
    broker.up();
    endpoint.flush(Duration::from_secs(60)).unwrap();
    let stats = endpoint.stats();
    assert_eq!(
        (
            stats.transmitted_messages,
            stats.transmitted_bytes,
            stats.in_flight_bytes
        ),
        (15, bytes(0..15), 0),
        "{stats:?}"
    );
    let got = read_topic(&servers, &topic.name, 15, READ_TIMEOUT).unwrap();
    assert_eq!(payloads(&got), (0..15).map(message).collect::<Vec<_>>());
}

#[test]
fn broker_restart_mid_stream_stalls_applies_backpressure_then_delivers_everything_once() {
    let broker = PrivateBroker::start();
    let servers = broker.address();
    let topic = TestTopic::new(&servers, "restart", 1);
    // A small local queue makes the outage turn into backpressure quickly; fast reconnects keep the test short.
    let config = connector(
        &servers,
        &topic.name,
        json!({"queue.buffering.max.messages": 20, "reconnect.backoff.max.ms": 500}),
        json!({"name": "json"}),
    );
    let endpoint =
        std::sync::Arc::new(KafkaOutputEndpoint::new("restart", kafka(&config)).unwrap());
    endpoint.connect().unwrap();

    let before: Vec<(Row, i64)> = (0..50).map(|i| (row(i, "before"), 1)).collect();
    send_steps(&config, &endpoint, &[before]);
    endpoint.flush(READ_TIMEOUT).unwrap();
    assert_eq!(endpoint.stats().transmitted_messages, 50);

    broker.down();
    let during: Vec<(Row, i64)> = (50..150).map(|i| (row(i, "during"), 1)).collect();
    let sender = {
        let endpoint = endpoint.clone();
        let config = config.clone();
        std::thread::spawn(move || send_steps(&config, &endpoint, &[during]))
    };
    // While the broker is down nothing more is acknowledged, the sender is held back by the full queue, and the
    // endpoint says it is stalled.
    assert!(
        eventually(Duration::from_secs(30), || matches!(
            endpoint.stats().health,
            EndpointHealth::Stalled { .. }
        )),
        "endpoint never reported a stall: {:?}",
        endpoint.stats()
    );
    let stalled = endpoint.stats();
    assert_eq!(stalled.transmitted_messages, 50);
    // Each librdkafka error is listed once: rdkafka 0.39 reports every producer error event twice.
    assert!(!stalled.transport_errors.is_empty(), "{stalled:?}");
    assert_eq!(
        stalled.num_transport_errors,
        stalled.transport_errors.len() as u64
    );
    for pair in stalled.transport_errors.windows(2) {
        assert!(
            pair[0].message != pair[1].message || pair[1].at_ms - pair[0].at_ms >= 100,
            "an error listed twice: {:?}",
            stalled.transport_errors
        );
    }
    assert!(stalled.in_flight_messages <= 20, "{stalled:?}");
    assert!(
        !sender.is_finished(),
        "the sender should be blocked by backpressure"
    );

    broker.up();
    assert_eq!(sender.join().unwrap(), 100);
    endpoint.flush(Duration::from_secs(60)).unwrap();
    let stats = endpoint.stats();
    assert_eq!(stats.transmitted_messages, 150);
    assert_eq!(stats.failed_messages, 0);
    assert_eq!(stats.health, EndpointHealth::Running);

    let got = read_topic(&servers, &topic.name, 150, READ_TIMEOUT).unwrap();
    let ids: Vec<i64> = got
        .iter()
        .map(|m| {
            let v: serde_json::Value =
                serde_json::from_slice(m.payload.as_deref().unwrap()).unwrap();
            v["insert"]["id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(
        ids,
        (0..150).collect::<Vec<_>>(),
        "every record exactly once, in order"
    );
}

#[test]
fn topic_deleted_under_a_running_connector_fails_it_and_accounts_for_every_message() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "vanishing", 1);
    // Short metadata waits so that librdkafka concludes quickly that the topic is gone.
    let config = connector(
        &servers,
        &topic.name,
        json!({"topic.metadata.refresh.interval.ms": 200, "topic.metadata.propagation.max.ms": 1000}),
        json!({"name": "json"}),
    );
    let endpoint = KafkaOutputEndpoint::new("vanishing", kafka(&config)).unwrap();
    endpoint.connect().unwrap();
    send_steps(&config, &endpoint, &[vec![(row(1, "kept"), 1)]]);
    endpoint.flush(READ_TIMEOUT).unwrap();
    assert_eq!(endpoint.stats().transmitted_messages, 1);

    kafka_tools::delete_topic(&servers, &topic.name).unwrap();
    // Keep sending until the endpoint refuses: a permanent error must surface, never a silent drop.
    let mut accepted = 1;
    let refused = eventually(Duration::from_secs(60), || {
        let result = endpoint.send(None, br#"{"insert":{"id":2,"s":"lost?"}}"#, 1);
        accepted += u64::from(result.is_ok());
        result.is_err()
    });
    assert!(refused, "sends kept being accepted: {:?}", endpoint.stats());
    let _ = endpoint.flush(Duration::from_secs(10));
    let stats = endpoint.stats();
    match &stats.health {
        EndpointHealth::Failed { error, .. } => {
            assert!(error.contains(&topic.name), "{error}");
        }
        other => panic!("expected failed, got {other:?}"),
    }
    // Messages the broker still acknowledged right after the deletion count as transmitted; every other accepted
    // message is counted as failed. None is unaccounted for.
    assert_eq!(
        stats.transmitted_messages + stats.failed_messages,
        accepted,
        "{stats:?}"
    );
    assert_eq!(
        stats.in_flight_messages + stats.queued_messages,
        0,
        "{stats:?}"
    );
    assert!(stats.failed_messages >= 1, "{stats:?}");
}

/// Deletes a topic that a test had the connector create, when the test ends (also when it fails).
struct CreatedTopic {
    servers: String,
    name: String,
}

impl CreatedTopic {
    /// A unique name for a topic that does not exist yet.
    fn new(servers: &str, prefix: &str) -> Self {
        CreatedTopic {
            servers: servers.to_string(),
            name: format!("{prefix}-{:08x}", rand::random::<u32>()),
        }
    }
}

impl Drop for CreatedTopic {
    fn drop(&mut self) {
        let _ = kafka_tools::delete_topic(&self.servers, &self.name);
    }
}

/// An admin client that never auto-creates a topic by asking for its metadata.
fn admin(servers: &str) -> rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", servers)
        .set("allow.auto.create.topics", "false")
        .create()
        .unwrap()
}

/// The topic's partition count as the brokers report it; `None` when the topic does not exist.
fn partition_count(servers: &str, topic: &str) -> Option<usize> {
    let metadata = admin(servers)
        .inner()
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let found = metadata.topics().iter().find(|t| t.name() == topic)?;
    (found.error().is_none() && !found.partitions().is_empty()).then(|| found.partitions().len())
}

/// One topic config of `topic` as the broker describes it.
fn topic_config(servers: &str, topic: &str, name: &str) -> Option<String> {
    use rdkafka::admin::{AdminOptions, ResourceSpecifier};
    let admin = admin(servers);
    let results = futures_executor::block_on(
        admin.describe_configs([&ResourceSpecifier::Topic(topic)], &AdminOptions::new()),
    )
    .unwrap();
    let resource = results.into_iter().next().unwrap().unwrap();
    resource.get(name).and_then(|e| e.value.clone())
}

#[test]
fn create_topic_creates_a_missing_topic_with_its_partitions_and_configs() {
    let servers = brokers();
    let topic = CreatedTopic::new(&servers, "create");
    assert_eq!(partition_count(&servers, &topic.name), None);
    let config = connector(
        &servers,
        &topic.name,
        json!({"create_topic": {"partitions": 6, "config": {"cleanup.policy": "compact"}}}),
        json!({"name": "json"}),
    );
    let endpoint = KafkaOutputEndpoint::new("create", kafka(&config)).unwrap();
    assert_eq!(endpoint.connect().unwrap(), 6);
    assert_eq!(partition_count(&servers, &topic.name), Some(6));
    assert_eq!(
        topic_config(&servers, &topic.name, "cleanup.policy").as_deref(),
        Some("compact")
    );

    // The first message goes through at once (a compacted topic takes only keyed messages).
    endpoint.send(Some(b"k1"), b"first", 1).unwrap();
    endpoint.flush(READ_TIMEOUT).unwrap();
    assert_eq!(endpoint.stats().transmitted_messages, 1);
    assert_eq!(endpoint.stats().health, EndpointHealth::Running);
    let got = read_topic(&servers, &topic.name, 1, READ_TIMEOUT).unwrap();
    assert_eq!(payloads(&got), vec!["first".to_string()]);
    assert_eq!(got[0].key.as_deref(), Some(&b"k1"[..]));

    // A second start finds the topic and leaves it as it is.
    let again = KafkaOutputEndpoint::new("create-again", kafka(&config)).unwrap();
    assert_eq!(again.connect().unwrap(), 6);
}

#[test]
fn create_topic_without_counts_takes_the_brokers_defaults() {
    let servers = brokers();
    let topic = CreatedTopic::new(&servers, "defaults");
    let config = connector(
        &servers,
        &topic.name,
        json!({"create_topic": {}}),
        json!({"name": "json"}),
    );
    let endpoint = KafkaOutputEndpoint::new("defaults", kafka(&config)).unwrap();
    // scripts/broker.sh's Kafka has num.partitions=1 and default.replication.factor=1.
    assert_eq!(endpoint.connect().unwrap(), 1);
    assert_eq!(partition_count(&servers, &topic.name), Some(1));
    endpoint.send(None, b"v", 1).unwrap();
    endpoint.flush(READ_TIMEOUT).unwrap();
    assert_eq!(endpoint.stats().transmitted_messages, 1);
}

#[test]
fn missing_topic_without_create_topic_fails_naming_the_topic_and_suggesting_create_topic() {
    let servers = brokers();
    let topic = CreatedTopic::new(&servers, "not-created");
    let config = connector(&servers, &topic.name, json!({}), json!({"name": "json"}));
    let endpoint = KafkaOutputEndpoint::new("not-created", kafka(&config)).unwrap();
    let err = endpoint.connect().unwrap_err();
    assert!(
        matches!(
            err,
            KafkaOutputError::Connect(KafkaConnectError::TopicMissing { .. })
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("topic '{}'", topic.name)) && text.contains("create_topic"),
        "{text}"
    );
    assert_eq!(partition_count(&servers, &topic.name), None);
}

#[test]
fn create_topic_leaves_an_existing_topic_with_fewer_partitions_as_it_is() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "fewer", 2);
    let config = connector(
        &servers,
        &topic.name,
        json!({"create_topic": {"partitions": 6, "config": {"cleanup.policy": "compact"}}}),
        json!({"name": "json"}),
    );
    let endpoint = KafkaOutputEndpoint::new("fewer", kafka(&config)).unwrap();
    // Started, on the partitions the topic has (the shortfall is a warning in the log).
    assert_eq!(endpoint.connect().unwrap(), 2);
    assert_eq!(partition_count(&servers, &topic.name), Some(2));
    assert_eq!(
        topic_config(&servers, &topic.name, "cleanup.policy").as_deref(),
        Some("delete")
    );
    endpoint.send(Some(b"k"), b"v", 1).unwrap();
    endpoint.flush(READ_TIMEOUT).unwrap();
    assert_eq!(endpoint.stats().transmitted_messages, 1);
}

#[test]
fn create_topic_with_an_impossible_replication_factor_fails_naming_the_topic_and_the_reason() {
    let servers = brokers();
    let brokers_in_cluster = kafka_tools::wait_for_broker(&servers, READ_TIMEOUT).unwrap();
    let impossible = brokers_in_cluster + 2;
    let topic = CreatedTopic::new(&servers, "replicas");
    let config = connector(
        &servers,
        &topic.name,
        json!({"create_topic": {"partitions": 1, "replication_factor": impossible}}),
        json!({"name": "json"}),
    );
    let endpoint = KafkaOutputEndpoint::new("replicas", kafka(&config)).unwrap();
    let err = endpoint.connect().unwrap_err();
    assert!(
        matches!(
            err,
            KafkaOutputError::Connect(KafkaConnectError::CreateTopic { .. })
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("topic '{}'", topic.name))
            && text.contains("Invalid replication factor")
            && text.contains(&format!(
                "create_topic.replication_factor is {impossible} and the cluster has {brokers_in_cluster} broker(s)"
            )),
        "{text}"
    );
    assert_eq!(partition_count(&servers, &topic.name), None);
}

#[test]
fn create_topic_with_an_unknown_topic_config_fails_naming_the_config() {
    let servers = brokers();
    let topic = CreatedTopic::new(&servers, "bad-config");
    let config = connector(
        &servers,
        &topic.name,
        json!({"create_topic": {"config": {"no.such.topic.config": "1"}}}),
        json!({"name": "json"}),
    );
    let endpoint = KafkaOutputEndpoint::new("bad-config", kafka(&config)).unwrap();
    let text = endpoint.connect().unwrap_err().to_string();
    assert!(
        text.contains(&format!("topic '{}'", topic.name)) && text.contains("no.such.topic.config"),
        "{text}"
    );
    assert_eq!(partition_count(&servers, &topic.name), None);
}

#[test]
fn connectors_racing_to_create_the_same_topic_all_start() {
    let servers = brokers();
    let topic = CreatedTopic::new(&servers, "race");
    let config = connector(
        &servers,
        &topic.name,
        json!({"create_topic": {"partitions": 3}}),
        json!({"name": "json"}),
    );
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let config = &config;
                s.spawn(move || {
                    let endpoint =
                        KafkaOutputEndpoint::new(&format!("race-{i}"), kafka(config)).unwrap();
                    endpoint.connect().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(counts, vec![3; 4]);
    assert_eq!(partition_count(&servers, &topic.name), Some(3));
}
