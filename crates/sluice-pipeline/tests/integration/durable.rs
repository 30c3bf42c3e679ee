//! Durable pipelines against real brokers: a pipeline shut down while its broker is down (its last checkpoint never
//! committed, its output queue dropped) sends every change at the next start, from its journal; a checkpoint's
//! Kafka input positions are committed to the connector's consumer group, for Kafka's tools; a step that fails
//! loses nothing once the pipeline is started again.
//! Enabled with `--features kafka-integration-tests` (`scripts/test.sh`).
#![cfg(feature = "kafka-integration-tests")]

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use sluice_data::{Row, Value};
use sluice_pipeline::durable::DurableConfig;
use sluice_pipeline::{
    ControllerConfig, InputSpec, OutputSpec, Pipeline, PipelineSpec, PipelineState,
};
use sluice_sql::Program;
use sluice_transports::kafka_tools::read_topic;
use sluice_transports::testing::{brokers, eventually, PrivateBroker, TestTopic};
use sluice_types::ConnectorConfig;

const TIMEOUT: Duration = Duration::from_secs(30);

const PROGRAM: &str = "CREATE TABLE sales (id BIGINT NOT NULL PRIMARY KEY, copies BIGINT NOT NULL);
CREATE VIEW totals AS SELECT id % 5 AS shelf, SUM(copies) AS copies FROM sales GROUP BY id % 5;";

fn spec(servers: &str, topic: &str, state: &std::path::Path) -> PipelineSpec {
    let config: ConnectorConfig = serde_json::from_value(json!({
        "transport": {"name": "kafka_output", "config": {
            "bootstrap.servers": servers, "topic": topic, "initialization_timeout_secs": 20}},
        "format": {"name": "json"}}))
    .unwrap();
    PipelineSpec {
        name: "outage".into(),
        program: Program::compile(PROGRAM).unwrap(),
        config: ControllerConfig::default(),
        inputs: Vec::new(),
        outputs: vec![OutputSpec {
            name: "out".into(),
            view: "totals".into(),
            config,
        }],
        durable: Some(DurableConfig {
            state_dir: state.to_path_buf(),
            checkpoint_interval: Duration::from_secs(3600),
            program_fingerprint: "outage-test".into(),
            exactly_once: None,
        }),
    }
}

fn sales(from: i64, to: i64, copies: i64) -> Vec<(Row, i64)> {
    (from..to)
        .map(|id| (Row::new(vec![Value::BigInt(id), Value::BigInt(copies)]), 1))
        .collect()
}

/// The view rebuilt from the topic with set semantics (inserts add a row, deletes remove it).
fn rebuilt(servers: &str, topic: &str) -> BTreeSet<String> {
    let mut view = BTreeSet::new();
    for m in read_topic(servers, topic, 0, TIMEOUT).unwrap() {
        let v: serde_json::Value = serde_json::from_str(&m.payload_text()).unwrap();
        if let Some(row) = v.get("insert") {
            view.insert(row.to_string());
        } else {
            view.remove(&v["delete"].to_string());
        }
    }
    view
}

/// Waits until the view rebuilt from `topic` is every shelf (0–4) with `copies`; fails with what it is otherwise.
fn every_shelf_reaches(servers: &str, topic: &str, copies: i64) {
    let expected: BTreeSet<String> = (0..5)
        .map(|shelf| json!({"shelf": shelf, "copies": copies}).to_string())
        .collect();
    assert!(
        eventually(TIMEOUT, || rebuilt(servers, topic) == expected),
        "{:?}",
        rebuilt(servers, topic)
    );
}

#[test]
fn shutdown_during_an_outage_then_restart_delivers_every_change() {
    let broker = PrivateBroker::start();
    let servers = broker.address();
    let topic = TestTopic::new(&servers, "durable-outage", 1);
    let state = tempfile::tempdir().unwrap();

    let p = Pipeline::start(spec(&servers, &topic.name, state.path()), false).unwrap();
    p.ingest("sales", sales(0, 50, 1), 0, TIMEOUT).unwrap();
    assert!(eventually(TIMEOUT, || {
        p.stats().outputs[0].transport.transmitted_messages == 5
    }));

    broker.down();
    // Updates by key of every row: every group changes, and nothing can be delivered.
    p.ingest("sales", sales(0, 50, 2), 0, TIMEOUT).unwrap();
    assert!(eventually(TIMEOUT, || {
        let g = p.stats().global_metrics;
        g.total_processed_records == 100
    }));
    let errors = p
        .shutdown(Duration::from_secs(3))
        .expect_err("nothing could be delivered");
    assert!(
        errors.iter().any(|e| e.contains("not delivered")),
        "{errors:?}"
    );
    drop(p);

    broker.up();
    let p = Pipeline::start(spec(&servers, &topic.name, state.path()), false).unwrap();
    let ft = p.stats().fault_tolerance.unwrap();
    assert!(ft.replayed_steps >= 1, "{ft:?}");
    every_shelf_reaches(&servers, &topic.name, 20);
    p.shutdown(TIMEOUT).unwrap();
}

