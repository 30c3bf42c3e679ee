//! Durable pipelines (`fault_tolerance.model = "at_least_once"`, the default), end to end: a real `sluice serve`
//! process killed with SIGKILL at random points while input streams in over HTTP ingress and from a Kafka topic,
//! restarted on the same data directory each time, against the real local broker (`scripts/test.sh` starts it;
//! `SLUICE_KAFKA_BROKERS` names it).
//!
//! The program joins two tables with primary keys and groups the result; input inserts, updates by key and deletes.
//! At the end the view rebuilt from the output topic must equal the view computed here from the input that was
//! acknowledged (HTTP 200, or written to the input topic). The rebuild applies each message with set semantics: an
//! insert of a row already there or a delete of a row not there is a change sent again after a crash, which
//! `at_least_once` allows; those are counted and printed. A lost or stale row fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::{sluice, Lcg, Server};

const PROGRAM: &str = "CREATE TABLE books (id BIGINT NOT NULL PRIMARY KEY, title VARCHAR NOT NULL, price BIGINT NOT NULL);
CREATE TABLE sales (id BIGINT NOT NULL PRIMARY KEY, book_id BIGINT NOT NULL, copies BIGINT NOT NULL);
CREATE VIEW totals AS
    SELECT b.title, SUM(s.copies) AS copies, SUM(s.copies * b.price) AS revenue
    FROM sales s JOIN books b ON s.book_id = b.id
    GROUP BY b.title;";

fn brokers() -> String {
    std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".to_string())
}

