//! End to end: the seed document's `curl` command and Python example, verbatim, against a real `sluice serve`.
//!
//! Only the address (`http://localhost:8080` → the test server's ephemeral port) and the `<API-KEY>` placeholder
//! are substituted. Needs `curl` and Python's `requests` (installed by scripts/setup.sh).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;
use common::{create_api_key, free_port, sluice, Server};

const SEED_CURL: &str = include_str!("seed/put_connector.sh");
const SEED_PYTHON: &str = include_str!("seed/put_connector.py");

fn serve(data_dir: &Path, extra: &[&str]) -> Server {
    let port = free_port();
    let mut cmd = sluice();
    cmd.args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("SLUICE_LOG", "warn")
        .env_remove("SLUICE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Server::spawn(cmd, port)
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl").args(args).output().expect("run curl")
}

/// The seed text with only the address and, when given, the key substituted.
fn adapt(seed: &str, base: &str, key: Option<&str>) -> String {
    assert!(seed.contains("http://localhost:8080"));
    let text = seed.replace("http://localhost:8080", base);
    match key {
        Some(key) => text.replace("<API-KEY>", key),
        None => text,
    }
}

/// Runs the seed's curl command; returns the HTTP status line.
fn run_seed_curl(base: &str, key: Option<&str>) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(adapt(SEED_CURL, base, key))
        .output()
        .expect("run bash");
    assert!(out.status.success(), "curl failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().next().unwrap_or_default().trim().to_string()
}

/// Runs the seed's Python example, observing the status of its `requests.put`; returns (exit ok, statuses).
fn run_seed_python(dir: &Path, base: &str, key: Option<&str>) -> (bool, String, String) {
    let script: PathBuf = dir.join("seed_example.py");
    std::fs::File::create(&script)
        .unwrap()
        .write_all(adapt(SEED_PYTHON, base, key).as_bytes())
        .unwrap();
    // Wraps requests.put to print each status, then runs the example unchanged.
    let observe = "import requests, sys\n\
                   _put = requests.put\n\
                   def put(*a, **k):\n    r = _put(*a, **k)\n    print(r.status_code, flush=True)\n    return r\n\
                   requests.put = put\n\
                   exec(compile(open(sys.argv[1]).read(), sys.argv[1], 'exec'), {'__name__': '__main__'})\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(observe)
        .arg(&script)
        .output()
        .expect("run python3");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap().trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn get_json(base: &str, path: &str, key: Option<&str>) -> Value {
    let url = format!("{base}{path}");
    let auth = key.map(|k| format!("Authorization: Bearer {k}"));
    let mut args = vec!["-s", url.as_str()];
    if let Some(auth) = &auth {
        args.extend(["-H", auth.as_str()]);
    }
    serde_json::from_slice(&curl(&args).stdout).unwrap()
}

fn assert_seed_config(connector: &Value) {
    assert_eq!(connector["name"], "total-sales");
    assert_eq!(
        connector["description"],
        "Kafka output connector for total sales from the book fair"
    );
    let t = &connector["config"]["transport"];
    assert_eq!(t["name"], "kafka_output");
    assert_eq!(t["config"]["bootstrap.servers"], "example.com:9092");
    assert_eq!(t["config"]["auto.offset.reset"], "earliest");
    assert_eq!(t["config"]["topic"], "total-sales");
    let f = &connector["config"]["format"];
    assert_eq!(f["name"], "json");
    assert_eq!(f["config"]["update_format"], "insert_delete");
    assert_eq!(f["config"]["array"], false);
}

#[test]
fn seed_examples_work_verbatim_without_auth() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir.path().join("data"), &[]);
    // The header `Bearer <API-KEY>` is sent as written and ignored, since auth is off.
    assert_eq!(run_seed_curl(&server.base, None), "HTTP/1.1 201 Created");
    assert_eq!(run_seed_curl(&server.base, None), "HTTP/1.1 200 OK");
    assert_seed_config(&get_json(&server.base, "/v0/connectors/total-sales", None));

    let deleted = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "DELETE",
        &format!("{}/v0/connectors/total-sales", server.base),
    ]);
    assert_eq!(deleted.stdout, b"200");
    let (ok, status, stderr) = run_seed_python(dir.path(), &server.base, None);
    assert!(ok, "{stderr}");
    assert_eq!(status, "201");
    let (ok, status, stderr) = run_seed_python(dir.path(), &server.base, None);
    assert!(ok, "{stderr}");
    assert_eq!(status, "200");
    assert_seed_config(&get_json(&server.base, "/v0/connectors/total-sales", None));
}

