//! Keyed output and snapshots, end to end against the local broker.
//!
//! Run: `scripts/broker.sh start && cargo bench -p sluice-pipeline --bench keys` (broker from
//! `SLUICE_KAFKA_BROKERS`, default `127.0.0.1:19092`; `docs/benchmarks.md` says how its figures were built).
//!
//! 1. Keys on 6 partitions. The book fair (`total_sales`, a join and a GROUP BY by title); 10,000 books preloaded,
//!    then 200,000 sales in calls of 1,000 with at most 10,000 input records buffered, so every run makes the same
//!    steps and 390,000 view changes. The view goes to a fresh topic of 6 partitions in four formats: JSON
//!    `insert_delete` without a key (the baseline, measured in the same run), `insert_delete` keyed by `title`,
//!    `upsert` keyed by `title` (a title's delete and insert in a step become one message), the same keyed by a
//!    `CREATE INDEX` on `title` (the engine then also counts rows per title, so that a title's second row is
//!    refused whichever step it comes in) and keyed `debezium` (default flavor: with the Kafka Connect schema). Timed from the first sale until every change was handed
//!    to the connector and every message acknowledged; best of 2 rounds, the order rotating between rounds.
//! 2. Snapshot memory. A durable pipeline with a `MATERIALIZED` view of 1,000,000 rows (`SNAPSHOT_ROWS`) is stopped, then restarted
//!    once without and once with a `send_snapshot` connector (`null_output`, so that the broker does not pace it),
//!    each in a fresh process whose resident memory is sampled every 5 ms; the difference of the two peaks is the
//!    snapshot's cost, compared with a process that only builds the view's rows in memory. The connector's queue
//!    is bounded at 100,000 records; the engine reads the stored view through dbsp's buffer cache (256 MiB per
//!    worker and thread kind by default), which bounds the rest.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{book, loadavg, sale, BOOKS, BOOK_FAIR};
use serde_json::{json, Value as Json};
use sluice_data::{Row, Value};
use sluice_pipeline::durable::DurableConfig;
use sluice_pipeline::{ControllerConfig, OutputSpec, Pipeline, PipelineSpec, PipelineStats};
use sluice_sql::Program;
use sluice_transports::kafka_tools;
use sluice_types::ConnectorConfig;

/// The allocator the `sluice` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SALES: u64 = 200_000;
const CALL: u64 = 1_000;
const PARTITIONS: i32 = 6;
const ROUNDS: usize = 2;
/// Rows of the snapshot's view (`SNAPSHOT_ROWS` in the environment overrides it).
fn snapshot_rows() -> i64 {
    std::env::var("SNAPSHOT_ROWS").map_or(1_000_000, |v| v.parse().unwrap())
}
const TIMEOUT: Duration = Duration::from_secs(600);

fn connector(transport: Json, format: Json) -> ConnectorConfig {
    serde_json::from_value(
        json!({"transport": transport, "format": {"name": "json", "config": format}}),
    )
    .unwrap()
}

fn spec(program: &str, view: &str, outputs: Vec<(&str, ConnectorConfig)>) -> PipelineSpec {
    PipelineSpec {
        name: "bench".into(),
        program: Program::compile(program).unwrap(),
        config: ControllerConfig {
            workers: 1,
            max_buffered_records: BOOKS,
            ..ControllerConfig::default()
        },
        inputs: Vec::new(),
        durable: None,
        outputs: outputs
            .into_iter()
            .map(|(name, config)| OutputSpec {
                name: name.into(),
                view: view.into(),
                config,
            })
            .collect(),
    }
}

/// Whether every input record was stepped and every change handed over and acknowledged; panics on a failure.
fn settled(stats: &PipelineStats, input: u64) -> bool {
    let g = &stats.global_metrics;
    assert!(g.error.is_none(), "pipeline failed: {:?}", g.error);
    g.total_processed_records >= input
        && stats.outputs.iter().all(|o| {
            assert!(o.fatal_error.is_none(), "{:?}", o.fatal_error);
            assert_eq!(o.num_encode_errors, 0);
            o.processed_records >= g.total_output_records
                && o.transport.in_flight_messages == 0
                && o.transport.queued_messages == 0
        })
}

