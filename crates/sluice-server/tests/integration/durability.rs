//! `fault_tolerance` through the REST API, without a broker: the config is checked when it is written, checkpoints
//! are taken on request and reported, state written by one program is refused by another until it is cleared, and
//! a pipeline without durability says so. (A real server killed with SIGKILL is in `crates/sluice/tests/durable_e2e.rs`.)

use std::time::Duration;

use crate::common::{action, assert_error, compiled, reaches, Backend, TestDb, TestServer};
use serde_json::{json, Value};

const PROGRAM: &str = "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, x BIGINT NOT NULL); \
                       CREATE VIEW v AS SELECT SUM(x) AS total FROM t;";

async fn program(s: &TestServer, code: &str) {
    let (status, body) = s
        .put(
            "/v0/programs/prog",
            json!({"description": "", "code": code}),
        )
        .await;
    assert!(status == 201 || status == 200, "{body}");
    assert_eq!(compiled(s, "prog").await["status"], "Success");
}

fn pipeline(fault_tolerance: Value) -> Value {
    json!({"description": "", "program_name": "prog", "config": {"fault_tolerance": fault_tolerance}})
}

async fn fault_tolerance_config_is_checked_when_written(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    program(&s, PROGRAM).await;

    // The default is at_least_once, every 60 s.
    let (status, body) = s
        .put(
            "/v0/pipelines/plain",
            json!({"description": "", "program_name": "prog"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, p) = s.get("/v0/pipelines/plain").await;
    assert_eq!(
        p["descriptor"]["config"]["fault_tolerance"],
        json!({"model": "at_least_once", "checkpoint_interval_secs": 60})
    );

    let refused = [
        (
            json!({"checkpoint_interval_secs": 0}),
            "config.fault_tolerance.checkpoint_interval_secs",
        ),
        (
            json!({"checkpoint_interval_secs": 3601}),
            "config.fault_tolerance.checkpoint_interval_secs",
        ),
    ];
    for (ft, field) in refused {
        let got = s.put("/v0/pipelines/bad", pipeline(ft.clone())).await;
        let body = assert_error(&got, 400, "InvalidPipelineConfig");
        assert_eq!(body["details"]["field"], field, "{ft}: {body}");
        let got = s
            .patch(
                "/v0/pipelines/plain",
                json!({"config": {"fault_tolerance": ft}}),
            )
            .await;
        assert_error(&got, 400, "InvalidPipelineConfig");
    }
    assert_eq!(s.get("/v0/pipelines/bad").await.0, 404, "nothing stored");

    // `null` is Feldera's way of saying none.
    let (status, body) = s
        .put("/v0/pipelines/null", pipeline(json!({"model": null})))
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, p) = s.get("/v0/pipelines/null").await;
    assert_eq!(
        p["descriptor"]["config"]["fault_tolerance"]["model"],
        "none"
    );
    // An unknown model is a body error naming the field.
    let got = s
        .put("/v0/pipelines/bad", pipeline(json!({"model": "sometimes"})))
        .await;
    assert_eq!(got.0, 400, "{}", got.1);
    assert!(
        got.1["message"].as_str().unwrap().contains("model"),
        "{}",
        got.1
    );
    s.stop().await;
}

async fn checkpoint_status(s: &TestServer, name: &str, sequence: u64) -> Value {
    for _ in 0..300 {
        let (status, body) = s
            .get(&format!("/v0/pipelines/{name}/checkpoint_status"))
            .await;
        assert_eq!(status, 200, "{body}");
        if body["success"].as_u64().is_some_and(|n| n >= sequence) || !body["failure"].is_null() {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("checkpoint {sequence} of {name} neither succeeded nor failed");
}

async fn checkpoints_are_taken_on_request_and_state_is_refused_by_another_program(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    program(&s, PROGRAM).await;
    let (status, body) = s
        .put(
            "/v0/pipelines/p",
            pipeline(json!({"model": "at_least_once", "checkpoint_interval_secs": 3600})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    action(&s, "p", "start").await;
    reaches(&s, "p", "Running").await;
    let (status, body) = s
        .raw(
            reqwest::Method::POST,
            "/v0/pipelines/p/ingress/t?format=json",
            None,
            b"{\"insert\": {\"id\": 1, \"x\": 5}}\n{\"insert\": {\"id\": 2, \"x\": 7}}".to_vec(),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, answer) = s.post_empty("/v0/pipelines/p/checkpoint").await;
    assert_eq!(status, 200, "{answer}");
    let sequence = answer["checkpoint_sequence_number"].as_u64().unwrap();
    assert_eq!(sequence, 1);
    let status = checkpoint_status(&s, "p", sequence).await;
    assert_eq!(status, json!({"success": 1, "failure": null}));
    let (_, stats) = s.get("/v0/pipelines/p/stats").await;
    let ft = &stats["fault_tolerance"];
    assert!(ft["checkpoint_step"].as_u64().unwrap() >= 1, "{stats}");
    assert!(ft["checkpoint_committed_at_ms"].is_u64(), "{stats}");
    assert_eq!(ft["checkpoints"], 1, "{stats}");

    // Clearing needs the pipeline shut down.
    let got = s.post_empty("/v0/pipelines/p/clear").await;
    assert_error(&got, 400, "IllegalPipelineStateTransition");
    action(&s, "p", "shutdown").await;
    reaches(&s, "p", "Shutdown").await;

    // Another program cannot use this state: the start is refused, saying why and what to do.
    program(&s, &PROGRAM.replace("SUM(x)", "MAX(x)")).await;
    action(&s, "p", "start").await;
    let p = reaches(&s, "p", "Failed").await;
    let message = p["state"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("different program"), "{message}");
    assert!(message.contains("/clear"), "{message}");
    action(&s, "p", "shutdown").await;
    reaches(&s, "p", "Shutdown").await;
    let (status, body) = s.post_empty("/v0/pipelines/p/clear").await;
    assert_eq!(status, 200, "{body}");
    action(&s, "p", "start").await;
    reaches(&s, "p", "Running").await;
    let (_, stats) = s.get("/v0/pipelines/p/stats").await;
    assert_eq!(stats["fault_tolerance"]["checkpoint_step"], 0, "{stats}");
    action(&s, "p", "shutdown").await;
    reaches(&s, "p", "Shutdown").await;
    s.stop().await;
}

async fn a_pipeline_without_durability_has_no_checkpoints(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    program(&s, PROGRAM).await;
    let (status, body) = s
        .put("/v0/pipelines/p", pipeline(json!({"model": "none"})))
        .await;
    assert_eq!(status, 201, "{body}");
    action(&s, "p", "start").await;
    reaches(&s, "p", "Running").await;
    assert_error(
        &s.post_empty("/v0/pipelines/p/checkpoint").await,
        400,
        "PipelineNotDurable",
    );
    assert_error(
        &s.get("/v0/pipelines/p/checkpoint_status").await,
        400,
        "PipelineNotDurable",
    );
    let (_, stats) = s.get("/v0/pipelines/p/stats").await;
    assert!(stats["fault_tolerance"].is_null(), "{stats}");
    action(&s, "p", "shutdown").await;
    reaches(&s, "p", "Shutdown").await;
    s.stop().await;
}

both_backends!(
    fault_tolerance_config_is_checked_when_written,
    checkpoints_are_taken_on_request_and_state_is_refused_by_another_program,
    a_pipeline_without_durability_has_no_checkpoints,
);
