//! Feldera's current API over real HTTP, on SQLite and PostgreSQL: pipelines written with `program_code` and
//! connectors declared in SQL, Feldera's status words, completion tokens, heartbeats and ad-hoc queries; beside
//! them, a pipeline of the 2024 API keeps its shape.
//!
//! Longer than 600 lines: three scenario tests that walk one pipeline each through the API in order.

use std::time::{Duration, Instant};

use crate::common::{assert_error, Backend, TestDb, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

both_backends!(
    lateness_is_in_the_schema_and_late_records_are_counted,
    program_code_pipelines_compile_on_write_and_show_feldera_shapes,
    declared_connectors_are_checked_like_api_connectors,
    lifecycle_tokens_heartbeats_and_queries,
);

const TIMEOUT: Duration = Duration::from_secs(30);

/// A current-API pipeline body named `p` with this program.
pub(crate) fn body(code: &str) -> Value {
    json!({
        "name": "p",
        "program_code": code,
        "udf_rust": "",
        "udf_toml": "",
        "program_config": {"profile": "optimized", "runtime_version": null},
        "runtime_config": {"workers": 2, "tracing": false},
        "description": "d",
        "tags": ["t1"],
    })
}

const PROGRAM: &str = "CREATE TABLE t (k INT NOT NULL PRIMARY KEY, v VARCHAR);\n\
     CREATE MATERIALIZED VIEW Big AS SELECT k, v FROM t WHERE k > 1;\n\
     CREATE MATERIALIZED VIEW counts AS SELECT v, COUNT(*) AS n FROM t GROUP BY v;";

async fn status(s: &TestServer, name: &str) -> Value {
    let (code, p) = s
        .get(&format!("/v0/pipelines/{name}?selector=status"))
        .await;
    assert_eq!(code, 200, "{p}");
    p
}

/// Polls `?selector=status` until `field` is `want`, as Feldera's clients do.
pub(crate) async fn until(s: &TestServer, name: &str, field: &str, want: &str) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let p = status(s, name).await;
        if p[field] == want {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{field} never became {want}: {p}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn program_code_pipelines_compile_on_write_and_show_feldera_shapes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let (code, p) = s.put("/v0/pipelines/p", body(PROGRAM)).await;
    assert_eq!(code, 201, "{p}");
    assert_eq!(p["program_status"], "Success", "{p}");
    assert_eq!(p["deployment_status"], "Stopped");
    assert_eq!(p["deployment_desired_status"], "Stopped");
    assert_eq!(p["storage_status"], "Cleared");
    assert_eq!(p["program_version"], 1);
    assert_eq!(p["tags"], json!(["t1"]));
    assert_eq!(p["udf_rust"], "");
    assert_eq!(p["runtime_config"], json!({"workers": 2, "tracing": false}));
    let schema = &p["program_info"]["schema"];
    assert_eq!(schema["inputs"][0]["name"], "t");
    assert_eq!(schema["inputs"][0]["case_sensitive"], false);
    assert_eq!(schema["inputs"][0]["primary_key"], json!(["k"]));
    let k = &schema["inputs"][0]["fields"][0];
    assert_eq!(k["name"], "k");
    assert_eq!(
        k["columntype"],
        json!({"type": "INTEGER", "nullable": false, "precision": null,
        "scale": null, "component": null, "fields": null, "key": null, "value": null})
    );
    assert_eq!(
        schema["outputs"][0]["name"], "big",
        "unquoted names are lower-cased"
    );
    assert_eq!(schema["outputs"][0]["materialized"], true);
    // Feldera's own types read the schema as its clients do.
    for r in schema["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(schema["outputs"].as_array().unwrap())
    {
        let parsed: feldera_types::program_schema::Relation =
            serde_json::from_value(r.clone()).unwrap_or_else(|e| panic!("{e}: {r}"));
        assert_eq!(parsed.fields.len(), r["fields"].as_array().unwrap().len());
    }
    assert_eq!(
        schema["inputs"][0]["fields"][1]["columntype"]["precision"],
        -1
    );
    // Every field Feldera's clients read is there, null where Sluice has nothing to say.
    for key in [
        "id",
        "name",
        "description",
        "created_at",
        "version",
        "platform_version",
        "program_config",
        "program_status_since",
        "deployment_status_since",
        "deployment_error",
        "deployment_runtime_status",
        "deployment_resources_status",
        "refresh_version",
        "program_error",
        "program_code",
    ] {
        assert!(p.get(key).is_some(), "{key} missing: {p}");
    }
    // `status` leaves the program out; the default shows all.
    let st = status(&s, "p").await;
    assert!(
        st.get("program_code").is_none() && st.get("program_info").is_none(),
        "{st}"
    );
    assert_eq!(st["program_status"], "Success");
    let (_, all) = s.get("/v0/pipelines/p").await;
    assert_eq!(all["program_code"], PROGRAM);
    assert_error(
        &s.get("/v0/pipelines/p?selector=some").await,
        400,
        "InvalidQuery",
    );

    // A program that does not compile is stored, with positioned messages and the new version: never the old
    // program's Success.
    let (code, p) = s
        .put(
            "/v0/pipelines/p",
            body("CREATE TABLE t (k INT);\nCREATE VIEW v AS SELECT nope FROM t;"),
        )
        .await;
    assert_eq!(code, 200, "{p}");
    assert_eq!(p["program_status"], "SqlError");
    assert_eq!(p["program_version"], 2);
    let m = &p["program_error"]["sql_compilation"]["messages"][0];
    assert_eq!(m["start_line_number"], 2, "{p}");
    assert!(m["message"].as_str().unwrap().contains("nope"), "{m}");
    assert!(
        m["snippet"].as_str().unwrap().contains("SELECT nope"),
        "{m}"
    );
    assert_eq!(p["program_error"]["sql_compilation"]["exit_code"], 1);
    assert_error(
        &s.post_empty("/v0/pipelines/p/start").await,
        400,
        "ProgramFailedToCompile",
    );

    // POST creates (201) and refuses a taken name (409); body errors name the field.
    let mut other = body(PROGRAM);
    other["name"] = json!("q");
    let (code, q) = s.post("/v0/pipelines", other.clone()).await;
    assert_eq!(code, 201, "{q}");
    assert_error(&s.post("/v0/pipelines", other).await, 409, "DuplicateName");
    let mut bad = body(PROGRAM);
    bad["name"] = json!("r");
    bad["udf_rust"] = json!("fn f() {}");
    assert_error(
        &s.put("/v0/pipelines/r", bad).await,
        400,
        "UnsupportedFeature",
    );
    let mut bad = body(PROGRAM);
    bad["name"] = json!("r");
    bad["runtime_config"] = json!({"workers": "two"});
    let e = assert_error(
        &s.put("/v0/pipelines/r", bad).await,
        400,
        "InvalidPipelineConfig",
    );
    assert_eq!(e["details"]["field"], "runtime_config.workers");
    let mut bad = body(PROGRAM);
    bad["name"] = json!("other");
    assert_error(&s.put("/v0/pipelines/r", bad).await, 400, "InvalidValue");
    assert_error(&s.get("/v0/pipelines/r").await, 404, "UnknownPipelineName");

    // A 2024 pipeline beside them keeps its shape, in the list too.
    let (code, _) = s
        .put(
            "/v0/pipelines/old",
            json!({"description": "", "config": {}}),
        )
        .await;
    assert_eq!(code, 201);
    let (_, old) = s.get("/v0/pipelines/old").await;
    assert_eq!(old["state"]["current_status"], "Shutdown", "{old}");
    assert!(old.get("deployment_status").is_none());
    let (_, list) = s.get("/v0/pipelines?selector=status").await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.iter().any(|p| p["descriptor"]["name"] == "old"));
    assert!(list
        .iter()
        .any(|p| p["name"] == "q" && p["program_status"] == "Success"));
    // PATCH belongs to the 2024 API.
    assert_error(
        &s.patch("/v0/pipelines/q", json!({"description": "x"}))
            .await,
        400,
        "UnsupportedFeature",
    );

    // A base URL with a trailing slash, as Feldera's client joins it.
    let (code, config) = s.get("//v0/config").await;
    assert_eq!(code, 200);
    assert_eq!(config["edition"], "Open source");
    let (code, health) = s.get("/v0/cluster_healthz").await;
    assert_eq!(code, 200);
    assert_eq!(health["all_healthy"], true);
    s.stop().await;
}

/// A `kafka_output` connector config as `/v0/connectors` takes it.
fn kafka_output_config(transport_config: Value) -> Value {
    json!({"transport": {"name": "kafka_output", "config": transport_config},
        "format": {"name": "json", "config": {"update_format": "insert_delete"}}})
}

/// The same, declared in SQL with a `name`.
fn kafka_output(name: &str, transport_config: Value) -> Value {
    let mut c = kafka_output_config(transport_config);
    c["name"] = json!(name);
    c
}

/// The program with `connectors` declared on view `v` (on its third line).
fn with_connectors(connectors: &Value) -> String {
    let text = connectors.to_string().replace('\'', "''");
    format!("CREATE TABLE t (k INT);\nCREATE VIEW v\n  WITH ('connectors' = '{text}')\n  AS SELECT k FROM t;")
}

async fn declared_connectors_are_checked_like_api_connectors(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let good = json!([
        kafka_output(
            "out",
            json!({"bootstrap.servers": "127.0.0.1:9", "topic": "x"})
        ),
        kafka_output_config(json!({"bootstrap.servers": "127.0.0.1:9", "topic": "y"}))
    ]);
    let (code, p) = s
        .put("/v0/pipelines/p", body(&with_connectors(&good)))
        .await;
    assert_eq!(code, 201, "{p}");
    assert_eq!(p["program_status"], "Success", "{p}");
    let outputs = &p["program_info"]["output_connectors"];
    let named = &outputs["v.out"];
    assert_eq!(named["stream"], "v", "{outputs}");
    assert_eq!(
        named["connector_config"]["transport"]["config"]["topic"],
        "x"
    );
    // Defaults are filled in, as /v0/connectors stores them.
    assert!(
        named["connector_config"]["format"]["config"]
            .get("array")
            .is_some(),
        "{named}"
    );
    assert_eq!(
        outputs["v.unnamed-1"]["connector_config"]["transport"]["config"]["topic"],
        "y"
    );
    assert_eq!(p["program_info"]["input_connectors"], json!({}));

    // A bad option is a positioned SQL error naming the relation, the connector and the field.
    for (connectors, says) in [
        (
            json!([kafka_output(
                "out",
                json!({"bootstrap.servers": "127.0.0.1:9"})
            )]),
            "transport.config.topic",
        ),
        (
            json!([kafka_output(
                "out",
                json!({"bootstrap.servers": "127.0.0.1:9", "topic": "x", "acks": "sometimes"})
            )]),
            "acks",
        ),
        (
            json!([{"name": "in", "transport": {"name": "kafka_input", "config": {"bootstrap.servers": "127.0.0.1:9", "topics": ["x"]}},
            "format": {"name": "json"}}]),
            "belongs on a table",
        ),
        (json!({"transport": 1}), "JSON array"),
        (
            json!([
                kafka_output("a", json!({"bootstrap.servers": "h:1", "topic": "x"})),
                kafka_output("a", json!({"bootstrap.servers": "h:1", "topic": "y"}))
            ]),
            "two connectors",
        ),
    ] {
        let (code, p) = s
            .put("/v0/pipelines/p", body(&with_connectors(&connectors)))
            .await;
        assert_eq!(code, 200, "{p}");
        assert_eq!(p["program_status"], "SqlError", "{connectors}: {p}");
        let m = &p["program_error"]["sql_compilation"]["messages"][0];
        let text = m["message"].as_str().unwrap();
        assert!(
            text.contains(says) && text.contains("view v"),
            "{says}: {text}"
        );
        assert_eq!(
            (m["start_line_number"].as_u64(), m["start_column"].as_u64()),
            (Some(3), Some(10)),
            "{m}"
        );
    }
    // The same check as /v0/connectors: the same config is refused there too.
    let (code, _) = s
        .put("/v0/connectors/c", json!({"description": "", "config": kafka_output_config(json!({"bootstrap.servers": "h:1"}))}))
        .await;
    assert_eq!(code, 400);

    // A secret written out in the SQL is refused and nothing is stored: the API shows the program as written.
    let secret = json!([kafka_output(
        "out",
        json!({"bootstrap.servers": "h:1", "topic": "x",
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN", "sasl.username": "u", "sasl.password": "hunter2"})
    )]);
    let before = s.get("/v0/pipelines/p").await.1["program_code"].clone();
    let e = assert_error(
        &s.put("/v0/pipelines/p", body(&with_connectors(&secret)))
            .await,
        400,
        "InvalidConnectorConfig",
    );
    assert!(
        e["details"]["field"]
            .as_str()
            .unwrap()
            .ends_with("sasl.password"),
        "{e}"
    );
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert_eq!(s.get("/v0/pipelines/p").await.1["program_code"], before);
    let reference = secret
        .to_string()
        .replace("hunter2", "${secret:kafka_password}");
    let (_, p) = s
        .put(
            "/v0/pipelines/p",
            body(&with_connectors(&serde_json::from_str(&reference).unwrap())),
        )
        .await;
    assert_eq!(
        p["program_status"], "Success",
        "a reference is accepted (resolved at start): {p}"
    );

    // A start that fails is Feldera's failed start: stopped, wanted stopped, with the error; `dismiss_error`
    // forgets it. (The secret is missing, so the start fails before any network is tried.)
    let (code, _) = s.post_empty("/v0/pipelines/p/start").await;
    assert_eq!(code, 202);
    let deadline = Instant::now() + TIMEOUT;
    let failed = loop {
        let p = status(&s, "p").await;
        if !p["deployment_error"].is_null() {
            break p;
        }
        assert!(Instant::now() < deadline, "the start never failed: {p}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed["deployment_status"], "Stopped", "{failed}");
    assert_eq!(failed["deployment_desired_status"], "Stopped", "{failed}");
    let message = failed["deployment_error"]["message"].as_str().unwrap();
    assert!(
        message.contains("v.out") && message.contains("kafka_password"),
        "{message}"
    );
    assert_error(
        &s.post_empty("/v0/pipelines/p/start").await,
        400,
        "IllegalPipelineStateTransition",
    );
    let (code, _) = s.post_empty("/v0/pipelines/p/dismiss_error").await;
    assert_eq!(code, 200);
    let p = status(&s, "p").await;
    assert!(p["deployment_error"].is_null(), "{p}");
    assert_eq!(p["deployment_status"], "Stopped");

    // A program of /v0/programs still attaches its connectors through the API.
    let (code, _) = s
        .put(
            "/v0/programs/prog",
            json!({"description": "", "code": with_connectors(&good)}),
        )
        .await;
    assert_eq!(code, 201);
    let deadline = Instant::now() + TIMEOUT;
    let program = loop {
        let (_, prog) = s.get("/v0/programs/prog").await;
        if prog["status"] != "Pending" && prog["status"] != "CompilingSql" {
            break prog;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        program["status"]["SqlError"][0]["message"]
            .as_str()
            .unwrap()
            .contains("program_code"),
        "{program}"
    );
    s.stop().await;
}

/// Reads the next line of a streaming answer.
async fn next_line(response: &mut reqwest::Response, pending: &mut Vec<u8>) -> Value {
    loop {
        if let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            return serde_json::from_slice(&line).unwrap();
        }
        let chunk = tokio::time::timeout(TIMEOUT, response.chunk())
            .await
            .expect("a line within the timeout")
            .unwrap()
            .expect("the stream goes on");
        pending.extend_from_slice(&chunk);
    }
}

async fn lifecycle_tokens_heartbeats_and_queries(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let (code, p) = s.put("/v0/pipelines/p", body(PROGRAM)).await;
    assert_eq!(code, 201, "{p}");
    let (code, _) = s.post_empty("/v0/pipelines/p/dismiss_error").await;
    assert_eq!(code, 200);
    assert_error(
        &s.post_empty("/v0/pipelines/p/resume").await,
        400,
        "IllegalPipelineStateTransition",
    );
    assert_error(
        &s.post_empty("/v0/pipelines/p/start?initial=standby").await,
        400,
        "UnsupportedFeature",
    );
    let (code, _) = s
        .post_empty("/v0/pipelines/p/start?initial=paused&dismiss_error=false")
        .await;
    assert_eq!(code, 202);
    let p = until(&s, "p", "deployment_status", "Paused").await;
    assert_eq!(p["deployment_desired_status"], "Paused");
    let (code, _) = s.post_empty("/v0/pipelines/p/resume").await;
    assert_eq!(code, 202);
    until(&s, "p", "deployment_status", "Running").await;
    assert_error(
        &s.put("/v0/pipelines/p", body(PROGRAM)).await,
        400,
        "CannotUpdateNonShutdownPipeline",
    );

    // The change stream starts with an empty chunk at once, before any change.
    let mut watch = s
        .client
        .post(s.url("/v0/pipelines/p/egress/big?format=json&backpressure=true&array=false"))
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);
    let mut pending = Vec::new();
    let first = next_line(&mut watch, &mut pending).await;
    assert_eq!(first, json!({"sequence_number": 0, "snapshot": false}));

    // Ingress answers with a token; it is complete once the changes were handed to every output and watcher.
    let (code, answer) = s
        .raw(
            Method::POST,
            "/v0/pipelines/p/ingress/t?force=false&format=json&array=true&update_format=raw",
            Some("application/json"),
            br#"[{"k": 1, "v": "a"}, {"k": 2, "v": "a"}, {"k": 3, "v": "b"}]"#.to_vec(),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    let token = answer["token"].as_str().unwrap().to_string();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (code, st) = s
            .get(&format!("/v0/pipelines/p/completion_status?token={token}"))
            .await;
        assert_eq!(code, 200, "{st}");
        if st["status"] == "complete" {
            assert!(st["step"].as_u64().unwrap() >= 1, "{st}");
            break;
        }
        assert_eq!(st["status"], "inprogress");
        assert!(Instant::now() < deadline, "the token never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Complete means watched: the changes are on the stream already.
    let mut line = next_line(&mut watch, &mut pending).await;
    while line.get("json_data").is_none() {
        line = next_line(&mut watch, &mut pending).await;
    }
    let mut data = line["json_data"].as_array().unwrap().clone();
    data.sort_by_key(|d| d.to_string());
    assert_eq!(
        data,
        vec![
            json!({"insert": {"k": 2, "v": "a"}}),
            json!({"insert": {"k": 3, "v": "b"}})
        ]
    );
    assert_eq!(line["snapshot"], false);
    assert_error(
        &s.get("/v0/pipelines/p/completion_status?token=junk").await,
        400,
        "InvalidCompletionToken",
    );
    // `input_pandas`'s flavor is refused, not misread.
    let refused = s
        .raw(
            Method::POST,
            "/v0/pipelines/p/ingress/t?format=json&array=true&update_format=raw&json_flavor=pandas",
            Some("application/json"),
            br#"[{"k": 9, "v": "z"}]"#.to_vec(),
        )
        .await;
    assert_error(&refused, 400, "InvalidFormat");
    let other_run = format!(
        "00000000-0000-4000-8000-000000000000:{}",
        token.rsplit(':').next().unwrap()
    );
    assert_error(
        &s.get(&format!(
            "/v0/pipelines/p/completion_status?token={other_run}"
        ))
        .await,
        410,
        "InvalidCompletionToken",
    );

    // Ad-hoc queries over the materialized views, as JSON rows or a table.
    // One object per line (Feldera's clients send `pipeline_name` too).
    let text = s
        .text("/v0/pipelines/p/query?pipeline_name=p&sql=SELECT%20v%2C%20n%20FROM%20counts%20ORDER%20BY%20v&format=json")
        .await;
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![json!({"v": "a", "n": 2}), json!({"v": "b", "n": 1})],
        "{text}"
    );
    let table = s
        .text("/v0/pipelines/p/query?sql=SELECT%20COUNT(*)%20AS%20c%20FROM%20big&format=text")
        .await;
    assert!(table.contains("| c ") && table.contains("| 2 "), "{table}");
    let e = assert_error(
        &s.get("/v0/pipelines/p/query?sql=SELECT%20*%20FROM%20t&format=json")
            .await,
        400,
        "InvalidAdHocQuery",
    );
    assert!(
        e["message"].as_str().unwrap().contains("MATERIALIZED"),
        "{e}"
    );
    assert_error(
        &s.get("/v0/pipelines/p/query?sql=DELETE%20FROM%20big").await,
        400,
        "InvalidAdHocQuery",
    );

    // Stats in Feldera's shape.
    let (code, stats) = s.get("/v0/pipelines/p/stats").await;
    assert_eq!(code, 200);
    let g = &stats["global_metrics"];
    assert_eq!(g["state"], "Running");
    assert_eq!(g["total_input_records"], 3);
    assert_eq!(g["total_completed_records"], 3);
    assert_eq!(g["transaction_status"], "NoTransaction");
    assert_eq!(
        g["pipeline_complete"], true,
        "fed over HTTP only, all complete: {g}"
    );
    assert_eq!(
        g["incarnation_uuid"].as_str().unwrap(),
        token.rsplit_once(':').unwrap().0
    );
    assert_eq!(stats["inputs"][0]["endpoint_name"], "t.api-ingress");
    assert_eq!(stats["inputs"][0]["metrics"]["total_records"], 3);
    assert_eq!(stats["outputs"], json!([]));
    let parsed: feldera_types::adapter_stats::ExternalControllerStatus =
        serde_json::from_value(stats.clone()).unwrap_or_else(|e| panic!("{e}: {stats}"));
    assert_eq!(parsed.global_metrics.total_input_records, 3);

    // Stop (the stream ends), then clear the durable state and delete.
    let (code, _) = s.post_empty("/v0/pipelines/p/stop?force=true").await;
    assert_eq!(code, 202);
    let p = until(&s, "p", "deployment_status", "Stopped").await;
    assert_eq!(
        p["storage_status"], "InUse",
        "the default model keeps state: {p}"
    );
    // The stream ends when the pipeline stops.
    while let Ok(Some(_)) = tokio::time::timeout(TIMEOUT, watch.chunk())
        .await
        .expect("the stream ends")
    {}
    let (code, _) = s.post_empty("/v0/pipelines/p/clear").await;
    assert_eq!(code, 200);
    until(&s, "p", "storage_status", "Cleared").await;
    let (code, _) = s.delete("/v0/pipelines/p").await;
    assert_eq!(code, 200);
    assert_error(
        &s.get("/v0/pipelines/p?selector=all").await,
        404,
        "UnknownPipelineName",
    );
    s.stop().await;
}

/// Posts `records` (a JSON array) to the ingress of `table` and waits until its completion token is complete, so that
/// the next request is stepped after this one.
async fn ingest_stepped(s: &TestServer, table: &str, records: &str) {
    let (code, answer) = s
        .raw(
            Method::POST,
            &format!("/v0/pipelines/p/ingress/{table}?format=json&array=true&update_format=raw"),
            Some("application/json"),
            records.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    completed(s, &answer).await;
}

/// Waits until the completion token of an ingress answer of pipeline `p` is complete.
pub(crate) async fn completed(s: &TestServer, answer: &Value) {
    let token = answer["token"].as_str().unwrap().to_string();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (_, st) = s
            .get(&format!("/v0/pipelines/p/completion_status?token={token}"))
            .await;
        if st["status"] == "complete" {
            return;
        }
        assert!(Instant::now() < deadline, "the token never completed: {st}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A program with `LATENESS`: Feldera's schema shows the expression on its field (and Feldera's own types read it),
/// and a record later than the waterline is left out of the view and counted in `/metrics`.
async fn lateness_is_in_the_schema_and_late_records_are_counted(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let program = "CREATE TABLE clicks (page VARCHAR NOT NULL, ts TIMESTAMP NOT NULL LATENESS INTERVAL '1' MINUTE);\n\
                   CREATE MATERIALIZED VIEW per_page AS SELECT page, COUNT(*) AS n FROM clicks GROUP BY page;";
    let (code, p) = s.put("/v0/pipelines/p", body(program)).await;
    assert_eq!(code, 201, "{p}");
    let fields = &p["program_info"]["schema"]["inputs"][0]["fields"];
    assert_eq!(fields[0]["lateness"], Value::Null);
    assert_eq!(fields[1]["lateness"], "INTERVAL '1' MINUTE");
    let parsed: feldera_types::program_schema::Relation =
        serde_json::from_value(p["program_info"]["schema"]["inputs"][0].clone()).unwrap();
    assert_eq!(
        parsed.fields[1].lateness.as_deref(),
        Some("INTERVAL '1' MINUTE")
    );

    let (code, _) = s.post_empty("/v0/pipelines/p/start").await;
    assert_eq!(code, 202);
    until(&s, "p", "deployment_status", "Running").await;
    ingest_stepped(
        &s,
        "clicks",
        r#"[{"page": "home", "ts": "2026-12-01 10:10:00"}]"#,
    )
    .await;
    // The waterline is 10:09 now: 10:05 is late, 10:09 on time.
    ingest_stepped(
        &s,
        "clicks",
        r#"[{"page": "docs", "ts": "2026-12-01 10:05:00"}, {"page": "docs", "ts": "2026-12-01 10:09:00"}]"#,
    )
    .await;
    let text = s
        .text("/v0/pipelines/p/query?sql=SELECT%20page%2C%20n%20FROM%20per_page%20ORDER%20BY%20page&format=json")
        .await;
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rows,
        vec![
            json!({"page": "docs", "n": 1}),
            json!({"page": "home", "n": 1})
        ],
        "the late docs click is not counted"
    );
    let text = s.text("/metrics").await;
    let late: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("sluice_table_late_records_total{") && l.contains("table=\"clicks\"")
        })
        .collect();
    assert_eq!(late.len(), 1, "{text}");
    assert!(late[0].ends_with(" 1"), "{}", late[0]);
    let (code, _) = s.post_empty("/v0/pipelines/p/stop?force=true").await;
    assert_eq!(code, 202);
}
