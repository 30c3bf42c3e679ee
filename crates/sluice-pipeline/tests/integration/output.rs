//! `OutputConnector` against the real local broker: order, stats, encode errors (failing, or skipped), backpressure through
//! a broker outage, start-up errors. Enabled with `--features kafka-integration-tests` (`scripts/test.sh`).
#![cfg(feature = "kafka-integration-tests")]

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sluice_data::{Field, Relation, Row, SqlType, Value};
use sluice_pipeline::output::{OutputConnector, OutputError};
use sluice_transports::kafka_output::EndpointHealth;
use sluice_transports::kafka_tools::read_topic;
use sluice_transports::testing::{brokers, eventually, PrivateBroker, TestTopic};
use sluice_types::{ConnectorConfig, EncodeErrorPolicy};

const TIMEOUT: Duration = Duration::from_secs(30);

fn view() -> Relation {
    Relation::new(
        "total_sales",
        vec![
            Field::new("book", SqlType::varchar(), false),
            Field::new("copies", SqlType::BigInt, false),
        ],
    )
}

fn row(book: &str, copies: i64) -> Row {
    Row::new(vec![Value::from(book), Value::BigInt(copies)])
}

/// A `kafka_output` connector config; `extra` holds librdkafka options plus, optionally, the connector-level
/// `max_queued_records`.
fn config(
    servers: &str,
    topic: &str,
    mut extra: serde_json::Value,
    format: serde_json::Value,
) -> ConnectorConfig {
    let max_queued = extra.as_object_mut().unwrap().remove("max_queued_records");
    let mut transport =
        json!({"bootstrap.servers": servers, "topic": topic, "initialization_timeout_secs": 10});
    for (k, v) in extra.as_object().unwrap() {
        transport[k] = v.clone();
    }
    let mut body =
        json!({"transport": {"name": "kafka_output", "config": transport}, "format": format});
    if let Some(m) = max_queued {
        body["max_queued_records"] = m;
    }
    serde_json::from_value(body).unwrap()
}

#[test]
fn steps_are_delivered_in_order_and_stats_count_acknowledged_records() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "pipeline-order", 1);
    let cfg = config(&servers, &topic.name, json!({}), json!({"name": "json"}));
    let connector = OutputConnector::start("p", "total-sales", &view(), &cfg, None).unwrap();
    connector.push(1, Arc::new(vec![(row("a", 1), 1), (row("b", 2), 1)]), false);
    connector.push(
        2,
        Arc::new(vec![(row("a", 3), 1), (row("a", 1), -1)]),
        false,
    );
    connector.push(3, Arc::new(vec![]), false);
    let stats = connector.shutdown(TIMEOUT).unwrap();

    assert_eq!(stats.processed_steps, 2, "the empty step is not queued");
    assert_eq!(stats.processed_records, 4);
    assert_eq!((stats.queued_records, stats.queued_batches), (0, 0));
    assert_eq!(stats.transport.transmitted_records, 4);
    assert_eq!(stats.transport.health, EndpointHealth::Running);
    let got: Vec<String> = read_topic(&servers, &topic.name, 4, TIMEOUT)
        .unwrap()
        .iter()
        .map(|m| m.payload_text())
        .collect();
    assert_eq!(
        got,
        vec![
            r#"{"insert":{"book":"a","copies":1}}"#,
            r#"{"insert":{"book":"b","copies":2}}"#,
            r#"{"delete":{"book":"a","copies":1}}"#,
            r#"{"insert":{"book":"a","copies":3}}"#,
        ]
    );
}

/// By default a record that cannot be encoded fails the connector, naming the view and the record: skipping it
/// silently (a delete, say) would leave a stale row downstream for good.
#[test]
fn a_record_that_cannot_be_encoded_fails_the_connector_by_default() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "pipeline-encode-fail", 1);
    let cfg = config(&servers, &topic.name, json!({}), json!({"name": "json"}));
    let connector = OutputConnector::start("p", "total-sales", &view(), &cfg, None).unwrap();
    let bad = Row::new(vec![Value::from("bad"), Value::Null]);
    connector.push(1, Arc::new(vec![(row("good", 1), 1), (bad, -1)]), false);
    assert!(eventually(TIMEOUT, || connector.fatal_error().is_some()));
    let error = connector.fatal_error().unwrap();
    for part in ["total_sales", "copies", "on_encode_error"] {
        assert!(error.contains(part), "{part}: {error}");
    }
    assert_eq!(connector.stats().num_encode_errors, 1);
    // The connector moves nothing any more: its health says so, though Kafka itself is fine.
    match connector.stats().transport.health {
        EndpointHealth::Failed { error: e, .. } => assert_eq!(e, error),
        other => panic!("health {other:?} after the connector failed"),
    }
    let err = connector.shutdown(TIMEOUT).unwrap_err();
    assert!(matches!(err, OutputError::Undelivered { .. }), "{err}");
}