#[test]
fn a_checkpoint_commits_the_kafka_input_positions_to_the_consumer_group() {
    use rdkafka::consumer::{BaseConsumer, Consumer};

    let servers = brokers();
    let input = TestTopic::new(&servers, "durable-commit-in", 2);
    let output = TestTopic::new(&servers, "durable-commit-out", 1);
    let state = tempfile::tempdir().unwrap();
    let mut spec = spec(&servers, &output.name, state.path());
    let scope = format!("commit-{:08x}", rand::random::<u32>());
    spec.inputs.push(InputSpec {
        name: "sales-in".into(),
        table: "sales".into(),
        config: serde_json::from_value(json!({
            "transport": {"name": "kafka_input", "config": {"bootstrap.servers": servers,
                "topics": [input.name], "auto.offset.reset": "earliest"}},
            "format": {"name": "json", "config": {"update_format": "insert_delete"}}}))
        .unwrap(),
        group_scope: Some(scope.clone()),
    });
    // Six messages on partition 0 and four on partition 1.
    let messages: Vec<String> = (0..10)
        .map(|id| json!({"insert": {"id": id, "copies": 1}}).to_string())
        .collect();
    for (partition, range) in [(0, 0..6), (1, 6..10)] {
        let payloads: Vec<&[u8]> = messages[range].iter().map(|m| m.as_bytes()).collect();
        sluice_transports::kafka_tools::produce_to(&servers, &input.name, partition, &payloads)
            .unwrap();
    }
    let p = Pipeline::start(spec, false).unwrap();
    assert!(eventually(TIMEOUT, || {
        p.stats().global_metrics.total_processed_records == 10
    }));
    let sequence = p.checkpoint().unwrap();
    let status = p.wait_for_checkpoint(sequence, TIMEOUT).unwrap();
    assert_eq!(status.success, Some(sequence), "{status:?}");

    let group = format!("sluice-{scope}-sales-in");
    let reader: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .set("group.id", &group)
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition(&input.name, 0);
    tpl.add_partition(&input.name, 1);
    let committed = || -> Vec<rdkafka::Offset> {
        reader
            .committed_offsets(tpl.clone(), Duration::from_secs(5))
            .unwrap()
            .elements()
            .iter()
            .map(|e| e.offset())
            .collect()
    };
    assert!(
        eventually(TIMEOUT, || committed()
            == [rdkafka::Offset::Offset(6), rdkafka::Offset::Offset(4)]),
        "{:?}",
        committed()
    );
    p.shutdown(TIMEOUT).unwrap();
}

/// A step that fails (here a panic, as a bug would make one) fails the pipeline, visibly; its input was journaled
/// before it was accepted, so the next start takes it again and every change arrives.
#[test]
fn a_failed_step_loses_nothing_after_a_restart() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "durable-failed-step", 1);
    let state = tempfile::tempdir().unwrap();
    let p = Pipeline::start(spec(&servers, &topic.name, state.path()), false).unwrap();
    p.ingest("sales", sales(0, 50, 1), 0, TIMEOUT).unwrap();
    assert!(eventually(TIMEOUT, || {
        p.stats().global_metrics.total_processed_records == 50
    }));
    p.inject_panic();
    // Accepted (journaled) first; the step that takes it panics.
    p.ingest("sales", sales(0, 50, 2), 0, TIMEOUT).unwrap();
    assert!(eventually(TIMEOUT, || p.state().0 == PipelineState::Failed));
    let error = p.state().1.unwrap();
    assert!(error.contains("panicked"), "{error}");
    assert!(p.shutdown(TIMEOUT).is_err(), "the failure is reported");
    drop(p);

    let p = Pipeline::start(spec(&servers, &topic.name, state.path()), false).unwrap();
    every_shelf_reaches(&servers, &topic.name, 20);
    assert_eq!(p.state().0, PipelineState::Running);
    p.shutdown(TIMEOUT).unwrap();
}

