//! `Pipeline` end to end against the real local broker: SQL program, input records, steps, Kafka messages.
//! Enabled with `--features kafka-integration-tests` (`scripts/test.sh`).
#![cfg(feature = "kafka-integration-tests")]

use std::time::Duration;

use serde_json::json;
use sluice_data::{Row, Value};
use sluice_pipeline::{
    ControllerConfig, InputSpec, OutputSpec, Pipeline, PipelineError, PipelineSpec, PipelineState,
    WatchEvent,
};
use sluice_sql::Program;
use sluice_transports::kafka_tools::{self, read_topic};
use sluice_transports::testing::{brokers, eventually, PrivateBroker, TestTopic};
use sluice_types::ConnectorConfig;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The book fair: revenue and copies per book, from a join and a GROUP BY.
const BOOK_FAIR: &str = include_str!("../../../../examples/book-fair.sql");

fn kafka(servers: &str, topic: &str, extra: serde_json::Value) -> ConnectorConfig {
    let mut transport =
        json!({"bootstrap.servers": servers, "topic": topic, "initialization_timeout_secs": 10});
    let mut body =
        json!({"transport": {"name": "kafka_output", "config": {}}, "format": {"name": "json"}});
    for (k, v) in extra.as_object().unwrap() {
        if k == "max_queued_records" {
            body[k] = v.clone();
        } else {
            transport[k] = v.clone();
        }
    }
    body["transport"]["config"] = transport;
    serde_json::from_value(body).unwrap()
}

fn spec(name: &str, outputs: Vec<OutputSpec>, config: ControllerConfig) -> PipelineSpec {
    PipelineSpec {
        name: name.into(),
        program: Program::compile(BOOK_FAIR).unwrap(),
        config,
        inputs: Vec::new(),
        durable: None,
        outputs,
    }
}

fn output(config: ConnectorConfig) -> OutputSpec {
    OutputSpec {
        name: "total-sales".into(),
        view: "total_sales".into(),
        config,
    }
}

fn book(id: i64, title: &str, cents: i128) -> Row {
    Row::new(vec![
        Value::BigInt(id),
        Value::from(title),
        Value::Decimal(sluice_data::Decimal::new(cents, 2).unwrap()),
    ])
}

fn sale(book: i64, copies: i64) -> Row {
    Row::new(vec![Value::BigInt(book), Value::BigInt(copies)])
}

fn topic_text(servers: &str, topic: &str, n: usize) -> Vec<String> {
    read_topic(servers, topic, n, TIMEOUT)
        .unwrap()
        .iter()
        .map(|m| m.payload_text())
        .collect()
}

fn ingest(p: &Pipeline, table: &str, rows: Vec<(Row, i64)>) {
    p.ingest(table, rows, 0, TIMEOUT).unwrap();
}

/// Waits until every accepted record is stepped.
fn settle(p: &Pipeline) {
    assert!(eventually(TIMEOUT, || {
        let g = p.stats().global_metrics;
        g.buffered_input_records == 0 && g.total_processed_records == g.total_input_records
    }));
}

