//! Security, end to end against a real `sluice serve` process and the local Kafka broker (`scripts/test.sh`
//! starts it; `SLUICE_KAFKA_BROKERS` names it):
//! - a password written into a connector, and one read through a `${secret:NAME}` reference, appear in no answer of
//!   any endpoint, nowhere in the data directory's files (the SQLite database and its journal), and nowhere in the
//!   server's log, even with librdkafka's debug log of every setting on;
//! - a reference resolves when the pipeline starts (a pipeline whose broker list is a secret delivers to the real
//!   broker), and a missing secret fails the start, naming it;
//! - options that run commands or load libraries are refused when the connector is created, and the command does
//!   not run.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::{sluice, Server};

const PASSWORD: &str = "Wr1tten-Out-Pa55word";
const REFERENCED: &str = "Fr0m-A-Secret-F1le";

fn brokers() -> String {
    std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".to_string())
}

impl Server {
    /// Creates connector `connector` from `body`, a pipeline `name` sending view `v` to it, and starts it.
    fn start_pipeline(&self, name: &str, connector: &str, body: Value) {
        let (status, answer) = self.call("PUT", &format!("/v0/connectors/{connector}"), Some(body));
        assert_eq!(status, 201, "{answer}");
        let (status, answer) = self.call(
            "PUT",
            &format!("/v0/pipelines/{name}"),
            Some(pipeline(connector)),
        );
        assert_eq!(status, 201, "{answer}");
        assert_eq!(
            self.call("POST", &format!("/v0/pipelines/{name}/start"), None)
                .0,
            202
        );
    }
}

fn connector(options: Value) -> Value {
    json!({
        "description": "secrets",
        "config": {
            "transport": {"name": "kafka_output", "config": options},
            "format": {"name": "json", "config": {"update_format": "insert_delete"}}
        }
    })
}

fn sasl_options(password: &str, topic: &str) -> Value {
    json!({
        "bootstrap.servers": brokers(),
        "topic": topic,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "alice",
        "sasl.password": password,
        "debug": "all",
        "initialization_timeout_secs": 3
    })
}

fn pipeline(connector: &str) -> Value {
    json!({
        "description": "", "program_name": "prog", "config": {"workers": 1},
        "connectors": [{"name": "out", "connector_name": connector, "is_input": false, "relation_name": "v"}]
    })
}

fn topic(name: &str) -> String {
    let topic = format!("security-{name}-{}", std::process::id());
    let status = sluice()
        .args(["kafka", "create-topic", &topic, "--brokers", &brokers()])
        .status()
        .unwrap();
    assert!(status.success(), "create topic {topic}");
    topic
}

