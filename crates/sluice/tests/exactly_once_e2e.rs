//! Exactly-once Kafka output (`fault_tolerance.model = "exactly_once"`), end to end: the strict check of
//! `docs/fault-tolerance.md`. The same input, read from a Kafka topic, goes through the same pipeline twice: once
//! undisturbed, once with the `sluice serve` process killed with SIGKILL at 21 random points while input streams
//! (restarted on the same data directory each time), and the broker itself killed with SIGKILL and restarted once
//! in between. Each run has a broker of its own test's (`PrivateBroker`: Apache Kafka; tansu when `SLUICE_BROKER`
//! says so, where only markers mode runs).
//!
//! What must hold, as seen by the consumer each mode needs (`read_committed`, librdkafka's default, for
//! transactions; any consumer for markers):
//! - `changes` (one keyed message per input record): per partition, the same messages (key, value, user headers)
//!   as the undisturbed run, the same sequence per key, and nothing twice. The order *between* keys of one
//!   partition follows the pipeline's steps, which depend on timing in any run, disturbed or not.
//! - `counts` (an aggregate, whose intermediate changes depend on how input falls into steps): applied as a Z-set,
//!   every row ends with weight 0 or 1 (a change delivered twice or lost leaves a row at -1, 2 or a stale value),
//!   and the result equals the undisturbed run's and the one computed here from the input.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sluice_transports::kafka_tools::{self, read_topic, ConsumedMessage};
use sluice_transports::testing::PrivateBroker;

mod common;
use common::{Lcg, Server};

const PROGRAM: &str = "CREATE TABLE events (id BIGINT NOT NULL, k BIGINT NOT NULL, seq BIGINT NOT NULL, v VARCHAR NOT NULL);
CREATE VIEW changes AS SELECT k, seq, v FROM events;
CREATE VIEW counts AS SELECT k, COUNT(*) AS n, MAX(seq) AS last_seq FROM events GROUP BY k;";

const RECORDS: usize = 2_000;
const CHUNK: usize = 40;
const KEYS: u64 = 37;
const KILLS: usize = 21;
/// On tansu (slower to restart and to read back) the markers check runs with fewer kills, to keep the suite short.
const KILLS_ON_TANSU: usize = 8;

/// The tests share the machine's two cores with private brokers and servers: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The input: `{"insert": {id, k, seq, v}}` lines; `seq` counts each key's records.
fn workload(seed: u64) -> Vec<String> {
    let mut rng = Lcg(seed);
    let mut seqs = BTreeMap::new();
    (0..RECORDS as u64)
        .map(|id| {
            let k = rng.next(KEYS);
            let seq = seqs.entry(k).and_modify(|s| *s += 1).or_insert(0u64);
            json!({"insert": {"id": id, "k": k, "seq": *seq, "v": format!("v{}", rng.next(1_000_000))}})
                .to_string()
        })
        .collect()
}

/// `counts` computed from the input: (k, n, last_seq).
fn counts_oracle(records: &[String]) -> BTreeMap<String, i64> {
    let mut by_key: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for line in records {
        let r: Value = serde_json::from_str(line).unwrap();
        let r = &r["insert"];
        let e = by_key.entry(r["k"].as_i64().unwrap()).or_default();
        e.0 += 1;
        e.1 = e.1.max(r["seq"].as_i64().unwrap());
    }
    by_key
        .into_iter()
        .map(|(k, (n, last))| (json!({"k": k, "n": n, "last_seq": last}).to_string(), 1))
        .collect()
}

/// Where a run writes: its own topics.
struct Topics {
    input: String,
    changes: String,
    counts: String,
}

impl Topics {
    fn create(brokers: &str, run: &str) -> Topics {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let tag = format!("{run}-{}-{nanos:08x}", std::process::id());
        let t = Topics {
            input: format!("eo-in-{tag}"),
            changes: format!("eo-changes-{tag}"),
            counts: format!("eo-counts-{tag}"),
        };
        kafka_tools::create_topic(brokers, &t.input, 1).unwrap();
        kafka_tools::create_topic(brokers, &t.changes, 3).unwrap();
        kafka_tools::create_topic(brokers, &t.counts, 3).unwrap();
        t
    }
}

