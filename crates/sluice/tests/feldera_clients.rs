//! End to end: Feldera's official clients, unmodified and pinned, drive a real `sluice serve`, and a connector
//! declared in SQL delivers exactly what the same connector made through `/v0/connectors` delivers.
//!
//! Needs the local Kafka broker (`scripts/test.sh` starts it; `SLUICE_KAFKA_BROKERS` names it) and the project's
//! Python environment with `feldera` 0.369.0 (`scripts/setup.sh`; `SLUICE_PYTHON` names its interpreter).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sluice_transports::kafka_tools::{create_topic, read_topic};

mod common;
use common::{free_port, sluice, Server};

fn brokers() -> String {
    std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".to_string())
}

fn python() -> String {
    std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// A topic no earlier run wrote to.
fn fresh_topic(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{nanos}")
}

/// `sluice serve` without authentication (Feldera's clients send no key over plain HTTP) on a free port.
fn serve(data_dir: &Path) -> Server {
    let port = free_port();
    let mut cmd = sluice();
    cmd.args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .env("SLUICE_LOG", "warn")
        .env_remove("SLUICE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(data_dir.join("server.log")).unwrap());
    Server::spawn(cmd, port)
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/feldera")
        .join(name)
}

/// The SDK's README flow (tests/feldera/sdk_flow.py): create from SQL with a `kafka_output` in `WITH`, start,
/// listen, `input_json`, query, stats, the Kafka topic read with a current Kafka client, stop, clear, delete.
#[test]
fn feldera_python_sdk_drives_sluice_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let topic = fresh_topic("sdk-flow");
    let out = Command::new(python())
        .arg(script("sdk_flow.py"))
        .args([&server.base, &brokers(), &topic])
        .env_remove("FELDERA_API_KEY")
        .output()
        .expect("run the SDK flow with SLUICE_PYTHON");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the SDK flow failed ({}):\n{stdout}\n{stderr}\nserver log:\n{log}",
        out.status
    );
    assert!(stdout.contains("sdk_flow: all steps ok"), "{stdout}");
    for step in [
        "create_or_replace",
        "wait_for_completion",
        "listen output",
        "query",
        "kafka output",
        "gone",
    ] {
        assert!(
            stdout.contains(&format!("{step}: ok")),
            "{step} did not run: {stdout}"
        );
    }
}

const PROGRAM: &str = "CREATE TABLE sales (book VARCHAR NOT NULL, copies INT NOT NULL);\n\
     CREATE VIEW totals {WITH} AS SELECT book, SUM(copies) AS copies, COUNT(*) AS n FROM sales GROUP BY book;";

/// The connector both pipelines use: JSON changes keyed by the book, to `topic`.
fn connector(topic: &str) -> Value {
    json!({
        "transport": {"name": "kafka_output", "config": {"bootstrap.servers": brokers(), "topic": topic}},
        "format": {"name": "json", "config": {"update_format": "insert_delete", "key_fields": ["book"]}},
    })
}

/// Polls until `path` answers with `field` equal to `want`.
fn wait_for(server: &Server, path: &str, pointer: &str, want: &Value) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, got) = server.call("GET", path, None);
        if got.pointer(pointer) == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path}{pointer} never became {want}: {got}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `kafka_output` declared in `WITH` sends the same messages (keys, values, order) as the same connector created
