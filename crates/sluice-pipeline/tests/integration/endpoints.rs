//! The output seam with its two transports that need no broker, each through a running pipeline: `file_output`
//! (one message per line, durable once flushed, and what a shutdown leaves in the file) and `null_output`
//! (acknowledges at once: every encoded message counts as transmitted).

use std::time::Duration;

use serde_json::json;
use sluice_data::{Row, Value};
use sluice_pipeline::{ControllerConfig, OutputSpec, Pipeline, PipelineSpec};
use sluice_sql::Program;
use sluice_transports::health::EndpointHealth;
use sluice_types::ConnectorConfig;

const PROGRAM: &str = "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR NOT NULL);
                       CREATE VIEW v AS SELECT id, name FROM t WHERE id > 0;";

fn spec(transport: serde_json::Value) -> PipelineSpec {
    let config: ConnectorConfig =
        serde_json::from_value(json!({"transport": transport, "format": {"name": "json"}}))
            .unwrap();
    PipelineSpec {
        name: "seam".into(),
        program: Program::compile(PROGRAM).unwrap(),
        config: ControllerConfig::default(),
        inputs: Vec::new(),
        durable: None,
        outputs: vec![OutputSpec {
            name: "out".into(),
            view: "v".into(),
            config,
        }],
    }
}

fn start(transport: serde_json::Value) -> Pipeline {
    Pipeline::start(spec(transport), false).unwrap()
}

fn row(id: i64, name: &str) -> Row {
    Row::new(vec![Value::BigInt(id), Value::from(name)])
}

/// Inserts three rows (one filtered out by the view) in one request, then updates one by key.
fn feed(p: &Pipeline) {
    let wait = Duration::from_secs(30);
    p.ingest(
        "t",
        vec![(row(1, "a"), 1), (row(2, "b"), 1), (row(0, "hidden"), 1)],
        0,
        wait,
    )
    .unwrap();
    let deadline = std::time::Instant::now() + wait;
    // The update must come in a later step than the insert it replaces.
    while p.stats().global_metrics.total_processed_records < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first records were not stepped"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    p.ingest("t", vec![(row(2, "B"), 1)], 0, wait).unwrap();
}

#[test]
fn file_output_writes_each_change_as_a_line_and_counts_it_once_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changes.jsonl");
    let p = start(json!({"name": "file_output", "config": {"path": path.display().to_string()}}));
    feed(&p);
    // Each step's messages are synced when the step is written: durable before any shutdown.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while p.stats().outputs[0].transport.transmitted_messages < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            p.stats().outputs[0]
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(p.stats().outputs[0].transport.in_flight_messages, 0);
    let stats = p.shutdown(Duration::from_secs(30)).unwrap();
    let out = &stats.outputs[0];
    assert_eq!(out.transport_name, "file_output");
    assert_eq!(out.transport.health, EndpointHealth::Running);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"insert":{"id":1,"name":"a"}}"#,
            r#"{"insert":{"id":2,"name":"b"}}"#,
            r#"{"delete":{"id":2,"name":"b"}}"#,
            r#"{"insert":{"id":2,"name":"B"}}"#,
        ]
    );
    // Everything was synced at shutdown: all of it counts as transmitted, nothing is left in flight.
    assert_eq!(out.transport.transmitted_messages, 4);
    assert_eq!(out.transport.transmitted_records, 4);
    assert_eq!(
        out.transport.transmitted_bytes as usize,
        text.len() - lines.len()
    );
    assert_eq!(out.transport.in_flight_messages, 0);
}

#[test]
fn file_output_that_cannot_open_its_file_fails_the_start_naming_it() {
    let err =
        start_err(json!({"name": "file_output", "config": {"path": "/nonexistent-dir/x.jsonl"}}));
    assert!(
        err.contains("out") && err.contains("/nonexistent-dir/x.jsonl"),
        "{err}"
    );
}

fn start_err(transport: serde_json::Value) -> String {
    match Pipeline::start(spec(transport), false) {
        Ok(_) => panic!("started"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn null_output_acknowledges_every_message_at_once() {
    let p = start(json!({"name": "null_output"}));
    feed(&p);
    let stats = p.shutdown(Duration::from_secs(30)).unwrap();
    let out = &stats.outputs[0];
    assert_eq!(out.transport_name, "null_output");
    assert_eq!(out.encoded_messages, 4);
    assert_eq!(out.transport.transmitted_messages, 4);
    assert_eq!(out.transport.transmitted_records, 4);
    assert_eq!(out.transport.in_flight_messages, 0);
}