fn wait_settled(p: &Pipeline, input: u64) -> PipelineStats {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stats = p.stats();
        if settled(&stats, input) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "not settled: {:?}",
            stats.global_metrics
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

struct Run {
    elapsed: Duration,
    changes: u64,
    messages: u64,
    bytes: u64,
}

/// The index of the variant keyed by an index.
const TITLE_INDEX: &str = "CREATE INDEX total_sales_by_title ON total_sales (title);";

fn keyed_run(servers: &str, format: &Json, by_index: bool) -> Run {
    let topic = format!("bench-keys-{:08x}", rand::random::<u32>());
    kafka_tools::create_topic(servers, &topic, PARTITIONS).unwrap();
    let mut output = connector(
        json!({"name": "kafka_output", "config": {"bootstrap.servers": servers, "topic": topic}}),
        format.clone(),
    );
    let program = if by_index {
        output.index = Some("total_sales_by_title".into());
        format!("{BOOK_FAIR}\n{TITLE_INDEX}")
    } else {
        BOOK_FAIR.to_string()
    };
    let p = Pipeline::start(spec(&program, "total_sales", vec![("out", output)]), false).unwrap();
    p.ingest(
        "books",
        (0..BOOKS).map(|id| (book(id), 1)).collect(),
        0,
        TIMEOUT,
    )
    .unwrap();
    wait_settled(&p, BOOKS);
    let calls: Vec<Vec<(Row, i64)>> = (0..SALES / CALL)
        .map(|c| (c * CALL..(c + 1) * CALL).map(sale).collect())
        .collect();
    let start = Instant::now();
    for records in calls {
        p.ingest("sales", records, 0, TIMEOUT).unwrap();
    }
    let stats = wait_settled(&p, BOOKS + SALES);
    let elapsed = start.elapsed();
    p.shutdown(Duration::from_secs(30)).unwrap();
    let o = &stats.outputs[0];
    Run {
        elapsed,
        changes: stats.global_metrics.total_output_records,
        messages: o.transport.transmitted_messages,
        bytes: o.transport.transmitted_bytes,
    }
}

fn keys(servers: &str) {
    let variants: Vec<(&str, Json, bool)> = vec![
        (
            "insert_delete, no key (baseline)",
            json!({"update_format": "insert_delete"}),
            false,
        ),
        (
            "insert_delete keyed by title",
            json!({"update_format": "insert_delete", "key_fields": ["title"]}),
            false,
        ),
        (
            "upsert keyed by title",
            json!({"update_format": "upsert", "key_fields": ["title"]}),
            false,
        ),
        (
            "upsert keyed by an index on title",
            json!({"update_format": "upsert"}),
            true,
        ),
        (
            "debezium keyed by title (with schema)",
            json!({"update_format": "debezium", "key_fields": ["title"]}),
            false,
        ),
    ];
    let mut best: Vec<Option<Run>> = variants.iter().map(|_| None).collect();
    for round in 0..ROUNDS {
        for k in 0..variants.len() {
            let i = (k + round) % variants.len();
            let (_, format, by_index) = &variants[i];
            let run = keyed_run(servers, format, *by_index);
            if best[i].as_ref().is_none_or(|b| run.elapsed < b.elapsed) {
                best[i] = Some(run);
            }
        }
    }
    println!(
        "keys on {PARTITIONS} partitions: {SALES} sales after {BOOKS} books, 1 worker, best of {ROUNDS} (load {})",
        loadavg()
    );
    let base = best[0].as_ref().unwrap().elapsed.as_secs_f64();
    for ((name, _, _), run) in variants.iter().zip(&best) {
        let run = run.as_ref().unwrap();
        let secs = run.elapsed.as_secs_f64();
        println!(
            "  {name:<40} {:>9.0} sales/s {:>9.0} changes/s {:>9.0} msg/s {:>7.1} MB/s  {:.2}x  ({} changes, {} messages)",
            SALES as f64 / secs,
            run.changes as f64 / secs,
            run.messages as f64 / secs,
            run.bytes as f64 / secs / 1e6,
            base / secs,
            run.changes,
            run.messages,
        );
    }
}

/// The process's resident memory in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

const SNAPSHOT_PROGRAM: &str =
    "CREATE TABLE t (id BIGINT NOT NULL, name VARCHAR NOT NULL, amount BIGINT NOT NULL);
    CREATE MATERIALIZED VIEW everything AS SELECT id, name, amount FROM t;";

fn snapshot_row(i: i64) -> Row {
    Row::new(vec![
        Value::BigInt(i),
        Value::from(format!("customer {i:08}")),
        Value::BigInt(i * 7 % 1000),
    ])
}

fn durable_spec(state: &std::path::Path, outputs: Vec<(&str, ConnectorConfig)>) -> PipelineSpec {
    PipelineSpec {
        durable: Some(DurableConfig {
            state_dir: state.to_path_buf(),
            checkpoint_interval: Duration::from_secs(3600),
            program_fingerprint: "bench-snapshot".into(),
            exactly_once: None,
        }),
        ..spec(SNAPSHOT_PROGRAM, "everything", outputs)
    }
}

/// Samples the process's resident memory every 5 ms until dropped; [`Peak::stop`] gives the highest sample.
struct Peak {
    peak: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<()>,
}

impl Peak {
    fn start() -> Peak {
        let peak = Arc::new(AtomicU64::new(rss()));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, done) = (peak.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Relaxed) {
                    peak.fetch_max(rss(), Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Peak {
            peak,
            done,
            sampler,
        }
    }

    fn stop(self) -> u64 {
        self.done.store(true, Relaxed);
        self.sampler.join().unwrap();
        self.peak.load(Relaxed).max(rss())
    }
}

/// One phase of the snapshot measurement, each in a process of its own (so that no phase sees memory another
/// freed): `fill` builds the state, `plain` restarts without a snapshot, `snapshot` restarts with a
/// `send_snapshot` connector, `hold` builds the view's rows in memory. Prints `phase peak_bytes seconds`.
fn snapshot_phase(phase: &str, state: &std::path::Path) {
    let peak = Peak::start();
    let start = Instant::now();
    match phase {
        "fill" => {
            let p = Pipeline::start(durable_spec(state, Vec::new()), false).unwrap();
            for chunk in (0..snapshot_rows()).collect::<Vec<_>>().chunks(10_000) {
                let rows = chunk.iter().map(|&i| (snapshot_row(i), 1)).collect();
                p.ingest("t", rows, 0, TIMEOUT).unwrap();
            }
            wait_settled(&p, snapshot_rows() as u64);
            p.shutdown(TIMEOUT).unwrap();
        }
        "plain" | "snapshot" => {
            let mut output = connector(
                json!({"name": "null_output"}),
                json!({"update_format": "insert_delete"}),
            );
            output.send_snapshot = phase == "snapshot";
            // The queue holds up to this many rows of the snapshot at once (the default, 1,000,000, is the whole
            // view here): a bound of its own, kept small so that the figure shows the engine's side.
            output.max_queued_records = 100_000;
            let p = Pipeline::start(durable_spec(state, vec![("out", output)]), false).unwrap();
            let want = if phase == "snapshot" {
                snapshot_rows() as u64
            } else {
                0
            };
            let deadline = Instant::now() + TIMEOUT;
            while p.stats().outputs[0].snapshot_records < want {
                assert!(Instant::now() < deadline, "snapshot not sent");
                std::thread::sleep(Duration::from_millis(5));
            }
            p.shutdown(TIMEOUT).unwrap();
        }
        "hold" => {
            let rows: Vec<Row> = (0..snapshot_rows()).map(snapshot_row).collect();
            std::hint::black_box(&rows);
        }
        other => panic!("unknown phase {other}"),
    }
    println!(
        "{phase} {} {:.3}",
        peak.stop(),
        start.elapsed().as_secs_f64()
    );
}

fn snapshot_memory() {
    let state = tempfile::tempdir().unwrap();
    let me = std::env::current_exe().unwrap();
    let mut results = std::collections::BTreeMap::new();
    for phase in ["fill", "plain", "snapshot", "hold"] {
        let out = std::process::Command::new(&me)
            .args(["--phase", phase])
            .arg(state.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{phase}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let line = text.lines().last().unwrap().to_string();
        let mut parts = line.split_whitespace().skip(1);
        let peak: u64 = parts.next().unwrap().parse().unwrap();
        let secs: f64 = parts.next().unwrap().parse().unwrap();
        results.insert(phase, (peak, secs));
    }
    let mb = |b: u64| b as f64 / 1e6;
    let (plain, plain_s) = results["plain"];
    let (snap, snap_s) = results["snapshot"];
    println!(
        "snapshot of a {}-row materialized view (durable, to null_output), each phase its own process \
         (load {}):\n  restart without snapshot: peak RSS {:.1} MB, {:.2} s\n  restart with send_snapshot: peak RSS \
         {:.1} MB, {:.2} s ({:.0} rows/s); the snapshot adds {:.1} MB\n  the view's rows held whole in memory: \
         peak RSS {:.1} MB; filling the state: peak {:.1} MB",
        snapshot_rows(),
        loadavg(),
        mb(plain),
        plain_s,
        mb(snap),
        snap_s,
        snapshot_rows() as f64 / (snap_s - plain_s).max(1e-3),
        mb(snap.saturating_sub(plain)),
        mb(results["hold"].0),
        mb(results["fill"].0),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, phase, state] = &args[..] {
        if flag == "--phase" {
            return snapshot_phase(phase, std::path::Path::new(state));
        }
    }
    let servers =
        std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into());
    if !args.iter().any(|a| a == "--snapshot-only") {
        keys(&servers);
    }
    snapshot_memory();
}