/// Every file under `dir`, read as bytes.
fn files_under(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn secrets_never_leave_the_server_and_references_resolve_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    std::fs::create_dir_all(data.join("secrets")).unwrap();
    std::fs::write(data.join("secrets/kafka-pass"), format!("{REFERENCED}\n")).unwrap();
    std::fs::write(data.join("secrets/brokers"), brokers()).unwrap();
    let s = Server::start(&data, &log);

    let program = json!({"description": "", "code": "CREATE TABLE t (x INT NOT NULL); CREATE VIEW v AS SELECT x FROM t;"});
    assert_eq!(s.call("PUT", "/v0/programs/prog", Some(program)).0, 201);

    // A written-out password, created, then patched with the mask (kept) and a new description.
    let sasl_topic = topic("sasl");
    let (status, body) = s.call(
        "PUT",
        "/v0/connectors/written",
        Some(connector(sasl_options(PASSWORD, &sasl_topic))),
    );
    assert_eq!(status, 201, "{body}");
    let (_, shown) = s.call("GET", "/v0/connectors/written", None);
    assert_eq!(
        shown["config"]["transport"]["config"]["sasl.password"], "********",
        "{shown}"
    );
    assert_eq!(
        shown["config"]["transport"]["config"]["sasl.username"], "alice",
        "{shown}"
    );
    let mut patched = shown["config"].clone();
    patched["transport"]["config"]["initialization_timeout_secs"] = json!(2);
    let (status, body) = s.call(
        "PATCH",
        "/v0/connectors/written",
        Some(json!({"description": "patched", "config": patched})),
    );
    assert_eq!(status, 200, "{body}");
    // A mask for a connector that has no stored value is refused, naming the option.
    let (status, body) = s.call(
        "PUT",
        "/v0/connectors/fresh",
        Some(connector(sasl_options("********", &sasl_topic))),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["details"]["field"], "config.transport.config.sasl.password",
        "{body}"
    );

    // A password by reference. The same secret as `client.id`, which is not a secret option, so that librdkafka's
    // configuration dump in its debug log prints it: the log writer must scrub it.
    let mut referenced = sasl_options("${secret:kafka-pass}", &sasl_topic);
    referenced["client.id"] = json!("${secret:kafka-pass}");
    let (status, body) = s.call(
        "PUT",
        "/v0/connectors/referenced",
        Some(connector(referenced)),
    );
    assert_eq!(status, 201, "{body}");
    let (_, shown) = s.call("GET", "/v0/connectors/referenced", None);
    assert_eq!(
        shown["config"]["transport"]["config"]["sasl.password"],
        "${secret:kafka-pass}"
    );

    // Both pipelines reach the broker with SASL, which the local broker does not speak: they fail, and their
    // errors (and librdkafka's debug log, which lists every setting) are the places a password could leak.
    for (p, c) in [("p-written", "written"), ("p-referenced", "referenced")] {
        assert_eq!(
            s.call("PUT", &format!("/v0/pipelines/{p}"), Some(pipeline(c)))
                .0,
            201
        );
        assert_eq!(
            s.call("POST", &format!("/v0/pipelines/{p}/start"), None).0,
            202
        );
        let failed = s.reaches(p, "Failed");
        assert!(failed["state"]["error"]["message"].is_string(), "{failed}");
    }

    // A missing secret fails the start, naming the secret and the connector.
    let mut missing = sasl_options("${secret:not-provisioned}", &sasl_topic);
    missing["security.protocol"] = json!("PLAINTEXT");
    s.start_pipeline("p-missing", "missing", connector(missing));
    let failed = s.reaches("p-missing", "Failed");
    let message = failed["state"]["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("${secret:not-provisioned}") && message.contains("'missing'"),
        "{message}"
    );

    // A broker list kept as a secret: resolved at start, the pipeline delivers to the real broker.
    let delivered_topic = topic("delivered");
    let options = json!({"bootstrap.servers": "${secret:brokers}", "topic": delivered_topic});
    s.start_pipeline("p-ref", "by-ref", connector(options));
    s.reaches("p-ref", "Running");
    let (status, body) = s.raw(
        "POST",
        "/v0/pipelines/p-ref/ingress/t?format=json",
        Some(r#"{"insert": {"x": 7}}"#),
    );
    assert_eq!(status, 200, "{body}");

    // Every endpoint that shows connectors, pipelines or their state.
    let mut answers = Vec::new();
    for path in [
        "/v0/connectors",
        "/v0/connectors/written",
        "/v0/connectors/referenced",
        "/v0/connectors?name=written",
        "/v0/pipelines",
        "/v0/pipelines/p-written",
        "/v0/pipelines/p-referenced",
        "/v0/pipelines/p-ref",
        "/v0/pipelines/p-ref/stats",
        "/v0/pipelines/p-written/validate",
        "/metrics",
        "/api-doc/openapi.json",
    ] {
        let (status, body) = s.raw("GET", path, None);
        assert!(status < 500, "{path}: {status} {body}");
        answers.push((path, body));
    }
    // An error that quotes the body it refuses.
    let (status, body) = s.raw("PUT", "/v0/connectors/bad", Some(&format!(r#"{{"description": "", "config": {{"transport": {{"name": "kafka_output", "config": {{"sasl.password": "{PASSWORD}"}}}}, "format": 3}}}}"#)));
    assert_eq!(status, 400, "{body}");
    answers.push(("PUT /v0/connectors/bad", body));
    for (path, body) in &answers {
        for secret in [PASSWORD, REFERENCED] {
            assert!(!body.contains(secret), "{path} shows a secret: {body}");
        }
    }

    assert_eq!(s.call("POST", "/v0/pipelines/p-ref/shutdown", None).0, 202);
    s.reaches("p-ref", "Shutdown");
    let out = sluice()
        .args([
            "kafka",
            "consume",
            &delivered_topic,
            "--min",
            "1",
            "--timeout-secs",
            "20",
            "--brokers",
            &brokers(),
        ])
        .output()
        .unwrap();
    let consumed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(consumed.trim(), r#"{"insert":{"x":7}}"#, "{out:?}");
    s.stop();

    let mut files = Vec::new();
    files_under(&data, &mut files);
    assert!(
        files.iter().any(|(p, _)| p.ends_with("sluice.db")),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (path, bytes) in files.iter().filter(|(p, _)| !p.contains("/secrets/")) {
        for secret in [PASSWORD, REFERENCED] {
            assert!(!contains(bytes, secret), "{path} holds a secret");
        }
    }
    let log_text = std::fs::read(&log).unwrap();
    assert!(
        contains(&log_text, "sasl.username") || contains(&log_text, "SASL"),
        "the debug log says nothing of SASL: is it on?"
    );
    for secret in [PASSWORD, REFERENCED] {
        assert!(
            !contains(&log_text, secret),
            "the server log holds a secret"
        );
    }
}

#[test]
fn options_that_run_code_are_refused_and_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let s = Server::start(&dir.path().join("data"), &log);
    let marker = dir.path().join("ran");
    let kerberos = |extra: Value| {
        let mut options = json!({
            "bootstrap.servers": brokers(), "topic": "t",
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "GSSAPI",
        });
        options
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        connector(options)
    };
    let cases = [
        (
            "sasl.kerberos.kinit.cmd",
            kerberos(json!({"sasl.kerberos.kinit.cmd": format!("touch {}", marker.display())})),
        ),
        (
            "sasl.kerberos.principal",
            kerberos(json!({"sasl.kerberos.principal": format!("x; touch {}", marker.display())})),
        ),
        (
            "sasl.kerberos.keytab",
            kerberos(
                json!({"sasl.kerberos.keytab": format!("/etc/ssl/certs/\"; touch {}; \"", marker.display())}),
            ),
        ),
        (
            "plugin.library.paths",
            connector(
                json!({"bootstrap.servers": brokers(), "topic": "t", "plugin.library.paths": "/tmp/evil.so"}),
            ),
        ),
        (
            "ssl.engine.location",
            connector(
                json!({"bootstrap.servers": brokers(), "topic": "t", "ssl.engine.location": "/tmp/evil.so"}),
            ),
        ),
        (
            "ssl.providers",
            connector(
                json!({"bootstrap.servers": brokers(), "topic": "t", "ssl.providers": "/tmp/evil"}),
            ),
        ),
        (
            "ssl.ca.location",
            connector(
                json!({"bootstrap.servers": brokers(), "topic": "t", "ssl.ca.location": "/etc/shadow"}),
            ),
        ),
    ];
    for (option, body) in cases {
        let (status, answer) = s.call("PUT", "/v0/connectors/danger", Some(body));
        assert_eq!(status, 400, "{option}: {answer}");
        assert_eq!(answer["error_code"], "InvalidConnectorConfig", "{answer}");
        assert_eq!(
            answer["details"]["field"],
            format!("config.transport.config.{option}"),
            "{answer}"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(!marker.exists(), "a command ran");
    assert_eq!(
        s.call("GET", "/v0/connectors/danger", None).0,
        404,
        "nothing was stored"
    );
    s.stop();
}

/// An Apache Kafka broker of its own (`scripts/kafka-broker.sh --sasl-scram`) whose client port requires
/// SASL/SCRAM-SHA-256 from every client, with `alice` as its one account and topic `authed` (created through the
/// script's administration port, P + 2). Killed (SIGKILL) when dropped; its data dir is the caller's temporary dir.
struct AuthBroker {
    port: u16,
    dir: std::path::PathBuf,
    address: String,
}

impl AuthBroker {
    fn script(&self, args: &[&str]) -> std::process::ExitStatus {
        Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/kafka-broker.sh"))
            .args(args)
            .args(["--port", &self.port.to_string(), "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .status()
            .expect("run scripts/kafka-broker.sh")
    }

    fn start(dir: &Path, password: &str) -> AuthBroker {
        // Below the ephemeral range, with the controller's port (P + 1) and the administration port (P + 2) free
        // too; tried from a point that differs between runs and processes.
        let seed = u64::from(std::process::id())
            ^ u64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos(),
            );
        let port = (0..1000u64)
            .map(|i| 20_000 + ((seed + i * 7_919) % 12_000) as u16)
            .find(|p| (*p..*p + 3).all(|q| std::net::TcpListener::bind(("127.0.0.1", q)).is_ok()))
            .expect("three free consecutive ports");
        let broker = AuthBroker {
            port,
            dir: dir.join("broker"),
            address: format!("127.0.0.1:{port}"),
        };
        let scram = format!("alice:{password}");
        let status = broker.script(&["start", "--sasl-scram", &scram]);
        assert!(
            status.success(),
            "scripts/kafka-broker.sh start --sasl-scram failed"
        );
        let admin = format!("127.0.0.1:{}", port + 2);
        let created = sluice()
            .args(["kafka", "create-topic", "authed", "--brokers", &admin])
            .status()
            .unwrap();
        assert!(created.success(), "creating topic 'authed' failed");
        broker
    }
}

impl Drop for AuthBroker {
    fn drop(&mut self) {
        let _ = self.script(&["kill"]);
    }
}

#[test]
fn a_password_by_reference_authenticates_to_a_broker_that_requires_sasl() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("secrets")).unwrap();
    std::fs::write(data.join("secrets/kafka-pass"), format!("{REFERENCED}\n")).unwrap();
    std::fs::write(data.join("secrets/wrong-pass"), "not-the-password").unwrap();
    let broker = AuthBroker::start(dir.path(), REFERENCED);
    let s = Server::start(&data, &dir.path().join("server.log"));
    let program = json!({"description": "", "code": "CREATE TABLE t (x INT NOT NULL); CREATE VIEW v AS SELECT x FROM t;"});
    assert_eq!(s.call("PUT", "/v0/programs/prog", Some(program)).0, 201);
    let scram = |secret: &str| {
        connector(json!({
            "bootstrap.servers": broker.address, "topic": "authed",
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
            "sasl.username": "alice", "sasl.password": format!("${{secret:{secret}}}"),
            "initialization_timeout_secs": 10
        }))
    };
    // The wrong password is refused by the broker: it really requires authentication.
    s.start_pipeline("p-wrong", "wrong", scram("wrong-pass"));
    s.reaches("p-wrong", "Failed");

    s.start_pipeline("p-right", "right", scram("kafka-pass"));
    s.reaches("p-right", "Running");
    let (status, body) = s.raw(
        "POST",
        "/v0/pipelines/p-right/ingress/t?format=json",
        Some(r#"{"insert": {"x": 1}}"#),
    );
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, stats) = s.call("GET", "/v0/pipelines/p-right/stats", None);
        if stats["outputs"][0]["transport"]["transmitted_messages"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "not acknowledged: {stats}");
        std::thread::sleep(Duration::from_millis(100));
    }
    s.stop();
}