/// `exactly_once` refuses an output that cannot deliver exactly once, naming it, instead of quietly delivering at
/// least once; `null_output` (nothing delivered, nothing twice) is accepted.
#[test]
fn exactly_once_refuses_file_output_and_accepts_null_output() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("out.jsonl");
    let mut spec = spec(&brokers(), "unused", state.path());
    spec.durable.as_mut().unwrap().exactly_once =
        Some(sluice_pipeline::durable::ExactlyOnceConfig {
            scope: "refusal".into(),
        });
    spec.outputs[0].config = serde_json::from_value(json!({
        "transport": {"name": "file_output", "config": {"path": file.display().to_string()}},
        "format": {"name": "json"}}))
    .unwrap();
    let err = Pipeline::start(spec.clone(), false).err().expect("refused");
    let message = err.to_string();
    assert!(
        message.contains("file_output cannot deliver exactly once"),
        "{message}"
    );
    assert!(!file.exists(), "nothing was written");

    spec.outputs[0].config = serde_json::from_value(json!({
        "transport": {"name": "null_output"}, "format": {"name": "json"}}))
    .unwrap();
    let p = Pipeline::start(spec, false).unwrap();
    p.ingest("sales", sales(0, 5, 1), 0, TIMEOUT).unwrap();
    assert_eq!(p.stats().outputs[0].exactly_once, None);
    p.shutdown(TIMEOUT).unwrap();
}

/// Exactly-once, transactions: a record that cannot be encoded (over `message.max.bytes`) on a checkpoint's step
/// fails the connector *before* the step is committed, so nothing of that step becomes visible and a restart with
/// the config fixed sends all of it, exactly once (had the step's other messages been committed with its marker,
/// the restart would skip the whole step and the big record would never arrive).
#[test]
fn an_encode_error_on_a_checkpoint_step_commits_nothing_of_it() {
    let topic = TestTopic::new(&brokers(), "eo-encode", 1);
    let state = tempfile::tempdir().unwrap();
    let make = |max_bytes: &str| {
        let mut spec = spec(&brokers(), &topic.name, state.path());
        let d = spec.durable.as_mut().unwrap();
        d.checkpoint_interval = Duration::from_secs(60);
        d.exactly_once = Some(sluice_pipeline::durable::ExactlyOnceConfig {
            scope: format!("encode-{}", topic.name),
        });
        spec.program = Program::compile(
            "CREATE TABLE notes (id BIGINT NOT NULL, text VARCHAR NOT NULL); CREATE VIEW v AS SELECT id, text FROM notes;",
        )
        .unwrap();
        spec.outputs[0].view = "v".into();
        spec.outputs[0].config = serde_json::from_value(json!({
            "transport": {"name": "kafka_output", "config": {"bootstrap.servers": brokers(), "topic": topic.name,
                "message.max.bytes": max_bytes, "fault_tolerance": {"mode": "transactions"}}},
            "format": {"name": "json"}}))
        .unwrap();
        spec
    };
    let note = |id: i64, len: usize| {
        (
            Row::new(vec![Value::BigInt(id), Value::from("n".repeat(len))]),
            1,
        )
    };

    let p = Pipeline::start(make("2000"), false).unwrap();
    p.ingest("notes", vec![note(1, 10), note(2, 10)], 0, TIMEOUT)
        .unwrap();
    assert!(eventually(TIMEOUT, || p
        .stats()
        .global_metrics
        .total_processed_records
        == 2));
    // The next step is a checkpoint's (requested while paused), and holds a record too large for a message.
    p.pause();
    p.ingest(
        "notes",
        vec![note(3, 10), note(4, 5_000), note(5, 10)],
        0,
        TIMEOUT,
    )
    .unwrap();
    p.checkpoint().unwrap();
    p.resume();
    assert!(
        eventually(TIMEOUT, || p.failure().is_some()),
        "the connector must fail"
    );
    let failure = p.failure().unwrap().to_string();
    assert!(failure.contains("cannot be encoded"), "{failure}");
    drop(p);
    assert!(
        read_topic(&brokers(), &topic.name, 0, Duration::from_secs(5))
            .unwrap()
            .is_empty(),
        "nothing of the failed checkpoint's steps is committed"
    );

    let p = Pipeline::start(make("100000"), false).unwrap();
    assert!(eventually(TIMEOUT, || {
        read_topic(&brokers(), &topic.name, 5, Duration::from_secs(5))
            .unwrap()
            .len()
            >= 5
            && p.stats().outputs[0]
                .exactly_once
                .as_ref()
                .is_some_and(|e| e.committed_step >= 3)
    }));
    p.shutdown(TIMEOUT).unwrap();
    let mut ids: Vec<i64> = read_topic(&brokers(), &topic.name, 5, Duration::from_secs(10))
        .unwrap()
        .iter()
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(&m.payload_text()).unwrap()["insert"]["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2, 3, 4, 5], "each record exactly once");
}