/// With `on_encode_error: skip`.
#[test]
fn a_record_that_cannot_be_encoded_is_listed_and_the_rest_is_delivered() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "pipeline-encode-error", 1);
    let mut cfg = config(&servers, &topic.name, json!({}), json!({"name": "json"}));
    cfg.on_encode_error = EncodeErrorPolicy::Skip;
    let connector = OutputConnector::start("p", "total-sales", &view(), &cfg, None).unwrap();
    // NULL in the NOT NULL column `copies`.
    let bad = Row::new(vec![Value::from("bad"), Value::Null]);
    connector.push(
        1,
        Arc::new(vec![(row("good", 1), 1), (bad, 1), (row("fine", 2), 1)]),
        false,
    );
    let stats = connector.shutdown(TIMEOUT).unwrap();

    assert_eq!(stats.num_encode_errors, 1);
    assert!(
        stats.encode_errors[0].message.contains("total_sales"),
        "{:?}",
        stats.encode_errors
    );
    assert!(
        stats.encode_errors[0].message.contains("copies"),
        "{:?}",
        stats.encode_errors
    );
    assert_eq!(stats.transport.transmitted_records, 2);
    assert_eq!(
        read_topic(&servers, &topic.name, 2, TIMEOUT).unwrap().len(),
        2
    );
}

#[test]
fn a_full_queue_signals_backpressure_through_a_broker_outage_and_nothing_is_lost() {
    let broker = PrivateBroker::start();
    let servers = broker.address();
    let topic = TestTopic::new(&servers, "pipeline-backpressure", 1);
    let cfg = config(
        &servers,
        &topic.name,
        json!({"max_queued_records": 20, "queue.buffering.max.messages": 10, "reconnect.backoff.max.ms": 500}),
        json!({"name": "json"}),
    );
    let connector = OutputConnector::start("p", "total-sales", &view(), &cfg, None).unwrap();
    broker.down();

    // A controller pushes a step only while the connector is not full.
    let mut pushed = 0i64;
    let mut step = 0;
    let full = eventually(TIMEOUT, || {
        if !connector.is_full() && step < 100 {
            step += 1;
            connector.push(
                step,
                Arc::new((0..5).map(|i| (row("book", pushed + i), 1)).collect()),
                false,
            );
            pushed += 5;
        }
        connector.is_full()
    });
    assert!(full, "queue never filled: {:?}", connector.stats());
    let stalled = connector.stats();
    assert!(stalled.queued_records >= 20, "{stalled:?}");
    assert!(
        stalled.transport.transmitted_records < pushed as u64,
        "{stalled:?}"
    );

    broker.up();
    assert!(
        eventually(Duration::from_secs(60), || !connector.is_full()),
        "{:?}",
        connector.stats()
    );
    let stats = connector.shutdown(Duration::from_secs(60)).unwrap();
    assert_eq!(stats.transport.transmitted_records, pushed as u64);
    assert_eq!(stats.transport.failed_messages, 0);
    let got = read_topic(&servers, &topic.name, pushed as usize, TIMEOUT).unwrap();
    assert_eq!(got.len(), pushed as usize);
}

#[test]
fn start_fails_naming_the_connector_and_the_missing_topic() {
    let servers = brokers();
    let cfg = config(
        &servers,
        "no-such-topic-for-sluice",
        json!({}),
        json!({"name": "json"}),
    );
    let err = OutputConnector::start("p", "total-sales", &view(), &cfg, None)
        .err()
        .unwrap();
    assert!(matches!(err, OutputError::Transport { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("total-sales") && text.contains("no-such-topic-for-sluice"),
        "{text}"
    );
}

#[test]
fn start_rejects_key_fields_that_are_not_columns_of_the_view() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "pipeline-keys", 1);
    let cfg = config(
        &servers,
        &topic.name,
        json!({}),
        json!({"name": "json", "config": {"update_format": "debezium", "key_fields": ["isbn"]}}),
    );
    let err = OutputConnector::start("p", "total-sales", &view(), &cfg, None)
        .err()
        .unwrap();
    match err {
        OutputError::Config { error, .. } => {
            assert_eq!(error.field, "format.config.key_fields");
            assert!(error.reason.contains("isbn"), "{error}");
        }
        other => panic!("expected a config error, got {other}"),
    }
}

/// A shutdown that runs out of time while the connector's thread waits for room (its broker down) leaves no thread
/// sending: nothing of the abandoned queue reaches the topic when the broker comes back.
#[test]
fn a_shutdown_that_times_out_leaves_no_thread_sending() {
    let broker = PrivateBroker::start();
    let servers = broker.address();
    let topic = TestTopic::new(&servers, "pipeline-abandoned", 1);
    // A local queue of 10 messages: the thread soon waits for room.
    let cfg = config(
        &servers,
        &topic.name,
        json!({"queue.buffering.max.messages": "10"}),
        json!({"name": "json"}),
    );
    let connector = OutputConnector::start("p", "total-sales", &view(), &cfg, None).unwrap();
    broker.down();
    connector.push(
        1,
        Arc::new((0..100).map(|i| (row("book", i), 1)).collect()),
        false,
    );
    assert!(eventually(TIMEOUT, || {
        connector.stats().transport.in_flight_messages >= 10
    }));
    let err = connector.shutdown(Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, OutputError::Undelivered { .. }), "{err}");
    broker.up();
    // A thread left behind would drain its queue into the topic now that the broker is back.
    std::thread::sleep(Duration::from_secs(5));
    let delivered = read_topic(&servers, &topic.name, 0, TIMEOUT).unwrap();
    assert_eq!(delivered.len(), 0, "messages sent after shutdown");
}