fn setup(s: &Server, brokers: &str, topics: &Topics, mode: &str) {
    s.create_program("eo", PROGRAM);
    let output = |topic: &str| {
        json!({"description": "", "config": {
            "transport": {"name": "kafka_output", "config": {
                "bootstrap.servers": brokers, "topic": topic,
                "headers": [{"key": "origin", "value": "eo-test"}],
                "fault_tolerance": {"mode": mode}}},
            "format": {"name": "json", "config": {"update_format": "debezium", "key_fields": ["k"],
                "enforce_unique_key": false, "tombstones": false}}}})
    };
    assert_eq!(
        s.call(
            "PUT",
            "/v0/connectors/changes",
            Some(output(&topics.changes))
        )
        .0,
        201
    );
    assert_eq!(
        s.call("PUT", "/v0/connectors/counts", Some(output(&topics.counts)))
            .0,
        201
    );
    let input = json!({"description": "", "config": {
        "transport": {"name": "kafka_input", "config": {"bootstrap.servers": brokers, "topics": [topics.input],
            "auto.offset.reset": "earliest"}},
        "format": {"name": "json", "config": {"update_format": "insert_delete"}}}});
    assert_eq!(s.call("PUT", "/v0/connectors/in", Some(input)).0, 201);
    let pipeline = json!({"description": "", "program_name": "eo",
        "config": {"workers": 2, "fault_tolerance": {"model": "exactly_once", "checkpoint_interval_secs": 1}},
        "connectors": [
            {"name": "changes", "is_input": false, "connector_name": "changes", "relation_name": "changes"},
            {"name": "counts", "is_input": false, "connector_name": "counts", "relation_name": "counts"},
            {"name": "in", "is_input": true, "connector_name": "in", "relation_name": "events"}]});
    let (status, body) = s.call("PUT", "/v0/pipelines/p", Some(pipeline));
    assert_eq!(status, 201, "{body}");
    assert_eq!(s.call("POST", "/v0/pipelines/p/start", None).0, 202);
    running(s, &mut Vec::new());
}

