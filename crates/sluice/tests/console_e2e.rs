//! The web console in a real browser: headless Chromium (Debian's `chromium`), driven by Playwright from
//! `tests/console/console_flow.py`, against a real `sluice serve --auth api-key` and a private Apache Kafka broker
//! that this test crashes and restarts while the browser watches.
//!
//! The script does what a user does: enters the API key, writes a program (first with an error, which must be
//! marked at its line), makes a connector (first with a config error, which must be marked at the field it names),
//! creates a pipeline, starts it, pushes input, sees nonzero throughput in the plots and the view's changes in the
//! change table, sees the connector marked stalled while the broker is down and running again once it is back, and
//! stops the pipeline; every assertion is on the DOM. Each page is saved as a screenshot under the target dir
//! (`target/tmp/console-screenshots`). No console error or uncaught exception is allowed besides the HTTP errors
//! the flow provokes on purpose. Here, the topic is then read back: every change the view made, during the outage
//! included, reached Kafka (folded, the topic equals the totals computed from the input).
//!
//! Needs `scripts/setup.sh` (Chromium, the project's Python environment with Playwright; `SLUICE_PYTHON` names
//! its interpreter, `SLUICE_CHROMIUM` the browser) and Apache Kafka (`scripts/kafka-install.sh`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use sluice_transports::kafka_tools::{create_topic, read_topic};
use sluice_transports::testing::PrivateBroker;

mod common;
use common::{create_api_key, free_port, sluice, Server};

fn python() -> String {
    std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Where the screenshots go: under the target dir, never committed.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `count` records for the `orders` table: `{"insert": {id, customer, amount}}` lines, ids from `first`.
fn orders(first: u64, count: u64, customer: impl Fn(u64) -> String) -> Vec<Value> {
    (first..first + count)
        .map(|id| json!({"insert": {"id": id, "customer": customer(id), "amount": id % 97}}))
        .collect()
}

/// The `totals` view computed from the input: customer → (n, total).
fn totals(records: &[Value]) -> BTreeMap<String, (i64, i64)> {
    let mut out: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in records {
        let r = &r["insert"];
        let e = out
            .entry(r["customer"].as_str().unwrap().to_string())
            .or_default();
        e.0 += 1;
        e.1 += r["amount"].as_i64().unwrap();
    }
    out
}

/// The topic applied as a set of rows: each message holds `{"insert"|"delete": row}` lines.
fn fold(payloads: &[Vec<u8>]) -> BTreeMap<String, (i64, i64)> {
    let mut rows: BTreeMap<String, i64> = BTreeMap::new();
    for payload in payloads {
        for line in String::from_utf8_lossy(payload).lines() {
            let change: Value = serde_json::from_str(line).unwrap();
            let (row, weight) = match (change.get("insert"), change.get("delete")) {
                (Some(row), None) => (row, 1),
                (None, Some(row)) => (row, -1),
                _ => panic!("not an insert_delete change: {line}"),
            };
            *rows.entry(row.to_string()).or_default() += weight;
        }
    }
    rows.into_iter()
        .filter(|(_, w)| *w != 0)
        .map(|(row, w)| {
            assert_eq!(w, 1, "a row left with weight {w}: {row}");
            let row: Value = serde_json::from_str(&row).unwrap();
            (
                row["customer"].as_str().unwrap().to_string(),
                (row["n"].as_i64().unwrap(), row["total"].as_i64().unwrap()),
            )
        })
        .collect()
}

fn write_batch(dir: &Path, name: &str, records: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let text: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
    path
}

#[test]
fn the_console_drives_a_pipeline_and_shows_it_live_in_a_real_browser() {
    let broker = PrivateBroker::start();
    let topic = "console-totals";
    create_topic(&broker.address(), topic, 1).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_api_key(&data, "console");

    let port = free_port();
    let mut cmd = sluice();
    cmd.args(["serve", "--auth", "api-key", "--port", &port.to_string()])
        .arg("--data-dir")
        .arg(&data)
        .env("SLUICE_LOG", "info")
        .env_remove("SLUICE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("server.log")).unwrap());
    let server = Server::spawn(cmd, port);

    // The input, in four parts: before the change table watches, while it watches, while the broker is down, and
    // after it is back (in five requests a second apart, so that the plots show a stream).
    let first = orders(0, 200, |id| format!("c{}", id % 10));
    let watched = orders(200, 3, |_| "zed".to_string());
    let during_outage = orders(203, 100, |id| format!("c{}", id % 7));
    let after = orders(303, 500, |id| format!("c{}", id % 12));
    let batches = [
        write_batch(dir.path(), "first.ndjson", &first),
        write_batch(dir.path(), "watched.ndjson", &watched),
        write_batch(dir.path(), "outage.ndjson", &during_outage),
        write_batch(dir.path(), "after.ndjson", &after),
    ];
    let settings = json!({
        "base": server.base,
        "key": key,
        "brokers": broker.address(),
        "topic": topic,
        "batches": batches,
        "screenshots": screenshot_dir(),
        "chromium": std::env::var("SLUICE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    });

    let mut script = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console/console_flow.py"))
        .arg(settings.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the console flow with the project's Python (scripts/setup.sh)");
    let mut to_script = script.stdin.take().unwrap();
    // The script says what it does; `@broker down|up` asks this test to crash or restart the broker.
    for line in BufReader::new(script.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        eprintln!("console_flow: {line}");
        match line.as_str() {
            "@broker down" => broker.down(),
            "@broker up" => broker.up(),
            _ => continue,
        }
        writeln!(to_script, "ok").unwrap();
    }
    let status = script.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    assert!(
        status.success(),
        "the console flow failed ({status}); server log:\n{log}"
    );

    // Every change of the view reached Kafka, the outage's included.
    let all: Vec<Value> = [first, watched, during_outage, after].concat();
    let want = totals(&all);
    let mut got = BTreeMap::new();
    for _ in 0..30 {
        let messages = read_topic(&broker.address(), topic, 1, Duration::from_secs(10)).unwrap();
        let payloads: Vec<Vec<u8>> = messages.into_iter().filter_map(|m| m.payload).collect();
        got = fold(&payloads);
        if got == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        got, want,
        "the topic, folded, is not the view computed from the input"
    );
    drop(server);
}
