//! Pipelines run through the REST API against the local broker: the book-fair flow with exact Kafka messages,
//! all-or-none ingress, stats, the HTTP watch, pause/resume, shutdown and start failures.
//! Enabled with `--features kafka-integration-tests` (`scripts/test.sh`).
#![cfg(feature = "kafka-integration-tests")]

use std::time::Duration;

use crate::common::{action, assert_error, compiled, reaches, Backend, TestDb, TestServer};
use serde_json::{json, Value};
use sluice_transports::kafka_tools::read_topic;
use sluice_transports::testing::{brokers, PrivateBroker, TestTopic};

const TIMEOUT: Duration = Duration::from_secs(30);

const BOOK_FAIR: &str = include_str!("../../../../examples/book-fair.sql");

fn connector(servers: &str, topic: &str) -> Value {
    json!({
        "description": "Kafka output connector for total sales from the book fair",
        "config": {
            "transport": {"name": "kafka_output", "config": {
                "bootstrap.servers": servers, "auto.offset.reset": "earliest", "topic": topic,
                "initialization_timeout_secs": 10}},
            "format": {"name": "json", "config": {"update_format": "insert_delete", "array": false}}
        }
    })
}

/// The book fair program, stored and compiled.
async fn book_fair_program(s: &TestServer) {
    let (status, body) = s
        .put(
            "/v0/programs/book-fair",
            json!({"description": "", "code": BOOK_FAIR}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(compiled(s, "book-fair").await["status"], "Success");
}

/// Program, connector and pipeline `fair` over `topic`.
async fn book_fair(s: &TestServer, servers: &str, topic: &str) {
    book_fair_program(s).await;
    let (status, body) = s
        .put("/v0/connectors/total-sales", connector(servers, topic))
        .await;
    assert_eq!(status, 201, "{body}");
    let attached = json!([{"name": "total-sales", "is_input": false, "connector_name": "total-sales", "relation_name": "total_sales"}]);
    let (status, body) = s
        .put(
            "/v0/pipelines/fair",
            json!({"description": "", "program_name": "book-fair", "connectors": attached}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn ingress(s: &TestServer, path: &str, body: &str) -> (u16, Value) {
    let r = s
        .client
        .post(s.url(path))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Waits until every accepted record has been stepped.
async fn settled(s: &TestServer, name: &str) -> Value {
    for _ in 0..300 {
        let (status, stats) = s.get(&format!("/v0/pipelines/{name}/stats")).await;
        assert_eq!(status, 200, "{stats}");
        let g = &stats["global_metrics"];
        if g["buffered_input_records"] == 0
            && g["total_processed_records"] == g["total_input_records"]
        {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("pipeline {name} did not settle");
}

/// Polls `/metrics` until it has the line `line` (acknowledgements are counted as they arrive); returns the text.
async fn metrics_with(s: &TestServer, line: &str) -> String {
    let mut text = String::new();
    for _ in 0..300 {
        text = s.text("/metrics").await;
        if text.lines().any(|l| l == line) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("/metrics never showed {line}:\n{text}");
}

fn topic_text(servers: &str, topic: &str, n: usize) -> Vec<String> {
    let servers = servers.to_string();
    let topic = topic.to_string();
    // read_topic blocks: keep it off the test's runtime threads.
    std::thread::spawn(move || {
        read_topic(&servers, &topic, n, TIMEOUT)
            .unwrap()
            .iter()
            .map(|m| m.payload_text())
            .collect()
    })
    .join()
    .unwrap()
}

async fn book_fair_end_to_end(backend: Backend) {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "fair-api", 1);
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    book_fair(&s, &servers, &topic.name).await;
    assert_error(
        &s.get("/v0/pipelines/fair/stats").await,
        404,
        "PipelineShutdown",
    );
    action(&s, "fair", "start").await;
    reaches(&s, "fair", "Running").await;

    let (status, body) = ingress(
        &s,
        "/v0/pipelines/fair/ingress/books?format=json&update_format=insert_delete",
        "{\"insert\": {\"id\": 1, \"title\": \"Dune\", \"price\": 10.00}}\n{\"insert\": {\"id\": 2, \"title\": \"Emma\", \"price\": 5.5}}\n",
    )
    .await;
    assert_eq!((status, body["records"].clone()), (200, json!(2)), "{body}");
    settled(&s, "fair").await;
    let (status, _) = ingress(
        &s,
        "/v0/pipelines/fair/ingress/sales?format=csv",
        "1,2\n2,1\n",
    )
    .await;
    assert_eq!(status, 200);
    settled(&s, "fair").await;

    // One bad record (copies is NOT NULL): the request is rejected and its good record is not applied.
    let got = ingress(
        &s,
        "/v0/pipelines/fair/ingress/sales?format=json&update_format=raw&array=true",
        r#"[{"book_id": 1, "copies": 100}, {"book_id": 1}]"#,
    )
    .await;
    let got = (reqwest::StatusCode::from_u16(got.0).unwrap(), got.1);
    let err = assert_error(&got, 400, "InvalidRecords");
    assert_eq!(err["details"]["num_errors"], 1, "{err}");
    assert!(err["message"].as_str().unwrap().contains("copies"), "{err}");

    // Watch the view over HTTP while the next change flows.
    let mut watch = s
        .client
        .post(s.url("/v0/pipelines/fair/egress/total_sales?format=json&mode=watch"))
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);
    let (status, _) = ingress(
        &s,
        "/v0/pipelines/fair/ingress/sales?format=json&update_format=weighted",
        "{\"weight\": 1, \"data\": {\"book_id\": 1, \"copies\": 3}}\n{\"weight\": -1, \"data\": {\"book_id\": 2, \"copies\": 1}}\n",
    )
    .await;
    assert_eq!(status, 200);
    let mut line = Vec::new();
    while !line.contains(&b'\n') {
        let chunk = tokio::time::timeout(TIMEOUT, watch.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        line.extend_from_slice(&chunk);
    }
    let watched: Value =
        serde_json::from_slice(&line[..line.iter().position(|b| *b == b'\n').unwrap()]).unwrap();
    let changes = watched["json_data"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "{watched}");
    assert!(
        changes.contains(&json!({"insert": {"title": "Dune", "copies": 5, "revenue": 50}})),
        "{watched}"
    );
    drop(watch);

    let stats = settled(&s, "fair").await;
    let sales = stats["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "sales")
        .unwrap()
        .clone();
    assert_eq!(sales["total_records"], 4, "{stats}");
    assert_eq!(sales["num_parse_errors"], 1, "{stats}");
    let got = topic_text(&servers, &topic.name, 5);
    assert_eq!(got.len(), 5, "{got:?}");

    // /metrics shows the same figures, labelled by pipeline, table and connector.
    let text = metrics_with(
        &s,
        r#"sluice_output_connector_transmitted_messages_total{pipeline="fair",connector="total-sales",view="total_sales"} 5"#,
    )
    .await;
    for line in [
        r#"sluice_table_input_records_total{pipeline="fair",table="sales"} 4"#,
        r#"sluice_table_rejected_records_total{pipeline="fair",table="sales"} 1"#,
        r#"sluice_pipeline_running{pipeline="fair"} 1"#,
        "# TYPE sluice_pipeline_steps_total counter",
        r#"sluice_output_connector_in_flight_bytes{pipeline="fair",connector="total-sales",view="total_sales"} 0"#,
        r#"sluice_output_connector_retry_queued_bytes{pipeline="fair",connector="total-sales",view="total_sales"} 0"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    // All five messages acknowledged: their bytes are transmitted, none in flight or waiting for a retry.
    let (_, stats) = s.get("/v0/pipelines/fair/stats").await;
    let transport = &stats["outputs"][0]["transport"];
    let payload_bytes: usize = got.iter().map(String::len).sum();
    assert_eq!(transport["transmitted_bytes"], payload_bytes, "{stats}");
    assert_eq!(transport["in_flight_bytes"], 0, "{stats}");
    assert_eq!(transport["queued_bytes"], 0, "{stats}");
    let mut first = got[..2].to_vec();
    first.sort();
    assert_eq!(
        first,
        vec![
            r#"{"insert":{"title":"Dune","copies":2,"revenue":20}}"#,
            r#"{"insert":{"title":"Emma","copies":1,"revenue":5.5}}"#,
        ]
    );
    let mut deletes = got[2..4].to_vec();
    deletes.sort();
    assert_eq!(
        deletes,
        vec![
            r#"{"delete":{"title":"Dune","copies":2,"revenue":20}}"#,
            r#"{"delete":{"title":"Emma","copies":1,"revenue":5.5}}"#,
        ]
    );
    assert_eq!(
        got[4],
        r#"{"insert":{"title":"Dune","copies":5,"revenue":50}}"#
    );

    // Pause: input is accepted and buffered, nothing is stepped; start resumes.
    action(&s, "fair", "pause").await;
    reaches(&s, "fair", "Paused").await;
    let (status, _) = ingress(&s, "/v0/pipelines/fair/ingress/sales?format=csv", "2,4\n").await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, stats) = s.get("/v0/pipelines/fair/stats").await;
    assert_eq!(
        stats["global_metrics"]["buffered_input_records"], 1,
        "{stats}"
    );
    assert_eq!(stats["global_metrics"]["state"], "Paused", "{stats}");
    action(&s, "fair", "start").await;
    reaches(&s, "fair", "Running").await;
    settled(&s, "fair").await;

    // Shutdown flushes: the Emma row is on the topic once shutdown is reached.
    action(&s, "fair", "shutdown").await;
    let p = reaches(&s, "fair", "Shutdown").await;
    assert!(p["state"]["error"].is_null(), "{p}");
    let got = topic_text(&servers, &topic.name, 6);
    assert_eq!(
        got[5], r#"{"insert":{"title":"Emma","copies":4,"revenue":22}}"#,
        "{got:?}"
    );
    assert_error(
        &s.get("/v0/pipelines/fair/stats").await,
        404,
        "PipelineShutdown",
    );
    let got = s.post("/v0/pipelines/fair/ingress/sales", json!({})).await;
    assert_error(&got, 404, "PipelineShutdown");
    s.stop().await;
}

async fn a_start_that_cannot_reach_the_topic_fails_the_pipeline(backend: Backend) {
    let servers = brokers();
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    book_fair(&s, &servers, "sluice-no-such-topic").await;
    action(&s, "fair", "start").await;
    let p = reaches(&s, "fair", "Failed").await;
    let message = p["state"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("total-sales"), "{p}");
    assert!(message.contains("sluice-no-such-topic"), "{p}");
    let got = s.post_empty("/v0/pipelines/fair/start").await;
    assert_error(&got, 400, "IllegalPipelineStateTransition");
    action(&s, "fair", "shutdown").await;
    let p = reaches(&s, "fair", "Shutdown").await;
    assert!(p["state"]["error"].is_null(), "{p}");
    s.stop().await;
}

fn kafka_in(servers: &str, topic: &str) -> Value {
    json!({
        "description": "",
        "config": {
            "transport": {"name": "kafka_input", "config": {
                "bootstrap.servers": servers, "topics": [topic], "auto.offset.reset": "earliest",
                "group_join_timeout_secs": 20}},
            "format": {"name": "json", "config": {"update_format": "insert_delete"}}
        }
    })
}

/// Writes `lines` to `topic`, one message each, off the test's runtime threads.
fn produce(servers: &str, topic: &str, lines: &[&str]) {
    let (servers, topic) = (servers.to_string(), topic.to_string());
    let lines: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
    std::thread::spawn(move || {
        let payloads: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        sluice_transports::kafka_tools::produce(&servers, &topic, &payloads).unwrap();
    })
    .join()
    .unwrap();
}

/// Waits until `n` input records in all have been stepped; returns the stats.
async fn processed(s: &TestServer, name: &str, n: u64) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let (status, stats) = s.get(&format!("/v0/pipelines/{name}/stats")).await;
        assert_eq!(status, 200, "{stats}");
        if stats["global_metrics"]["total_processed_records"] == n {
            return stats;
        }
        last = stats;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("pipeline {name} did not process {n} records: {last}");
}

/// The shape of Feldera's tutorial: tables fed by `kafka_input` connectors, a view sent by `kafka_output`, and
/// inserts, deletes and updates (through the primary key) flowing from topic to topic.
async fn kafka_topics_in_and_out_with_deletes_and_updates(backend: Backend) {
    let servers = brokers();
    let out = TestTopic::new(&servers, "tutorial-out", 1);
    let books_in = TestTopic::new(&servers, "tutorial-books", 1);
    let sales_in = TestTopic::new(&servers, "tutorial-sales", 2);
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    book_fair(&s, &servers, &out.name).await;
    for (name, topic) in [("books-in", &books_in.name), ("sales-in", &sales_in.name)] {
        let (status, body) = s
            .put(&format!("/v0/connectors/{name}"), kafka_in(&servers, topic))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let attached = json!([
        {"name": "total-sales", "is_input": false, "connector_name": "total-sales", "relation_name": "total_sales"},
        {"name": "books-in", "is_input": true, "connector_name": "books-in", "relation_name": "books"},
        {"name": "sales-in", "is_input": true, "connector_name": "sales-in", "relation_name": "sales"},
    ]);
    let (status, body) = s
        .patch("/v0/pipelines/fair", json!({"connectors": attached}))
        .await;
    assert_eq!(status, 200, "{body}");
    action(&s, "fair", "start").await;
    reaches(&s, "fair", "Running").await;

    produce(
        &servers,
        &books_in.name,
        &[
            r#"{"insert": {"id": 1, "title": "Dune", "price": 10}}"#,
            r#"{"insert": {"id": 2, "title": "Emma", "price": 5.5}}"#,
        ],
    );
    processed(&s, "fair", 2).await;
    // One message with two records: one step.
    produce(
        &servers,
        &sales_in.name,
        &["{\"insert\": {\"book_id\": 1, \"copies\": 2}}\n{\"insert\": {\"book_id\": 2, \"copies\": 1}}"],
    );
    processed(&s, "fair", 4).await;
    // A message with a record that misses a NOT NULL column is rejected whole; its good record is not applied.
    produce(
        &servers,
        &sales_in.name,
        &["{\"insert\": {\"book_id\": 1, \"copies\": 7}}\n{\"insert\": {\"book_id\": 1}}"],
    );
    produce(
        &servers,
        &sales_in.name,
        &[r#"{"delete": {"book_id": 2, "copies": 1}}"#],
    );
    processed(&s, "fair", 5).await;
    // The two messages may sit on different partitions: wait for the rejection too.
    let mut sales = Value::Null;
    for _ in 0..300 {
        let (_, stats) = s.get("/v0/pipelines/fair/stats").await;
        sales = stats["input_connectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["endpoint_name"] == "sales-in")
            .unwrap()
            .clone();
        if sales["total_messages"] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = processed(&s, "fair", 5).await;
    assert_eq!(sales["num_rejected_messages"], 1, "{sales}");
    assert_eq!(sales["total_records"], 3, "{stats}");
    let rejection = sales["rejected_messages"][0]["message"].as_str().unwrap();
    assert!(rejection.contains("copies"), "{rejection}");
    assert!(rejection.contains(&sales_in.name), "{rejection}");
    // An update through the primary key: the new price replaces the old row.
    produce(
        &servers,
        &books_in.name,
        &[r#"{"insert": {"id": 1, "title": "Dune", "price": 12}}"#],
    );
    processed(&s, "fair", 6).await;

    action(&s, "fair", "shutdown").await;
    let p = reaches(&s, "fair", "Shutdown").await;
    assert!(p["state"]["error"].is_null(), "{p}");
    let got = topic_text(&servers, &out.name, 5);
    let mut first = got[..2].to_vec();
    first.sort();
    assert_eq!(
        first,
        vec![
            r#"{"insert":{"title":"Dune","copies":2,"revenue":20}}"#,
            r#"{"insert":{"title":"Emma","copies":1,"revenue":5.5}}"#,
        ]
    );
    assert_eq!(
        got[2..].to_vec(),
        vec![
            r#"{"delete":{"title":"Emma","copies":1,"revenue":5.5}}"#,
            r#"{"delete":{"title":"Dune","copies":2,"revenue":20}}"#,
            r#"{"insert":{"title":"Dune","copies":2,"revenue":24}}"#,
        ]
    );
    s.stop().await;
}

async fn a_kafka_input_on_a_missing_topic_fails_the_start(backend: Backend) {
    let servers = brokers();
    let out = TestTopic::new(&servers, "missing-in-out", 1);
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    book_fair(&s, &servers, &out.name).await;
    let mut config = kafka_in(&servers, "sluice-no-such-input-topic");
    config["config"]["transport"]["config"]["group_join_timeout_secs"] = json!(3);
    assert_eq!(s.put("/v0/connectors/sales-in", config).await.0, 201);
    let attached = json!([
        {"name": "total-sales", "is_input": false, "connector_name": "total-sales", "relation_name": "total_sales"},
        {"name": "sales-in", "is_input": true, "connector_name": "sales-in", "relation_name": "sales"},
    ]);
    let (status, body) = s
        .patch("/v0/pipelines/fair", json!({"connectors": attached}))
        .await;
    assert_eq!(status, 200, "{body}");
    action(&s, "fair", "start").await;
    let p = reaches(&s, "fair", "Failed").await;
    let message = p["state"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("input connector 'sales-in'"), "{p}");
    assert!(message.contains("sluice-no-such-input-topic"), "{p}");
    action(&s, "fair", "shutdown").await;
    reaches(&s, "fair", "Shutdown").await;
    s.stop().await;
}

/// Two pipelines of one server, each with its own program, connector and topic: both run at once, and shutting
/// one down leaves the other running and accepting input.
async fn two_pipelines_run_in_parallel(backend: Backend) {
    let servers = brokers();
    let (ta, tb) = (
        TestTopic::new(&servers, "par-a", 1),
        TestTopic::new(&servers, "par-b", 1),
    );
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    book_fair(&s, &servers, &ta.name).await;
    let (status, body) = s
        .put("/v0/connectors/sales-b", connector(&servers, &tb.name))
        .await;
    assert_eq!(status, 201, "{body}");
    let attached = json!([{"name": "out", "is_input": false, "connector_name": "sales-b", "relation_name": "total_sales"}]);
    let (status, body) = s
        .put(
            "/v0/pipelines/fair-b",
            json!({"description": "", "program_name": "book-fair", "connectors": attached,
                   "config": {"workers": 2}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    action(&s, "fair", "start").await;
    action(&s, "fair-b", "start").await;
    reaches(&s, "fair", "Running").await;
    reaches(&s, "fair-b", "Running").await;
    for (name, copies) in [("fair", 1), ("fair-b", 7)] {
        let (status, body) = ingress(
            &s,
            &format!("/v0/pipelines/{name}/ingress/books?format=csv"),
            "1,Dune,10\n",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = ingress(
            &s,
            &format!("/v0/pipelines/{name}/ingress/sales?format=csv"),
            &format!("1,{copies}\n"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    action(&s, "fair", "shutdown").await;
    reaches(&s, "fair", "Shutdown").await;
    assert_eq!(
        topic_text(&servers, &ta.name, 1),
        vec![r#"{"insert":{"title":"Dune","copies":1,"revenue":10}}"#]
    );
    // fair-b is untouched by the other's shutdown.
    let (_, p) = s.get("/v0/pipelines/fair-b").await;
    assert_eq!(p["state"]["current_status"], "Running", "{p}");
    let (status, body) =
        ingress(&s, "/v0/pipelines/fair-b/ingress/sales?format=csv", "1,1\n").await;
    assert_eq!(status, 200, "{body}");
    settled(&s, "fair-b").await;
    action(&s, "fair-b", "shutdown").await;
    reaches(&s, "fair-b", "Shutdown").await;
    assert_eq!(
        topic_text(&servers, &tb.name, 3),
        vec![
            r#"{"insert":{"title":"Dune","copies":7,"revenue":70}}"#,
            r#"{"delete":{"title":"Dune","copies":7,"revenue":70}}"#,
            r#"{"insert":{"title":"Dune","copies":8,"revenue":80}}"#,
        ]
    );
    s.stop().await;
}

/// The broker stops mid-stream and comes back: with the default idempotent producer, the topic holds every
/// acknowledged change exactly once, and replaying it gives the view's final contents.
async fn a_broker_restart_mid_stream_loses_and_duplicates_nothing(backend: Backend) {
    let broker = std::sync::Arc::new(
        tokio::task::spawn_blocking(PrivateBroker::start)
            .await
            .unwrap(),
    );
    let servers = broker.address();
    let topic = TestTopic::new(&servers, "restart", 1);
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    book_fair(&s, &servers, &topic.name).await;
    let mut c = connector(&servers, &topic.name);
    c["config"]["transport"]["config"]["reconnect.backoff.max.ms"] = json!("500");
    assert_eq!(s.put("/v0/connectors/total-sales", c).await.0, 200);
    action(&s, "fair", "start").await;
    reaches(&s, "fair", "Running").await;
    let (status, _) = ingress(
        &s,
        "/v0/pipelines/fair/ingress/books?format=csv",
        "1,Dune,1\n",
    )
    .await;
    assert_eq!(status, 200);
    let mut total = 0;
    for copies in 1..=30 {
        if copies == 10 || copies == 20 {
            let b = broker.clone();
            tokio::task::spawn_blocking(move || if copies == 10 { b.down() } else { b.up() })
                .await
                .unwrap();
        }
        let (status, body) = ingress(
            &s,
            "/v0/pipelines/fair/ingress/sales?format=csv",
            &format!("1,{copies}\n"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        total += copies;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Wait until every change is acknowledged.
    let mut acknowledged = 0;
    for _ in 0..600 {
        let (_, stats) = s.get("/v0/pipelines/fair/stats").await;
        let out = &stats["outputs"][0];
        let g = &stats["global_metrics"];
        if g["total_processed_records"] == 31
            && out["queued_records"] == 0
            && out["transport"]["transmitted_records"] == g["total_output_records"]
        {
            acknowledged = out["transport"]["transmitted_messages"].as_u64().unwrap() as usize;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(acknowledged > 0, "the changes were never all acknowledged");
    action(&s, "fair", "shutdown").await;
    let p = reaches(&s, "fair", "Shutdown").await;
    assert!(p["state"]["error"].is_null(), "{p}");

    let got = topic_text(&servers, &topic.name, acknowledged);
    let (servers2, name) = (servers.clone(), topic.name.clone());
    let all = std::thread::spawn(move || {
        read_topic(&servers2, &name, acknowledged + 1, Duration::from_secs(2)).unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(
        all.len(),
        acknowledged,
        "more messages on the topic than acknowledged: duplicates"
    );
    // Replaying the changes gives the view's final contents: one row with every sale counted once.
    let mut rows: Vec<Value> = Vec::new();
    for m in &got {
        let m: Value = serde_json::from_str(m).unwrap();
        if let Some(row) = m.get("insert") {
            rows.push(row.clone());
        } else {
            let row = &m["delete"];
            let at = rows.iter().position(|r| r == row);
            rows.remove(
                at.unwrap_or_else(|| panic!("delete of a row not present: {row}; {got:?}")),
            );
        }
    }
    assert_eq!(
        rows,
        vec![json!({"title": "Dune", "copies": total, "revenue": total})],
        "{got:?}"
    );
    s.stop().await;
}

/// A panic inside one pipeline (injected: no input is known to make the engine panic) marks that
/// pipeline `Failed` with the error; the server and the other pipelines keep running.
async fn a_failing_pipeline_does_not_stop_the_others(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    book_fair_program(&s).await;
    for name in ["doomed", "fine"] {
        let (status, body) = s
            .put(
                &format!("/v0/pipelines/{name}"),
                json!({"description": "", "program_name": "book-fair"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        action(&s, name, "start").await;
        reaches(&s, name, "Running").await;
    }
    let (_, doomed) = s.get("/v0/pipelines/doomed").await;
    let id = doomed["state"]["pipeline_id"].as_str().unwrap().to_string();
    s.state.runner().get(&id).unwrap().inject_panic();
    let (status, body) =
        ingress(&s, "/v0/pipelines/doomed/ingress/sales?format=csv", "1,1\n").await;
    assert_eq!(status, 200, "{body}");
    let p = reaches(&s, "doomed", "Failed").await;
    assert_eq!(p["state"]["error"]["error_code"], "PipelineFailed", "{p}");
    assert!(
        p["state"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fault injected"),
        "{p}"
    );
    let (status, body) =
        ingress(&s, "/v0/pipelines/doomed/ingress/sales?format=csv", "1,1\n").await;
    assert_eq!(
        (status, body["error_code"].clone()),
        (409, json!("PipelineFailed")),
        "{body}"
    );

    // The other pipeline and the server are unaffected.
    let (status, body) = ingress(&s, "/v0/pipelines/fine/ingress/sales?format=csv", "1,1\n").await;
    assert_eq!(status, 200, "{body}");
    settled(&s, "fine").await;
    let (_, fine) = s.get("/v0/pipelines/fine").await;
    assert_eq!(fine["state"]["current_status"], "Running", "{fine}");
    assert_eq!(s.get("/healthz").await.0, 200);

    for name in ["doomed", "fine"] {
        action(&s, name, "shutdown").await;
        reaches(&s, name, "Shutdown").await;
    }
    s.stop().await;
}

async fn running_pipelines_restart_with_the_server(backend: Backend) {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "fair-restart", 1);
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    book_fair(&s, &servers, &topic.name).await;
    action(&s, "fair", "start").await;
    reaches(&s, "fair", "Running").await;
    s.stop().await;
    let s = TestServer::start(&db).await;
    reaches(&s, "fair", "Running").await;
    let (status, _) = ingress(
        &s,
        "/v0/pipelines/fair/ingress/books?format=csv",
        "1,Dune,10\n",
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = ingress(&s, "/v0/pipelines/fair/ingress/sales?format=csv", "1,1\n").await;
    assert_eq!(status, 200);
    settled(&s, "fair").await;
    action(&s, "fair", "shutdown").await;
    reaches(&s, "fair", "Shutdown").await;
    assert_eq!(
        topic_text(&servers, &topic.name, 1),
        vec![r#"{"insert":{"title":"Dune","copies":1,"revenue":10}}"#]
    );
    s.stop().await;
}

/// A change that cannot be encoded (larger than `message.max.bytes`) fails the pipeline by default, and the API
/// says which connector, view and record; nothing of it is counted as delivered.
async fn an_encode_error_fails_the_pipeline_naming_the_connector_and_the_view(backend: Backend) {
    let servers = brokers();
    let topic = TestTopic::new(&servers, "encode-fail", 1);
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let code = "CREATE TABLE notes (body VARCHAR NOT NULL); CREATE VIEW long_notes AS SELECT body FROM notes;";
    let (status, body) = s
        .put(
            "/v0/programs/notes",
            json!({"description": "", "code": code}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(compiled(&s, "notes").await["status"], "Success");
    let connector = json!({"description": "", "config": {
        "transport": {"name": "kafka_output", "config": {
            "bootstrap.servers": servers, "topic": topic.name, "message.max.bytes": "1000"}},
        "format": {"name": "json"}}});
    assert_eq!(s.put("/v0/connectors/small", connector).await.0, 201);
    let attached = json!([{"name": "small", "is_input": false, "connector_name": "small", "relation_name": "long_notes"}]);
    let (status, body) = s
        .put(
            "/v0/pipelines/notes",
            json!({"description": "", "program_name": "notes", "connectors": attached}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    action(&s, "notes", "start").await;
    reaches(&s, "notes", "Running").await;
    let record = json!({"insert": {"body": "x".repeat(5_000)}}).to_string();
    let (status, body) =
        ingress(&s, "/v0/pipelines/notes/ingress/notes?format=json", &record).await;
    assert_eq!(status, 200, "{body}");
    let p = reaches(&s, "notes", "Failed").await;
    let message = p["state"]["error"]["message"].as_str().unwrap();
    for part in [
        "'small'",
        "long_notes",
        "cannot be encoded",
        "on_encode_error",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(p["state"]["error"]["error_code"], "PipelineFailed");
    action(&s, "notes", "shutdown").await;
    reaches(&s, "notes", "Shutdown").await;
    s.stop().await;
}

both_backends!(
    chaos_one_server_four_pipelines_three_failures,
    an_encode_error_fails_the_pipeline_naming_the_connector_and_the_view,
    book_fair_end_to_end,
    a_start_that_cannot_reach_the_topic_fails_the_pipeline,
    running_pipelines_restart_with_the_server,
    kafka_topics_in_and_out_with_deletes_and_updates,
    a_kafka_input_on_a_missing_topic_fails_the_start,
    two_pipelines_run_in_parallel,
    a_broker_restart_mid_stream_loses_and_duplicates_nothing,
    a_failing_pipeline_does_not_stop_the_others,
);

/// The changes of `total_sales` in `messages` applied in order: the view's rows as (title, copies).
fn fold(messages: &[String]) -> Vec<(String, i64)> {
    let mut rows: Vec<Value> = Vec::new();
    for m in messages {
        let m: Value = serde_json::from_str(m).unwrap();
        match (m.get("insert"), m.get("delete")) {
            (Some(row), None) => rows.push(row.clone()),
            (None, Some(row)) => {
                let at = rows
                    .iter()
                    .position(|r| r == row)
                    .unwrap_or_else(|| panic!("a delete of a row not present: {row}"));
                rows.remove(at);
            }
            _ => panic!("not an insert_delete change: {m}"),
        }
    }
    let mut out: Vec<(String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["title"].as_str().unwrap().to_string(),
                r["copies"].as_i64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Waits until everything on `topic` folds to `want`.
async fn topic_folds_to(servers: &str, topic: &str, want: &[(&str, i64)]) {
    let want: Vec<(String, i64)> = want.iter().map(|(t, c)| (t.to_string(), *c)).collect();
    let mut got = Vec::new();
    for _ in 0..60 {
        let (sv, tp) = (servers.to_string(), topic.to_string());
        let messages: Vec<String> = std::thread::spawn(move || {
            read_topic(&sv, &tp, usize::MAX, Duration::from_secs(2))
                .unwrap()
                .iter()
                .map(|m| m.payload_text())
                .collect()
        })
        .join()
        .unwrap();
        got = fold(&messages);
        if got == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("topic {topic} folds to {got:?}, not {want:?}");
}

/// Pipeline `name` over the book fair with these attached connectors (`(connector, is_input, relation)`).
async fn fair_pipeline(s: &TestServer, name: &str, attached: &[(&str, bool, &str)]) {
    let connectors: Vec<Value> = attached
        .iter()
        .map(|(c, input, relation)| {
            json!({"name": c, "is_input": input, "connector_name": c, "relation_name": relation})
        })
        .collect();
    let (status, body) = s
        .put(
            &format!("/v0/pipelines/{name}"),
            json!({"description": "", "program_name": "book-fair", "connectors": connectors}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    action(s, name, "start").await;
    reaches(s, name, "Running").await;
}

/// Issue #22's chaos: four pipelines on one server. One loses its input topic (deleted), one panics (injected),
/// one loses its output broker (killed, later restarted); the fourth keeps going all along. Each failure stays in
/// its pipeline: the deleted topic fails `deleted` naming the topic, the panic fails `doomed`, the dead broker only
/// stalls `outage`'s connector; `fine` processes everything and its topic equals the view, and so does `outage`'s
/// once its broker is back. Then the server stops with a watch open and the watch ends.
async fn chaos_one_server_four_pipelines_three_failures(backend: Backend) {
    let servers = brokers();
    let private = PrivateBroker::start();
    let fine_out = TestTopic::new(&servers, "chaos-fine", 1);
    let doomed_in = TestTopic::new(&servers, "chaos-deleted", 1);
    sluice_transports::kafka_tools::create_topic(&private.address(), "chaos-outage", 1).unwrap();
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    book_fair_program(&s).await;
    for (name, body) in [
        ("out-fine", connector(&servers, &fine_out.name)),
        ("out-outage", {
            let mut c = connector(&private.address(), "chaos-outage");
            c["config"]["transport"]["config"]["reconnect.backoff.max.ms"] = json!(500);
            c
        }),
        ("in-deleted", {
            let mut c = kafka_in(&servers, &doomed_in.name);
            c["config"]["transport"]["config"]["topic.metadata.refresh.interval.ms"] =
                json!("2000");
            c
        }),
    ] {
        let (status, b) = s.put(&format!("/v0/connectors/{name}"), body).await;
        assert_eq!(status, 201, "{name}: {b}");
    }
    fair_pipeline(&s, "fine", &[("out-fine", false, "total_sales")]).await;
    fair_pipeline(&s, "outage", &[("out-outage", false, "total_sales")]).await;
    fair_pipeline(&s, "deleted", &[("in-deleted", true, "sales")]).await;
    fair_pipeline(&s, "doomed", &[]).await;
    for p in ["fine", "outage", "deleted", "doomed"] {
        let (status, body) = ingress(
            &s,
            &format!("/v0/pipelines/{p}/ingress/books?format=csv"),
            "1,Dune,10\n",
        )
        .await;
        assert_eq!(status, 200, "{p}: {body}");
    }
    /// Sells `n` copies of Dune in `fine` and in `outage`; returns `n`.
    async fn sell(s: &TestServer, n: i64) -> i64 {
        for p in ["fine", "outage"] {
            let path = format!("/v0/pipelines/{p}/ingress/sales?format=csv");
            let (status, body) = ingress(s, &path, &format!("1,{n}\n")).await;
            assert_eq!(status, 200, "{p}: {body}");
        }
        n
    }
    let mut copies = sell(&s, 1).await;

    // Three failures at once.
    private.down();
    let (sv, tp) = (servers.clone(), doomed_in.name.clone());
    std::thread::spawn(move || sluice_transports::kafka_tools::delete_topic(&sv, &tp).unwrap())
        .join()
        .unwrap();
    let (_, doomed) = s.get("/v0/pipelines/doomed").await;
    let id = doomed["state"]["pipeline_id"].as_str().unwrap().to_string();
    s.state.runner().get(&id).unwrap().inject_panic();
    let (status, _) = ingress(&s, "/v0/pipelines/doomed/ingress/sales?format=csv", "1,1\n").await;
    assert_eq!(status, 200);
    for n in 2..=6 {
        copies += sell(&s, n).await;
    }

    let p = reaches(&s, "doomed", "Failed").await;
    assert!(
        p["state"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fault injected"),
        "{p}"
    );
    let p = reaches(&s, "deleted", "Failed").await;
    let why = p["state"]["error"]["message"].as_str().unwrap();
    assert!(
        why.contains("in-deleted") && why.contains(&doomed_in.name),
        "{p}"
    );
    // The dead broker stalls `outage`'s connector; the pipeline runs on.
    let mut stalled = Value::Null;
    for _ in 0..300 {
        let (_, stats) = s.get("/v0/pipelines/outage/stats").await;
        stalled = stats["outputs"][0]["transport"]["health"].clone();
        if stalled["state"] == "stalled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stalled["state"], "stalled", "{stalled}");
    assert_eq!(
        s.get("/v0/pipelines/outage").await.1["state"]["current_status"],
        "Running"
    );

    // `fine` saw none of it.
    assert_eq!(
        s.get("/v0/pipelines/fine").await.1["state"]["current_status"],
        "Running"
    );
    settled(&s, "fine").await;
    topic_folds_to(&servers, &fine_out.name, &[("Dune", copies)]).await;
    // `outage` delivers everything once its broker is back.
    private.up();
    topic_folds_to(&private.address(), "chaos-outage", &[("Dune", copies)]).await;
    assert_eq!(s.get("/healthz").await.0, 200);

    // A watch open on `fine` ends when the server stops.
    let mut watch = s
        .client
        .post(s.url("/v0/pipelines/fine/egress/total_sales?format=json&mode=watch"))
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);
    let stopping = tokio::spawn(s.stop());
    let ended = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            match watch.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    match ended {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("the watch was cut off instead of ended: {e}"),
        Err(_) => panic!("the watch did not end when the server stopped"),
    }
    tokio::time::timeout(Duration::from_secs(90), stopping)
        .await
        .expect("the server stops within its bound")
        .unwrap();
}