#[test]
fn seed_examples_work_with_an_api_key_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The first key is created without a server.
    let key = create_api_key(&data, "seed");
    assert!(key.starts_with("apikey:"), "{key}");

    let server = serve(&data, &["--auth", "api-key"]);
    // The placeholder as written is not a key.
    assert_eq!(
        run_seed_curl(&server.base, None),
        "HTTP/1.1 401 Unauthorized"
    );
    assert_eq!(
        run_seed_curl(&server.base, Some(&key)),
        "HTTP/1.1 201 Created"
    );
    assert_eq!(run_seed_curl(&server.base, Some(&key)), "HTTP/1.1 200 OK");
    let (ok, status, stderr) = run_seed_python(dir.path(), &server.base, Some(&key));
    assert!(ok, "{stderr}");
    assert_eq!(status, "200");
    let (ok, status, _) = run_seed_python(dir.path(), &server.base, None);
    assert!(!ok, "raise_for_status must fail without a key");
    assert_eq!(status, "401");
    assert_seed_config(&get_json(
        &server.base,
        "/v0/connectors/total-sales",
        Some(&key),
    ));
    let e = get_json(&server.base, "/v0/connectors", None);
    assert_eq!(e["error_code"], "MissingCredentials");
}

/// A fresh database on the test PostgreSQL server (`SLUICE_TEST_DATABASE_URL`, set by scripts/test.sh).
fn fresh_postgres_database() -> String {
    let admin = std::env::var("SLUICE_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "SLUICE_TEST_DATABASE_URL is not set, so the PostgreSQL end-to-end test cannot run. Run scripts/test.sh, \
             or `export SLUICE_TEST_DATABASE_URL=$(scripts/postgres.sh start)` first."
        )
    });
    let name = format!("e2e_{}_{}", std::process::id(), free_port());
    let out = Command::new("psql")
        .args([
            admin.as_str(),
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "{out:?}");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap();
    format!("{base}/{name}")
}

#[test]
fn seed_curl_works_on_postgresql_and_survives_a_restart() {
    let url = fresh_postgres_database();
    let dir = tempfile::tempdir().unwrap();
    let unused = dir.path().join("unused");
    {
        let server = serve(&unused, &["--database-url", &url]);
        assert_eq!(run_seed_curl(&server.base, None), "HTTP/1.1 201 Created");
        assert_eq!(run_seed_curl(&server.base, None), "HTTP/1.1 200 OK");
    }
    let server = serve(&unused, &["--database-url", &url]);
    assert_seed_config(&get_json(&server.base, "/v0/connectors/total-sales", None));
    assert_eq!(run_seed_curl(&server.base, None), "HTTP/1.1 200 OK");
    assert!(
        !unused.join("sluice.db").exists(),
        "--database-url must not touch the data dir"
    );
}

#[test]
fn serve_help_documents_every_flag_and_public_bind_needs_auth() {
    let help = sluice().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for flag in [
        "--bind",
        "--port",
        "--data-dir",
        "--database-url",
        "--auth",
        "--allow-unauthenticated-public-bind",
        "--max-body-bytes",
        "--secret-key-file",
        "--secrets-dir",
        "--env-secret-prefix",
        "--kafka-file-dir",
        "--allow-kafka-code-execution",
        "--allowed-host",
        "--cors-origin",
        "--metrics-need-key",
        "--file-output-dir",
        "SLUICE_PORT",
        "[default: 8080]",
        "[default: 127.0.0.1]",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = sluice()
        .args([
            "serve",
            "--bind",
            "0.0.0.0",
            "--port",
            &free_port().to_string(),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--allow-unauthenticated-public-bind"),
        "{stderr}"
    );
}