/// through `/v0/connectors` and attached to a 2024 pipeline running the same program on the same input.
#[test]
fn with_declared_kafka_output_sends_what_an_api_connector_sends() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let (api_topic, sql_topic) = (fresh_topic("via-api"), fresh_topic("via-sql"));
    for t in [&api_topic, &sql_topic] {
        create_topic(&brokers(), t, 1).unwrap();
    }
    // The 2024 way: a connector, a program, a pipeline attaching them.
    let (s, b) = server.call(
        "PUT",
        "/v0/connectors/out",
        Some(json!({"description": "", "config": connector(&api_topic)})),
    );
    assert_eq!(s, 201, "{b}");
    server.create_program("prog", &PROGRAM.replace("{WITH}", ""));
    let (s, b) = server.call(
        "PUT",
        "/v0/pipelines/via_api",
        Some(json!({"description": "", "program_name": "prog", "config": {"workers": 2},
            "connectors": [{"name": "out", "is_input": false, "connector_name": "out", "relation_name": "totals"}]})),
    );
    assert_eq!(s, 201, "{b}");
    // The current way: the connector in the program's SQL.
    let declared = json!([connector(&sql_topic)])
        .to_string()
        .replace('\'', "''");
    let code = PROGRAM.replace("{WITH}", &format!("WITH ('connectors' = '{declared}')"));
    let (s, b) = server.call(
        "PUT",
        "/v0/pipelines/via_sql",
        Some(json!({"program_code": code, "runtime_config": {"workers": 2}})),
    );
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["program_status"], "Success", "{b}");

    for name in ["via_api", "via_sql"] {
        let (s, b) = server.call("POST", &format!("/v0/pipelines/{name}/start"), None);
        assert_eq!(s, 202, "{b}");
    }
    server.reaches("via_api", "Running");
    wait_for(
        &server,
        "/v0/pipelines/via_sql?selector=status",
        "/deployment_status",
        &json!("Running"),
    );
    // The same steps into both: inserts, an update of a group, a delete that empties one.
    let steps = [
        "{\"insert\": {\"book\": \"Dune\", \"copies\": 2}}\n{\"insert\": {\"book\": \"Emma\", \"copies\": 1}}\n",
        "{\"insert\": {\"book\": \"Dune\", \"copies\": 5}}\n",
        "{\"delete\": {\"book\": \"Emma\", \"copies\": 1}}\n{\"insert\": {\"book\": \"Ulysses\", \"copies\": 3}}\n",
    ];
    for (i, step) in steps.iter().enumerate() {
        for name in ["via_api", "via_sql"] {
            let (s, b) = server.raw(
                "POST",
                &format!(
                    "/v0/pipelines/{name}/ingress/sales?format=json&update_format=insert_delete"
                ),
                Some(step),
            );
            assert_eq!(s, 200, "{b}");
            // One step per request, so that both pipelines step alike.
            let processed = json!([2, 3, 5][i]);
            let pointer = if name == "via_api" {
                "/global_metrics/total_processed_records"
            } else {
                "/global_metrics/total_completed_records"
            };
            wait_for(
                &server,
                &format!("/v0/pipelines/{name}/stats"),
                pointer,
                &processed,
            );
        }
    }
    let (s, _) = server.call("POST", "/v0/pipelines/via_api/shutdown", None);
    assert_eq!(s, 202);
    let (s, _) = server.call("POST", "/v0/pipelines/via_sql/stop?force=true", None);
    assert_eq!(s, 202);
    server.reaches("via_api", "Shutdown");
    wait_for(
        &server,
        "/v0/pipelines/via_sql?selector=status",
        "/deployment_status",
        &json!("Stopped"),
    );

    let read = |topic: &str| {
        read_topic(&brokers(), topic, 6, Duration::from_secs(30))
            .unwrap()
            .into_iter()
            .map(|m| (m.key.clone(), m.payload_text()))
            .collect::<Vec<_>>()
    };
    let (via_api, via_sql) = (read(&api_topic), read(&sql_topic));
    // Dune +, Emma +; Dune -, Dune +; Emma -, Ulysses +: six changes, one keyed message each.
    assert_eq!(via_api.len(), 6, "{via_api:?}");
    assert!(via_api.iter().all(|(key, _)| key.is_some()), "{via_api:?}");
    assert_eq!(via_sql, via_api);
}

/// Feldera's `fda` CLI (pinned, built by scripts/setup.sh; `SLUICE_FDA` names it).
fn fda(server: &Server, args: &[&str]) -> String {
    let fda = std::env::var("SLUICE_FDA").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/sluice/fda/bin/fda")
    });
    let out = Command::new(&fda)
        .args(["--host", &server.base])
        .args(args)
        .env_remove("FELDERA_API_KEY")
        .output()
        .unwrap_or_else(|e| panic!("run {fda} (scripts/setup.sh builds it): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "fda {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `fda`, unmodified: create a pipeline from a SQL file, start it, read its stats, query a view, stop, delete;
/// each command's output is checked.
#[test]
fn fda_cli_drives_sluice_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let sql = dir.path().join("program.sql");
    std::fs::write(
        &sql,
        "CREATE TABLE orders (id BIGINT NOT NULL, city VARCHAR NOT NULL);\n\
         CREATE MATERIALIZED VIEW per_city AS SELECT city, COUNT(*) AS n FROM orders GROUP BY city;\n",
    )
    .unwrap();
    let out = fda(&server, &["create", "fda_flow", sql.to_str().unwrap()]);
    assert!(out.contains("Pipeline created successfully."), "{out}");
    let out = fda(&server, &["start", "fda_flow"]);
    assert!(out.contains("Pipeline started successfully."), "{out}");

    let (s, b) = server.raw(
        "POST",
        "/v0/pipelines/fda_flow/ingress/orders?format=json&update_format=raw&array=true",
        Some(
            r#"[{"id": 1, "city": "Oslo"}, {"id": 2, "city": "Oslo"}, {"id": 3, "city": "Lima"}]"#,
        ),
    );
    assert_eq!(s, 200, "{b}");
    let token: Value = serde_json::from_str(&b).unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    wait_for(
        &server,
        &format!("/v0/pipelines/fda_flow/completion_status?token={token}"),
        "/status",
        &json!("complete"),
    );

    let out = fda(&server, &["stats", "fda_flow"]);
    assert!(out.contains("total_input_records"), "{out}");
    assert!(out.contains("orders.api-ingress"), "{out}");
    let out = fda(
        &server,
        &[
            "query",
            "fda_flow",
            "SELECT city, n FROM per_city ORDER BY city",
        ],
    );
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("Lima") || l.contains("Oslo"))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows[0].contains("Lima") && rows[0].contains(" 1 "), "{out}");
    assert!(rows[1].contains("Oslo") && rows[1].contains(" 2 "), "{out}");

    let out = fda(&server, &["stop", "fda_flow"]);
    assert!(out.contains("Pipeline stopped successfully."), "{out}");
    let out = fda(&server, &["delete", "fda_flow"]);
    assert!(out.contains("Pipeline deleted successfully."), "{out}");
    let (s, _) = server.call("GET", "/v0/pipelines/fda_flow", None);
    assert_eq!(s, 404);
}