fn kafka(args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = sluice();
    cmd.arg("kafka").args(args).args(["--brokers", &brokers()]);
    let out = match stdin {
        None => cmd.output().unwrap(),
        Some(text) => {
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
            child.wait_with_output().unwrap()
        }
    };
    assert!(
        out.status.success(),
        "sluice kafka {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One change of an input table: the row for an insert (an upsert by key) or a delete.
#[derive(Clone)]
struct Change {
    table: &'static str,
    row: Value,
    insert: bool,
}

impl Change {
    fn json(&self) -> String {
        let op = if self.insert { "insert" } else { "delete" };
        json!({ op: self.row }).to_string()
    }
}

/// The tables' rows by key after `changes`, in order.
fn apply(state: &mut BTreeMap<(&'static str, i64), Value>, changes: &[Change]) {
    for c in changes {
        let key = (c.table, c.row["id"].as_i64().unwrap());
        if c.insert {
            state.insert(key, c.row.clone());
        } else {
            state.remove(&key);
        }
    }
}

/// The view over the tables' rows: title → (copies, revenue), titles with sales only.
fn oracle(state: &BTreeMap<(&'static str, i64), Value>) -> BTreeSet<(String, i64, i64)> {
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for ((table, _), sale) in state {
        if *table != "sales" {
            continue;
        }
        let Some(book) = state.get(&("books", sale["book_id"].as_i64().unwrap())) else {
            continue;
        };
        let copies = sale["copies"].as_i64().unwrap();
        let t = totals
            .entry(book["title"].as_str().unwrap().to_string())
            .or_default();
        t.0 += copies;
        t.1 += copies * book["price"].as_i64().unwrap();
    }
    totals
        .into_iter()
        .map(|(title, (c, r))| (title, c, r))
        .collect()
}

/// The view rebuilt from the output topic with set semantics; also the number of messages that were changes sent
/// again (an insert of a present row, a delete of an absent one).
fn rebuild(topic: &str) -> (BTreeSet<(String, i64, i64)>, usize, usize) {
    let text = kafka(&["consume", topic, "--timeout-secs", "30"], None);
    let mut view = BTreeSet::new();
    let (mut messages, mut again) = (0, 0);
    for line in text.lines().filter(|l| !l.is_empty()) {
        messages += 1;
        let m: Value = serde_json::from_str(line).unwrap();
        let (insert, row) = match (m.get("insert"), m.get("delete")) {
            (Some(r), None) => (true, r),
            (None, Some(r)) => (false, r),
            _ => panic!("not an insert or a delete: {line}"),
        };
        let number = |v: &Value| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .unwrap_or_else(|| panic!("not an integer: {v} in {line}"))
        };
        let row = (
            row["title"].as_str().unwrap().to_string(),
            number(&row["copies"]),
            number(&row["revenue"]),
        );
        let changed = if insert {
            view.insert(row)
        } else {
            view.remove(&row)
        };
        if !changed {
            again += 1;
        }
    }
    (view, messages, again)
}

/// The changes the test sends: books and sales over HTTP, more sales over Kafka (disjoint keys, so that the two
/// sources' order does not matter).
fn workload(seed: u64) -> (Vec<Change>, Vec<Change>) {
    let mut rng = Lcg(seed);
    let book = |id: i64, price: i64| Change {
        table: "books",
        row: json!({"id": id, "title": format!("title-{id}"), "price": price}),
        insert: true,
    };
    let mut http = Vec::new();
    let mut kafka = Vec::new();
    for id in 0..20 {
        http.push(book(id, 5 + id));
    }
    let mut live_http: Vec<Value> = Vec::new();
    let mut live_kafka: Vec<Value> = Vec::new();
    for i in 0..600i64 {
        let (out, live, base) = if i % 2 == 0 {
            (&mut http, &mut live_http, 100_000)
        } else {
            (&mut kafka, &mut live_kafka, 0)
        };
        match rng.next(10) {
            // A price change (an insert by key replacing the book).
            0 if base > 0 => out.push(book(rng.next(20) as i64, 1 + rng.next(40) as i64)),
            // A returned sale: a delete.
            1 | 2 if !live.is_empty() => {
                let row = live.swap_remove(rng.next(live.len() as u64) as usize);
                out.push(Change {
                    table: "sales",
                    row,
                    insert: false,
                });
            }
            // A corrected sale: an update by key.
            3 if !live.is_empty() => {
                let at = rng.next(live.len() as u64) as usize;
                live[at]["copies"] = json!(1 + rng.next(9));
                out.push(Change {
                    table: "sales",
                    row: live[at].clone(),
                    insert: true,
                });
            }
            _ => {
                let row = json!({"id": base + i, "book_id": rng.next(21) as i64, "copies": 1 + rng.next(9)});
                live.push(row.clone());
                out.push(Change {
                    table: "sales",
                    row,
                    insert: true,
                });
            }
        }
    }
    (http, kafka)
}

fn setup(s: &Server, input_topic: &str, output_topic: &str, model: &str) {
    s.create_program("fair", PROGRAM);
    let format = json!({"name": "json", "config": {"update_format": "insert_delete"}});
    let out = json!({"description": "", "config": {
        "transport": {"name": "kafka_output", "config": {"bootstrap.servers": brokers(), "topic": output_topic}},
        "format": format}});
    assert_eq!(s.call("PUT", "/v0/connectors/out", Some(out)).0, 201);
    let input = json!({"description": "", "config": {
        "transport": {"name": "kafka_input", "config": {"bootstrap.servers": brokers(), "topics": [input_topic],
            "auto.offset.reset": "earliest"}},
        "format": format}});
    assert_eq!(s.call("PUT", "/v0/connectors/in", Some(input)).0, 201);
    let pipeline = json!({"description": "", "program_name": "fair",
        "config": {"fault_tolerance": {"model": model, "checkpoint_interval_secs": 1}},
        "connectors": [
            {"name": "out", "is_input": false, "connector_name": "out", "relation_name": "totals"},
            {"name": "in", "is_input": true, "connector_name": "in", "relation_name": "sales"}]});
    let (status, body) = s.call("PUT", "/v0/pipelines/p", Some(pipeline));
    assert_eq!(status, 201, "{body}");
    assert_eq!(s.call("POST", "/v0/pipelines/p/start", None).0, 202);
    s.reaches("p", "Running");
}

/// Waits until the view rebuilt from `topic` equals `expected`; fails with both when it does not within a minute.
fn converges(topic: &str, expected: &BTreeSet<(String, i64, i64)>) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (view, messages, again) = rebuild(topic);
        if &view == expected {
            return (messages, again);
        }
        if Instant::now() > deadline {
            let lost: Vec<_> = expected.difference(&view).collect();
            let stale: Vec<_> = view.difference(expected).collect();
            panic!(
                "the output topic does not describe the view: {} rows lost {lost:?}, {} stale rows {stale:?}",
                lost.len(),
                stale.len()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Sends `changes` over HTTP ingress, one request every `pace`, each retried until it is acknowledged (through
/// server restarts); counts acknowledged requests in `acked`.
fn send_http(
    base: Arc<std::sync::Mutex<String>>,
    changes: Vec<Change>,
    acked: Arc<AtomicU64>,
    pace: Duration,
) {
    for batch in changes.chunks(5) {
        // Requests go per table, in order; a batch mixing tables is split at each change of table.
        let mut start = 0;
        while start < batch.len() {
            let table = batch[start].table;
            let end = batch[start..]
                .iter()
                .position(|c| c.table != table)
                .map_or(batch.len(), |n| start + n);
            let body: Vec<String> = batch[start..end].iter().map(Change::json).collect();
            let body = body.join("\n");
            loop {
                let url = format!(
                    "{}/v0/pipelines/p/ingress/{table}?format=json&update_format=insert_delete",
                    base.lock().unwrap()
                );
                let out = std::process::Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
                    .args(["--max-time", "10", "--data-binary", &body, &url])
                    .output()
                    .unwrap();
                if String::from_utf8_lossy(&out.stdout) == "200" {
                    acked.fetch_add(1, Relaxed);
                    std::thread::sleep(pace);
                    break;
                }
                // Refused, or the server is down or still restarting: the same request again. Re-applying an
                // upsert or a delete by key changes nothing, so a request that was in fact applied is harmless.
                std::thread::sleep(Duration::from_millis(50));
            }
            start = end;
        }
    }
}

fn topic_names(prefix: &str) -> (String, String) {
    let tag = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    (format!("{prefix}-in-{tag}"), format!("{prefix}-out-{tag}"))
}

fn start(data: &Path, log_dir: &Path, n: usize) -> Server {
    Server::start(data, &log_dir.join(format!("server-{n}.log")))
}

#[test]
fn a_server_killed_ten_times_while_input_streams_loses_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (input_topic, output_topic) = topic_names("durable-kill");
    kafka(&["create-topic", &input_topic], None);
    kafka(&["create-topic", &output_topic], None);
    let seed = 0x5EED_0000 ^ u64::from(std::process::id());
    println!("seed {seed:#x}");
    let (http, from_kafka) = workload(seed);

    let mut server = start(&data, dir.path(), 0);
    setup(&server, &input_topic, &output_topic, "at_least_once");
    let base = Arc::new(std::sync::Mutex::new(server.base.clone()));
    let acked = Arc::new(AtomicU64::new(0));
    // Both inputs are paced to stream for about 20 s, across the kills below.
    let sent_all = Arc::new(AtomicBool::new(false));
    let sender = {
        let (base, acked, http, done) =
            (base.clone(), acked.clone(), http.clone(), sent_all.clone());
        std::thread::spawn(move || {
            send_http(base, http, acked, Duration::from_millis(130));
            done.store(true, Relaxed);
        })
    };
    let produced_all = Arc::new(AtomicBool::new(false));
    let producer = {
        let (topic, changes, done) = (
            input_topic.clone(),
            from_kafka.clone(),
            produced_all.clone(),
        );
        std::thread::spawn(move || {
            for batch in changes.chunks(15) {
                let lines: Vec<String> = batch.iter().map(Change::json).collect();
                kafka(&["produce", &topic], Some(&lines.join("\n")));
                std::thread::sleep(Duration::from_millis(600));
            }
            done.store(true, Relaxed);
        })
    };

    // SIGKILL at random points (no shutdown, no flush, no checkpoint) for as long as input streams.
    let mut rng = Lcg(seed ^ 0xC0FFEE);
    let streaming = || !sent_all.load(Relaxed) || !produced_all.load(Relaxed);
    let mut kills = 0;
    while streaming() {
        std::thread::sleep(Duration::from_millis(200 + rng.next(1000)));
        if !streaming() {
            break;
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        kills += 1;
        drop(server);
        server = start(&data, dir.path(), kills);
        *base.lock().unwrap() = server.base.clone();
        // The pipeline was meant to run: the server starts it again by itself.
        server.reaches("p", "Running");
    }
    sender.join().unwrap();
    producer.join().unwrap();
    assert!(
        kills >= 10,
        "only {kills} kills while input streamed: the test did not test what it says"
    );

    let mut state = BTreeMap::new();
    apply(&mut state, &http);
    apply(&mut state, &from_kafka);
    let expected = oracle(&state);
    let (messages, again) = converges(&output_topic, &expected);
    println!(
        "{kills} kills; {} HTTP requests acknowledged, {} Kafka input messages; the output topic has {messages} \
         messages for a view of {} rows, {again} of them changes sent again after a crash (allowed by \
         at_least_once)",
        acked.load(Relaxed),
        from_kafka.len(),
        expected.len()
    );

    // A clean restart (SIGTERM, which takes a last checkpoint once everything is acknowledged) sends nothing again.
    server.stop();
    let server = start(&data, dir.path(), kills + 1);
    server.reaches("p", "Running");
    let (status, answer) = server.call("POST", "/v0/pipelines/p/checkpoint", None);
    assert_eq!(status, 200, "{answer}");
    let sequence = answer["checkpoint_sequence_number"].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, status) = server.call("GET", "/v0/pipelines/p/checkpoint_status", None);
        if status["success"].as_u64().is_some_and(|s| s >= sequence) {
            break;
        }
        assert!(status["failure"].is_null(), "{status}");
        assert!(Instant::now() < deadline, "no checkpoint: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (view, after, again_after) = rebuild(&output_topic);
    assert_eq!(view, expected);
    assert_eq!(
        (after, again_after),
        (messages, again),
        "a clean restart sent changes again"
    );
    let (_, stats) = server.call("GET", "/v0/pipelines/p/stats", None);
    assert_eq!(stats["fault_tolerance"]["replayed_steps"], 0, "{stats}");
    server.stop();
    kafka(&["delete-topic", &input_topic], None);
    kafka(&["delete-topic", &output_topic], None);
}

/// A journal that cannot be written (here: the file size limit of the server process, `ulimit -f`, with SIGXFSZ
/// ignored so that the write fails with EFBIG as on a full disk) makes ingress answer 503 `InputNotDurable`, and
/// nothing of the refused request is applied; requests that fit are still accepted.
#[test]
fn ingress_that_cannot_be_journaled_is_refused_and_nothing_of_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = common::free_port();
    // 3 MiB per file: the SQLite database and the log stay far below it; the journal reaches it.
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg("trap '' XFSZ; ulimit -f 3072; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(&data)
        .env("SLUICE_LOG", "info")
        .env_remove("SLUICE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("server.log")).unwrap());
    let s = Server::spawn(cmd, port);
    s.create_program(
        "prog",
        "CREATE TABLE t (id BIGINT NOT NULL, note VARCHAR NOT NULL); CREATE VIEW v AS SELECT id FROM t;",
    );
    let pipeline = json!({"description": "", "program_name": "prog",
        "config": {"fault_tolerance": {"model": "at_least_once", "checkpoint_interval_secs": 3600}}});
    assert_eq!(s.call("PUT", "/v0/pipelines/p", Some(pipeline)).0, 201);
    assert_eq!(s.call("POST", "/v0/pipelines/p/start", None).0, 202);
    s.reaches("p", "Running");

    // About 400 KiB per request: the eighth cannot fit under the limit.
    let note = "x".repeat(400);
    let request = |from: u64, n: u64| -> String {
        (from..from + n)
            .map(|id| json!({"insert": {"id": id, "note": note}}).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut accepted = 0u64;
    let refusal = loop {
        let (status, body) = s.raw(
            "POST",
            "/v0/pipelines/p/ingress/t?format=json",
            Some(&request(accepted, 1000)),
        );
        match status {
            200 => accepted += 1000,
            _ => break (status, body),
        }
        assert!(
            accepted < 20_000,
            "the journal never hit the file size limit"
        );
    };
    let (status, body) = refusal;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error_code"], "InputNotDurable", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("journal-"),
        "{body}"
    );
    let (_, stats) = s.call("GET", "/v0/pipelines/p/stats", None);
    assert_eq!(stats["inputs"][0]["total_records"], accepted, "{stats}");
    assert_eq!(stats["global_metrics"]["state"], "Running", "{stats}");
    // A request that fits is still accepted: the refused one left nothing behind in the journal.
    let (status, body) = s.raw(
        "POST",
        "/v0/pipelines/p/ingress/t?format=json",
        Some(&request(accepted, 1)),
    );
    assert_eq!(status, 200, "{body}");
}