#[test]
fn book_fair_changes_reach_the_topic_in_step_order() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "fair", 1);
    let p = Pipeline::start(
        spec(
            "fair",
            vec![output(kafka(&servers, &topic.name, json!({})))],
            ControllerConfig::default(),
        ),
        false,
    )
    .unwrap();
    ingest(
        &p,
        "books",
        vec![(book(1, "Dune", 1000), 1), (book(2, "Emma", 550), 1)],
    );
    settle(&p);
    ingest(&p, "sales", vec![(sale(1, 2), 1), (sale(2, 1), 1)]);
    settle(&p);
    ingest(&p, "sales", vec![(sale(1, 3), 1), (sale(2, 1), -1)]);
    settle(&p);
    let stats = p.shutdown(TIMEOUT).unwrap();
    assert_eq!(stats.outputs[0].transport.transmitted_records, 5);
    assert_eq!(stats.global_metrics.total_input_records, 6);
    assert_eq!(stats.global_metrics.state, PipelineState::Stopped);

    let got = topic_text(&servers, &topic.name, 5);
    let mut first_step = got[..2].to_vec();
    first_step.sort();
    assert_eq!(
        first_step,
        vec![
            r#"{"insert":{"title":"Dune","copies":2,"revenue":20}}"#,
            r#"{"insert":{"title":"Emma","copies":1,"revenue":5.5}}"#,
        ],
        "{got:?}"
    );
    let mut deletes = got[2..4].to_vec();
    deletes.sort();
    assert_eq!(
        deletes,
        vec![
            r#"{"delete":{"title":"Dune","copies":2,"revenue":20}}"#,
            r#"{"delete":{"title":"Emma","copies":1,"revenue":5.5}}"#,
        ],
        "deletes come before the insert of the same step: {got:?}"
    );
    assert_eq!(
        got[4],
        r#"{"insert":{"title":"Dune","copies":5,"revenue":50}}"#
    );
}

#[test]
fn a_request_with_an_invalid_record_applies_none_of_its_records() {
    let p = Pipeline::start(spec("invalid", vec![], ControllerConfig::default()), false).unwrap();
    let bad = Row::new(vec![Value::BigInt(1), Value::Null]);
    let err = p
        .ingest("sales", vec![(sale(1, 1), 1), (bad, 1)], 10, TIMEOUT)
        .unwrap_err();
    let PipelineError::InvalidRecords(messages) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("record 2"), "{messages:?}");
    assert!(messages[0].contains("copies"), "{messages:?}");
    let stats = p.stats();
    let sales = stats.inputs.iter().find(|t| t.table == "sales").unwrap();
    assert_eq!(sales.total_records, 0, "the good record was not applied");
    assert_eq!(sales.num_parse_errors, 1);
    assert!(sales.parse_errors[0].message.contains("record 2"));
    assert!(matches!(
        p.ingest("nope", vec![], 0, TIMEOUT),
        Err(PipelineError::UnknownTable(_))
    ));
}

#[test]
fn paused_pipelines_buffer_input_and_step_it_on_resume() {
    let p = Pipeline::start(spec("pause", vec![], ControllerConfig::default()), true).unwrap();
    let watch = p.watch("total_sales").unwrap();
    assert_eq!(p.state().0, PipelineState::Paused);
    ingest(&p, "books", vec![(book(1, "Dune", 1000), 1)]);
    ingest(&p, "sales", vec![(sale(1, 4), 1)]);
    std::thread::sleep(Duration::from_millis(200));
    let stats = p.stats().global_metrics;
    assert_eq!(stats.buffered_input_records, 2, "paused: nothing stepped");
    assert_eq!(stats.total_processed_records, 0);
    assert!(watch.try_recv().is_err());

    p.resume();
    let WatchEvent::Changes { delta, .. } = watch.recv_timeout(TIMEOUT).unwrap() else {
        panic!("the watch ended")
    };
    assert_eq!(delta.len(), 1);
    assert_eq!(delta[0].1, 1);
    assert_eq!(delta[0].0 .0[1], Value::BigInt(4));
    assert_eq!(p.state().0, PipelineState::Running);
    p.shutdown(TIMEOUT).unwrap();
    assert!(matches!(
        watch.recv_timeout(TIMEOUT).unwrap(),
        WatchEvent::Ended(_)
    ));
    assert!(matches!(
        p.ingest("sales", vec![(sale(1, 1), 1)], 0, TIMEOUT),
        Err(PipelineError::Stopped)
    ));
}