/// Waits until the pipeline runs. A pipeline that failed (allowed: failing loudly is within the guarantee, a
/// duplicate is not) is noted in `failures` and started again.
fn running(s: &Server, failures: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, p) = s.call("GET", "/v0/pipelines/p", None);
        match p["state"]["current_status"].as_str() {
            Some("Running") => return,
            Some("Failed") => {
                failures.push(p["state"]["error"].to_string());
                s.call("POST", "/v0/pipelines/p/shutdown", None);
                let until = Instant::now() + Duration::from_secs(60);
                while s.call("GET", "/v0/pipelines/p", None).1["state"]["current_status"]
                    != "Shutdown"
                {
                    assert!(
                        Instant::now() < until,
                        "the failed pipeline did not shut down"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
                assert_eq!(s.call("POST", "/v0/pipelines/p/start", None).0, 202);
            }
            _ => {}
        }
        assert!(Instant::now() < deadline, "the pipeline did not start: {p}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn produce(brokers: &str, topic: &str, lines: &[String]) {
    let payloads: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    kafka_tools::produce(brokers, topic, &payloads).unwrap();
}

/// What a run wrote, as its consumer sees it once everything arrived.
struct Output {
    changes: Vec<ConsumedMessage>,
    counts: Vec<ConsumedMessage>,
    stats: Value,
    failures: Vec<String>,
    kills: usize,
    /// Messages the replays skipped, summed over the server's lives (each life's stats just before its kill).
    skipped: u64,
}

/// Messages the pipeline's replay skipped in this server's life, over all its output connectors.
fn skipped(s: &Server) -> u64 {
    let (_, stats) = s.call("GET", "/v0/pipelines/p/stats", None);
    stats["outputs"]
        .as_array()
        .map(|outputs| {
            outputs
                .iter()
                .filter_map(|o| o["exactly_once"]["skipped_messages"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

/// One run: the undisturbed one (`broker` None), or the one with kills (and one broker kill).
fn run(
    brokers: &str,
    mode: &str,
    records: &[String],
    disturb: Option<&PrivateBroker>,
    seed: u64,
) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let label = if disturb.is_some() { "killed" } else { "calm" };
    let topics = Topics::create(brokers, label);
    let log = |n: usize| dir.path().join(format!("server-{n}.log"));
    let mut server = Server::start(&data, &log(0));
    setup(&server, brokers, &topics, mode);
    let mut failures = Vec::new();
    let chunks: Vec<&[String]> = records.chunks(CHUNK).collect();
    let mut next = 0;
    let mut kills = 0;
    let mut skipped_total = 0;
    match disturb {
        None => {
            for chunk in &chunks {
                produce(brokers, &topics.input, chunk);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(broker) => {
            let mut rng = Lcg(seed ^ 0xC0FFEE);
            let planned = if on_tansu() { KILLS_ON_TANSU } else { KILLS };
            while kills < planned {
                // Input streams in while the server runs, and the kill comes at a random point of it.
                for _ in 0..2 {
                    if let Some(chunk) = chunks.get(next) {
                        produce(brokers, &topics.input, chunk);
                        next += 1;
                    }
                    std::thread::sleep(Duration::from_millis(100 + rng.next(700)));
                }
                if kills == planned / 2 {
                    // The broker crashes under a running pipeline with open transactions, and comes back.
                    broker.down();
                    std::thread::sleep(Duration::from_millis(2_000 + rng.next(2_000)));
                    broker.up();
                    std::thread::sleep(Duration::from_millis(rng.next(1_500)));
                }
                skipped_total += skipped(&server);
                server.child.kill().unwrap();
                server.child.wait().unwrap();
                kills += 1;
                drop(server);
                server = Server::start(&data, &log(kills));
                running(&server, &mut failures);
            }
            for chunk in &chunks[next.min(chunks.len())..] {
                produce(brokers, &topics.input, chunk);
            }
        }
    }
    // Everything arrives: every record's change, and the aggregate at its final value.
    let changes = read_topic(
        brokers,
        &topics.changes,
        records.len(),
        Duration::from_secs(180),
    )
    .unwrap();
    let expected_counts = counts_oracle(records);
    let deadline = Instant::now() + Duration::from_secs(180);
    let counts = loop {
        let counts = read_topic(brokers, &topics.counts, 1, Duration::from_secs(30)).unwrap();
        if zset(&counts) == expected_counts {
            break counts;
        }
        if Instant::now() > deadline {
            let got = zset(&counts);
            let wrong: Vec<_> = got
                .iter()
                .filter(|(r, w)| expected_counts.get(*r) != Some(w))
                .take(5)
                .collect();
            let missing: Vec<_> = expected_counts
                .keys()
                .filter(|r| !got.contains_key(*r))
                .take(5)
                .collect();
            let log = std::fs::read_to_string(log(kills)).unwrap_or_default();
            let errors: Vec<&str> = log
                .lines()
                .filter(|l| l.contains("ERROR") || l.contains("WARN"))
                .take(20)
                .collect();
            let (_, stats) = server.call("GET", "/v0/pipelines/p/stats", None);
            panic!(
                "{label} run ({mode}): counts did not reach the input's values: {} messages; wrong weights \
                 {wrong:?}; missing {missing:?}; stats {}; server errors and warnings:\n{}",
                counts.len(),
                stats["outputs"],
                errors.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    // Let a last checkpoint pass: nothing more may appear.
    std::thread::sleep(Duration::from_secs(3));
    let changes_after = read_topic(
        brokers,
        &topics.changes,
        changes.len(),
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(
        changes_after.len(),
        changes.len(),
        "{label} run ({mode}): changes kept coming"
    );
    let (_, stats) = server.call("GET", "/v0/pipelines/p/stats", None);
    let (_, metrics) = server.raw("GET", "/metrics", None);
    let committed = metrics
        .lines()
        .find(|l| {
            l.starts_with("sluice_output_connector_committed_step{")
                && l.contains("connector=\"changes\"")
        })
        .unwrap_or_else(|| panic!("no committed step in /metrics:\n{metrics}"));
    assert!(committed.contains("mode=\""), "{committed}");
    skipped_total += skipped(&server);
    server.stop();
    Output {
        changes,
        counts,
        stats,
        failures,
        kills,
        skipped: skipped_total,
    }
}

/// The Debezium message as (row, +1 or -1).
fn change(m: &ConsumedMessage) -> (String, i64) {
    let v: Value = serde_json::from_slice(m.payload.as_deref().unwrap()).unwrap();
    let p = &v["payload"];
    match p["op"].as_str() {
        Some("c") => (p["after"].to_string(), 1),
        Some("d") => (p["before"].to_string(), -1),
        other => panic!("unexpected op {other:?} in {v}"),
    }
}

/// The messages applied as a Z-set: row → weight, zero weights dropped.
fn zset(messages: &[ConsumedMessage]) -> BTreeMap<String, i64> {
    let mut weights: BTreeMap<String, i64> = BTreeMap::new();
    for m in messages {
        let (row, w) = change(m);
        *weights.entry(row).or_default() += w;
    }
    weights.retain(|_, w| *w != 0);
    weights
}

/// A Debezium value without what legitimately differs between two runs of the same input: the wall-clock times
/// (`ts_ms`, `source.ts_ms`) and the step that carried the change (`source.step`: a restart replays the input in
/// steps cut differently). What is left (the rows before and after, the op, the view) must be identical.
fn without_run_details(payload: &[u8]) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(payload).unwrap();
    let p = &mut v["payload"];
    assert!(
        p["ts_ms"].take().is_i64()
            && p["source"]["ts_ms"].take().is_i64()
            && p["source"]["step"].take().is_u64(),
        "{p}"
    );
    serde_json::to_vec(&v).unwrap()
}

/// Per partition, per key: the messages (value and user headers) in order.
type ByKey = BTreeMap<(i32, Vec<u8>), Vec<(Vec<u8>, Vec<(String, Option<Vec<u8>>)>)>>;

fn by_key(messages: &[ConsumedMessage]) -> ByKey {
    let mut out: ByKey = BTreeMap::new();
    for m in messages {
        let headers = m
            .headers
            .iter()
            .filter(|(k, _)| k != sluice_transports::kafka_output::PROGRESS_HEADER)
            .cloned()
            .collect();
        out.entry((m.partition, m.key.clone().expect("a keyed message")))
            .or_default()
            .push((
                without_run_details(m.payload.as_deref().unwrap_or_default()),
                headers,
            ));
    }
    out
}

fn strict_check(mode: &str, expected_mode: &str) {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let broker = PrivateBroker::start();
    let brokers = broker.address();
    let seed = 0xE0_0000 ^ u64::from(std::process::id());
    println!("seed {seed:#x}, mode {mode}");
    let records = workload(seed);

    let calm = run(&brokers, mode, &records, None, seed);
    let killed = run(&brokers, mode, &records, Some(&broker), seed);
    let planned = if on_tansu() { KILLS_ON_TANSU } else { 20 };
    assert!(killed.kills >= planned, "only {} kills", killed.kills);

    // changes: the same messages per partition and per key, in the same order per key, each once.
    assert_eq!(calm.changes.len(), records.len(), "the undisturbed run");
    assert_eq!(
        killed.changes.len(),
        records.len(),
        "the killed run has {} messages for {} records",
        killed.changes.len(),
        records.len()
    );
    let (a, b) = (by_key(&calm.changes), by_key(&killed.changes));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (key, messages) in &a {
        assert_eq!(
            Some(messages),
            b.get(key),
            "partition {} key {}: the killed run's sequence differs",
            key.0,
            String::from_utf8_lossy(&key.1)
        );
        assert!(
            messages
                .iter()
                .all(|(_, h)| h == &[("origin".to_string(), Some(b"eo-test".to_vec()))]),
            "user headers kept"
        );
    }

    // counts: no weight other than 0 or 1 at the end, and the same rows as undisturbed and as computed here.
    let expected = counts_oracle(&records);
    assert_eq!(zset(&calm.counts), expected);
    assert_eq!(zset(&killed.counts), expected);

    for o in [&calm, &killed] {
        for c in o.stats["outputs"].as_array().unwrap() {
            assert_eq!(c["exactly_once"]["mode"], expected_mode, "{c}");
        }
    }
    if expected_mode == "markers" {
        // Markers mode's output is visible before its checkpoint: a kill between the two is the common case, and
        // the skip is what makes it exactly once. A run that never skipped did not test it.
        assert!(
            killed.skipped > 0,
            "no replay skipped anything in {} kills",
            killed.kills
        );
    }
    println!(
        "mode {mode}: {} kills; {} messages skipped by replays; {} changes messages and {} counts messages \
         (undisturbed: {}); {} pipeline failures restarted ({:?}); last run's stats: {}",
        killed.kills,
        killed.skipped,
        killed.changes.len(),
        killed.counts.len(),
        calm.counts.len(),
        killed.failures.len(),
        killed.failures,
        killed.stats["outputs"]
    );
}

fn on_tansu() -> bool {
    std::env::var("SLUICE_BROKER").is_ok_and(|b| b == "tansu")
}

#[test]
fn transactions_give_the_undisturbed_output_through_21_kills_and_a_broker_crash() {
    strict_check("transactions", "transactions");
}

/// On tansu (`SLUICE_BROKER=tansu`, a broker without transactions; `scripts/test.sh` runs this test there too),
/// `auto` must choose markers, with 8 kills there instead of 21. (The transactions test fails on tansu, as it
/// should.)
#[test]
fn markers_give_the_undisturbed_output_through_21_kills_and_a_broker_crash() {
    if on_tansu() {
        strict_check("auto", "markers");
    } else {
        strict_check("markers", "markers");
    }
}