#[test]
fn min_batch_size_groups_records_into_one_step() {
    let config = ControllerConfig {
        min_batch_size_records: 3,
        max_buffering_delay: Duration::from_secs(3600),
        ..ControllerConfig::default()
    };
    let p = Pipeline::start(spec("batch", vec![], config), false).unwrap();
    ingest(&p, "books", vec![(book(1, "Dune", 1000), 1)]);
    ingest(&p, "sales", vec![(sale(1, 1), 1)]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(p.stats().global_metrics.buffered_input_records, 2);
    ingest(&p, "sales", vec![(sale(1, 1), 1)]);
    settle(&p);
    // The initial step plus one step for all three records.
    assert_eq!(p.stats().global_metrics.steps, 2);
    p.shutdown(TIMEOUT).unwrap();
}

#[test]
fn shutdown_steps_buffered_input_and_flushes_outputs() {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "flush", 1);
    let p = Pipeline::start(
        spec(
            "flush",
            vec![output(kafka(&servers, &topic.name, json!({})))],
            ControllerConfig::default(),
        ),
        true,
    )
    .unwrap();
    ingest(&p, "books", vec![(book(1, "Dune", 1000), 1)]);
    ingest(&p, "sales", vec![(sale(1, 1), 1)]);
    let stats = p.shutdown(TIMEOUT).unwrap();
    assert_eq!(stats.global_metrics.total_processed_records, 2);
    assert_eq!(stats.outputs[0].transport.transmitted_records, 1);
    assert_eq!(
        topic_text(&servers, &topic.name, 1),
        vec![r#"{"insert":{"title":"Dune","copies":1,"revenue":10}}"#]
    );
}

#[test]
fn a_missing_topic_fails_start_naming_the_connector() {
    let servers = brokers();
    let err = Pipeline::start(
        spec(
            "missing",
            vec![output(kafka(
                &servers,
                "sluice-no-such-topic",
                json!({"initialization_timeout_secs": 5}),
            ))],
            ControllerConfig::default(),
        ),
        false,
    )
    .err()
    .expect("start must fail");
    let message = err.to_string();
    assert!(message.contains("total-sales"), "{message}");
    assert!(message.contains("sluice-no-such-topic"), "{message}");
}

/// The broker goes away mid-stream: the output queue fills, stepping stops, ingest reports the stall, and once
/// the broker is back everything is delivered exactly once (idempotent producer).
#[test]
fn a_broker_outage_stalls_the_pipeline_and_loses_nothing() {
    let broker = PrivateBroker::start();
    let servers = broker.address();
    let topic = TestTopic::new(&servers, "outage", 1);
    let config = ControllerConfig {
        max_buffered_records: 4,
        ..ControllerConfig::default()
    };
    let out = kafka(
        &servers,
        &topic.name,
        json!({"max_queued_records": 2, "queue.buffering.max.messages": 2, "reconnect.backoff.max.ms": 500}),
    );
    let p = Pipeline::start(spec("outage", vec![output(out)], config), false).unwrap();
    ingest(&p, "books", vec![(book(1, "Dune", 100), 1)]);
    settle(&p);
    broker.down();
    let mut accepted = 0;
    let mut busy = None;
    for copies in 1..=20 {
        match p.ingest(
            "sales",
            vec![(sale(1, copies), 1)],
            0,
            Duration::from_millis(300),
        ) {
            Ok(_) => accepted += 1,
            Err(e) => {
                busy = Some(e);
                break;
            }
        }
    }
    let busy = busy.expect("the input buffer must fill while the broker is down");
    assert!(matches!(busy, PipelineError::Busy { .. }), "{busy:?}");
    let g = p.stats().global_metrics;
    assert!(g.stalled_since_ms.is_some(), "{g:?}");
    assert!(
        g.stall_reason.as_deref().unwrap().contains("total-sales"),
        "{g:?}"
    );

    broker.up();
    settle(&p);
    let stats = p.shutdown(TIMEOUT).unwrap();
    // Sales buffered during the outage were stepped together, so the number of messages is not fixed; what is
    // fixed: every acknowledged record is on the topic once, and the messages form an unbroken chain in which
    // each step deletes the previous total and inserts the new one, ending at the sum of all accepted sales.
    let n = stats.outputs[0].transport.transmitted_records as usize;
    let got = topic_text(&servers, &topic.name, n);
    // Reading one more than acknowledged returns what the topic holds once the wait runs out.
    let all = read_topic(&servers, &topic.name, n + 1, Duration::from_secs(2)).unwrap();
    assert_eq!(
        all.len(),
        n,
        "more messages on the topic than acknowledged: duplicates"
    );
    let total: i64 = (1..=accepted as i64).sum();
    let row = |copies: i64| format!(r#"{{"title":"Dune","copies":{copies},"revenue":{copies}}}"#);
    let mut current = None::<String>;
    let mut chain = got.iter();
    while let Some(message) = chain.next() {
        if let Some(previous) = current.take() {
            assert_eq!(message, &format!(r#"{{"delete":{previous}}}"#), "{got:?}");
            let next = chain.next().expect("a delete is followed by an insert");
            current = Some(
                next.strip_prefix(r#"{"insert":"#)
                    .unwrap()
                    .trim_end_matches('}')
                    .to_string()
                    + "}",
            );
        } else {
            current = Some(
                message
                    .strip_prefix(r#"{"insert":"#)
                    .unwrap()
                    .trim_end_matches('}')
                    .to_string()
                    + "}",
            );
        }
    }
    assert_eq!(current, Some(row(total)), "{got:?}");
}

#[test]
fn two_pipelines_run_side_by_side() {
    let servers = brokers();
    let a = TestTopic::new(&servers, "side-a", 1);
    let b = TestTopic::new(&servers, "side-b", 1);
    let pa = Pipeline::start(
        spec(
            "a",
            vec![output(kafka(&servers, &a.name, json!({})))],
            ControllerConfig::default(),
        ),
        false,
    )
    .unwrap();
    let pb = Pipeline::start(
        spec(
            "b",
            vec![output(kafka(&servers, &b.name, json!({})))],
            ControllerConfig {
                workers: 2,
                ..ControllerConfig::default()
            },
        ),
        false,
    )
    .unwrap();
    for (p, copies) in [(&pa, 1), (&pb, 7)] {
        ingest(p, "books", vec![(book(1, "Dune", 1000), 1)]);
        ingest(p, "sales", vec![(sale(1, copies), 1)]);
    }
    pa.shutdown(TIMEOUT).unwrap();
    pb.shutdown(TIMEOUT).unwrap();
    assert_eq!(
        topic_text(&servers, &a.name, 1),
        vec![r#"{"insert":{"title":"Dune","copies":1,"revenue":10}}"#]
    );
    assert_eq!(
        topic_text(&servers, &b.name, 1),
        vec![r#"{"insert":{"title":"Dune","copies":7,"revenue":70}}"#]
    );
}

/// A `kafka_input` connector reading CSV from `topic` from its beginning.
fn csv_kafka_input(servers: &str, topic: &str) -> ConnectorConfig {
    serde_json::from_value(json!({
        "transport": {"name": "kafka_input", "config": {
            "bootstrap.servers": servers, "topics": [topic], "auto.offset.reset": "earliest",
            "group_join_timeout_secs": 20}},
        "format": {"name": "csv"}
    }))
    .unwrap()
}

#[test]
fn a_kafka_input_reads_only_while_the_pipeline_runs() {
    let servers = brokers();
    let input = TestTopic::new(&servers, "in-paused", 1);
    let out = TestTopic::new(&servers, "out-paused", 1);
    let config = csv_kafka_input(&servers, &input.name);
    let mut spec = spec(
        "paused-input",
        vec![output(kafka(&servers, &out.name, json!({})))],
        ControllerConfig::default(),
    );
    spec.inputs.push(InputSpec {
        name: "sales-in".into(),
        table: "sales".into(),
        config,
        group_scope: None,
    });
    let p = Pipeline::start(spec, true).unwrap();
    ingest(&p, "books", vec![(book(1, "Dune", 100), 1)]);
    let payloads: Vec<&[u8]> = vec![b"1,2\n", b"1,x\n"];
    kafka_tools::produce(&servers, &input.name, &payloads).unwrap();
    let connector = || p.stats().input_connectors[0].clone();
    assert!(eventually(TIMEOUT, || connector().paused_reason.is_some()));
    assert_eq!(
        connector().paused_reason.as_deref(),
        Some("the pipeline is paused")
    );
    // The messages are on the topic, but a paused pipeline's connector does not take them.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(connector().total_messages, 0, "{:?}", connector());

    p.resume();
    assert!(eventually(TIMEOUT, || {
        let c = connector();
        c.total_records == 1 && c.num_rejected_messages == 1
    }));
    settle(&p);
    // A message of two records is one step.
    kafka_tools::produce(&servers, &input.name, &[b"1,3\n1,4\n"]).unwrap();
    assert!(eventually(TIMEOUT, || connector().total_records == 3));
    settle(&p);
    let c = connector();
    assert_eq!(c.paused_reason, None, "{c:?}");
    assert_eq!((c.total_records, c.num_rejected_messages), (3, 1), "{c:?}");
    assert!(c.rejected_messages[0].message.contains("offset 1"), "{c:?}");
    let stats = p.shutdown(TIMEOUT).unwrap();
    assert_eq!(stats.input_connectors[0].total_records, 3);
    assert_eq!(
        topic_text(&servers, &out.name, 3),
        vec![
            r#"{"insert":{"title":"Dune","copies":2,"revenue":2}}"#,
            r#"{"delete":{"title":"Dune","copies":2,"revenue":2}}"#,
            r#"{"insert":{"title":"Dune","copies":9,"revenue":9}}"#,
        ]
    );
}

#[test]
fn a_panic_fails_only_its_own_pipeline() {
    let servers = brokers();
    let (ta, tb) = (
        TestTopic::new(&servers, "panic-a", 1),
        TestTopic::new(&servers, "panic-b", 1),
    );
    let start = |name: &str, topic: &str| {
        Pipeline::start(
            spec(
                name,
                vec![output(kafka(&servers, topic, json!({})))],
                ControllerConfig::default(),
            ),
            false,
        )
        .unwrap()
    };
    let (a, b) = (start("a", &ta.name), start("b", &tb.name));
    ingest(&a, "books", vec![(book(1, "Dune", 100), 1)]);
    ingest(&a, "sales", vec![(sale(1, 1), 1)]);
    settle(&a);
    a.inject_panic();
    a.ingest("sales", vec![(sale(1, 2), 1)], 0, TIMEOUT)
        .unwrap();
    assert!(eventually(TIMEOUT, || a.state().0 == PipelineState::Failed));
    let error = a.state().1.unwrap();
    assert!(
        error.contains("panicked") && error.contains("fault injected"),
        "{error}"
    );
    assert_eq!(
        a.stats().global_metrics.error.as_deref(),
        Some(error.as_str())
    );
    let refused = a.ingest("sales", vec![(sale(1, 3), 1)], 0, TIMEOUT);
    assert!(
        matches!(refused, Err(PipelineError::Failed(_))),
        "{refused:?}"
    );

    // The other pipeline in the same process is untouched.
    ingest(&b, "books", vec![(book(1, "Dune", 100), 1)]);
    ingest(&b, "sales", vec![(sale(1, 5), 1)]);
    settle(&b);
    assert_eq!(b.state().0, PipelineState::Running);
    b.shutdown(TIMEOUT).unwrap();
    assert_eq!(
        topic_text(&servers, &tb.name, 1),
        vec![r#"{"insert":{"title":"Dune","copies":5,"revenue":5}}"#]
    );
    // Shutting the failed one down still delivers what its output connector held, and reports the failure.
    let errors = a.shutdown(TIMEOUT).unwrap_err();
    assert!(errors[0].contains("fault injected"), "{errors:?}");
    assert_eq!(
        topic_text(&servers, &ta.name, 1),
        vec![r#"{"insert":{"title":"Dune","copies":1,"revenue":1}}"#]
    );
}

/// Replays insert/delete messages into the set of rows they describe; a delete of a row not present panics.
fn replay(messages: &[String]) -> Vec<serde_json::Value> {
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for m in messages {
        let m: serde_json::Value = serde_json::from_str(m).unwrap();
        if let Some(row) = m.get("insert") {
            rows.push(row.clone());
        } else {
            let at = rows.iter().position(|r| *r == m["delete"]);
            rows.remove(at.unwrap_or_else(|| panic!("delete of an absent row: {m}")));
        }
    }
    rows
}

/// Backpressure end to end: the output's broker goes down, its queue fills, steps stop, the input buffer fills,
/// and the `kafka_input` connector stops reading while holding what it read; when the broker returns, every
/// record flows through once.
#[test]
fn a_stalled_output_stops_kafka_input_and_loses_nothing() {
    let out_broker = PrivateBroker::start();
    let out_servers = out_broker.address();
    let out = TestTopic::new(&out_servers, "bp-out", 1);
    let servers = brokers();
    let input = TestTopic::new(&servers, "bp-in", 1);
    let config = csv_kafka_input(&servers, &input.name);
    let out_config = kafka(
        &out_servers,
        &out.name,
        json!({"max_queued_records": 2, "queue.buffering.max.messages": 2, "reconnect.backoff.max.ms": 500}),
    );
    let mut spec = spec(
        "backpressure",
        vec![output(out_config)],
        ControllerConfig {
            max_buffered_records: 4,
            ..ControllerConfig::default()
        },
    );
    spec.inputs.push(InputSpec {
        name: "sales-in".into(),
        table: "sales".into(),
        config,
        group_scope: None,
    });
    let p = Pipeline::start(spec, false).unwrap();
    ingest(&p, "books", vec![(book(1, "Dune", 100), 1)]);
    settle(&p);

    out_broker.down();
    let lines: Vec<String> = (1..=30).map(|i| format!("1,{i}\n")).collect();
    let payloads: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    kafka_tools::produce(&servers, &input.name, &payloads).unwrap();
    let connector = || p.stats().input_connectors[0].clone();
    assert!(
        eventually(TIMEOUT, || connector()
            .paused_reason
            .is_some_and(|r| r.contains("input buffer is full"))),
        "{:?}",
        connector()
    );
    let g = p.stats().global_metrics;
    assert!(
        g.stall_reason
            .as_deref()
            .is_some_and(|r| r.contains("total-sales")),
        "{g:?}"
    );
    assert!(connector().total_records < 30, "{:?}", connector());

    out_broker.up();
    assert!(
        eventually(Duration::from_secs(60), || connector().total_records == 30),
        "{:?}",
        connector()
    );
    settle(&p);
    let c = connector();
    assert_eq!(
        (c.total_messages, c.pending_records, c.paused_reason),
        (30, 0, None)
    );
    let stats = p.shutdown(TIMEOUT).unwrap();
    let n = stats.outputs[0].transport.transmitted_messages as usize;
    let got = topic_text(&out_servers, &out.name, n);
    let all = read_topic(&out_servers, &out.name, n + 1, Duration::from_secs(2)).unwrap();
    assert_eq!(all.len(), n, "more messages than acknowledged: duplicates");
    let total: i64 = (1..=30).sum();
    assert_eq!(
        replay(&got),
        vec![json!({"title": "Dune", "copies": total, "revenue": total})],
        "{got:?}"
    );
}

/// A table with `LATENESS`: records later than the waterline are dropped from the view and counted in the table's
/// stats; records on time go through.
#[test]
fn late_records_are_counted_in_the_stats_and_left_out_of_the_views() {
    let program = Program::compile(
        "CREATE TABLE clicks (page VARCHAR NOT NULL, ts TIMESTAMP NOT NULL LATENESS INTERVAL '1' MINUTE);
         CREATE VIEW per_page AS SELECT page, COUNT(*) AS n FROM clicks GROUP BY page;",
    )
    .unwrap();
    let p = Pipeline::start(
        PipelineSpec {
            name: "late".into(),
            program,
            config: ControllerConfig::default(),
            inputs: Vec::new(),
            durable: None,
            outputs: Vec::new(),
        },
        false,
    )
    .unwrap();
    let click = |page: &str, minute: i64| {
        (
            Row::new(vec![
                Value::from(page),
                Value::Timestamp(minute * 60_000_000),
            ]),
            1,
        )
    };
    ingest(&p, "clicks", vec![click("home", 10)]);
    settle(&p);
    // The waterline is now minute 9: minute 5 is late, minutes 9 and 12 are on time.
    let watch = p.watch("per_page").unwrap();
    ingest(
        &p,
        "clicks",
        vec![click("docs", 5), click("docs", 9), click("home", 12)],
    );
    settle(&p);
    let WatchEvent::Changes { delta, .. } = watch.recv_timeout(TIMEOUT).unwrap() else {
        panic!("the watch ended")
    };
    let docs: Vec<_> = delta
        .iter()
        .filter(|(r, w)| *w > 0 && r.0[0] == Value::from("docs"))
        .collect();
    assert_eq!(docs.len(), 1, "{delta:?}");
    assert_eq!(docs[0].0 .0[1], Value::BigInt(1), "one docs click got in");
    let stats = p.stats();
    let clicks = stats.inputs.iter().find(|t| t.table == "clicks").unwrap();
    assert_eq!(clicks.late_records, 1);
    assert_eq!(
        clicks.processed_records, 4,
        "late records are processed too"
    );
    p.shutdown(TIMEOUT).unwrap();
}

/// Output connectors shut down together: with the broker gone, three connectors that cannot deliver are each given
/// the shutdown's timeout at the same time, not one after the other, and each reports what it could not deliver.
#[test]
fn shutdown_gives_every_stuck_output_the_same_timeout_at_once() {
    let broker = PrivateBroker::start();
    let servers = broker.address();
    // The broker is this test's own and ends dead: no topic to clean up.
    kafka_tools::create_topic(&servers, "shutdown-together", 1).unwrap();
    let outputs: Vec<OutputSpec> = (0..3)
        .map(|i| OutputSpec {
            name: format!("out-{i}"),
            view: "total_sales".into(),
            config: kafka(
                &servers,
                "shutdown-together",
                json!({"reconnect.backoff.max.ms": 500}),
            ),
        })
        .collect();
    let p = Pipeline::start(
        spec("together", outputs, ControllerConfig::default()),
        false,
    )
    .unwrap();
    ingest(&p, "books", vec![(book(1, "Dune", 100), 1)]);
    settle(&p);
    broker.down();
    ingest(&p, "sales", vec![(sale(1, 2), 1)]);
    settle(&p);
    let timeout = Duration::from_secs(4);
    let started = std::time::Instant::now();
    let errors = p.shutdown(timeout).unwrap_err();
    let took = started.elapsed();
    eprintln!("shutdown of 3 stuck outputs with a {timeout:?} timeout took {took:?}");
    for i in 0..3 {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("'out-{i}'")) && e.contains("not delivered")),
            "out-{i}: {errors:?}"
        );
    }
    // `shutdown` waits at most its timeout for them all (here about 4.2 s); three in turn would take three times
    // as long. A liveness bound with room to spare, not a speed measurement.
    assert!(took < timeout * 2, "{took:?}");
}
