//! What durability (`fault_tolerance.model = at_least_once`) costs, against `none` measured in the same run.
//!
//! Run: `scripts/broker.sh start && cargo bench -p sluice-pipeline --bench durability` (broker address from
//! `SLUICE_KAFKA_BROKERS`, default `127.0.0.1:19092`). State goes to a temporary directory on the disk `TMPDIR`
//! names (the project's machines: one virtual disk for everything).
//!
//! 1. Throughput end to end: the book fair (join + GROUP BY) with one `kafka_output` connector, 10,000 books
//!    preloaded, then 200,000 sales in calls of 1,000, timed until every view change is acknowledged by the broker.
//!    `none`, `at_least_once` with the default checkpoint interval (60 s: no checkpoint falls in a run, so the figure
//!    is the journal's and the engine storage's cost) and `at_least_once` with a checkpoint every second (the
//!    checkpoints' cost too) take turns, best of 2 each. The ratios to `none` are the target (≥ 0.8).
//! 2. Ingest latency: 2,000 calls of one record each, sequential, into a pipeline with no output: the time
//!    `Pipeline::ingest` takes, which for `at_least_once` includes the journal's `fdatasync` (what an HTTP ingress
//!    request adds to its answer's latency; HTTP itself is not included). p50 / p99 / max.
//! 3. Checkpoints and recovery with 100,000 and 1,000,000 rows of state: a keyed table of that many rows and a view
//!    of them; a requested checkpoint's duration (request to commit) and the state directory's size; then a clean
//!    shutdown and the time `Pipeline::start` takes to restore it (engine and keyed rows).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_data::{Decimal, Row, Value};
use sluice_pipeline::durable::DurableConfig;
use sluice_pipeline::{ControllerConfig, OutputSpec, Pipeline, PipelineSpec, PipelineStats};
use sluice_sql::Program;
use sluice_transports::kafka_tools;
use sluice_types::ConnectorConfig;

/// The allocator the `sluice` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BOOK_FAIR: &str = include_str!("../../../examples/book-fair.sql");
const BOOKS: u64 = 10_000;
const SALES: u64 = 200_000;
const CALL: u64 = 1_000;
const TIMEOUT: Duration = Duration::from_secs(600);

fn brokers() -> String {
    std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

fn spec(
    program: &str,
    output: Option<(&str, ConnectorConfig)>,
    durable: Option<&Path>,
    interval: Duration,
) -> PipelineSpec {
    PipelineSpec {
        name: "bench".into(),
        program: Program::compile(program).unwrap(),
        config: ControllerConfig {
            max_buffered_records: BOOKS,
            ..ControllerConfig::default()
        },
        inputs: Vec::new(),
        outputs: output
            .map(|(view, config)| OutputSpec {
                name: "out".into(),
                view: view.into(),
                config,
            })
            .into_iter()
            .collect(),
        durable: durable.map(|dir| DurableConfig {
            state_dir: dir.to_path_buf(),
            checkpoint_interval: interval,
            program_fingerprint: "bench".into(),
            exactly_once: None,
        }),
    }
}

fn kafka(topic: &str) -> ConnectorConfig {
    serde_json::from_value(json!({
        "transport": {"name": "kafka_output", "config": {"bootstrap.servers": brokers(), "topic": topic}},
        "format": {"name": "json", "config": {"update_format": "insert_delete"}}
    }))
    .unwrap()
}

fn wait(p: &Pipeline, done: impl Fn(&PipelineStats) -> bool) -> PipelineStats {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let s = p.stats();
        assert!(s.global_metrics.error.is_none(), "{:?}", s.global_metrics);
        if done(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {:?}",
            s.global_metrics
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Records per second from the first sale to the last acknowledgement; `durable` is the checkpoint interval of an
/// `at_least_once` pipeline.
fn throughput(durable: Option<Duration>) -> f64 {
    let topic = format!("bench-durable-{:08x}", rand::random::<u32>());
    kafka_tools::create_topic(&brokers(), &topic, 1).unwrap();
    let state = tempfile::tempdir().unwrap();
    let p = Pipeline::start(
        spec(
            BOOK_FAIR,
            Some(("total_sales", kafka(&topic))),
            durable.map(|_| state.path()),
            durable.unwrap_or_default(),
        ),
        false,
    )
    .unwrap();
    let books: Vec<(Row, i64)> = (0..BOOKS)
        .map(|id| {
            let row = Row::new(vec![
                Value::BigInt(id as i64),
                Value::from(format!("Collected Works, Volume {id:05}")),
                Value::Decimal(Decimal::new(i128::from(500 + id * 37 % 5_000), 2).unwrap()),
            ]);
            (row, 1)
        })
        .collect();
    p.ingest("books", books, 0, TIMEOUT).unwrap();
    wait(&p, |s| s.global_metrics.total_processed_records == BOOKS);
    let started = Instant::now();
    for call in 0..SALES / CALL {
        let sales = (call * CALL..(call + 1) * CALL)
            .map(|i| {
                let row = Row::new(vec![
                    Value::BigInt((i % BOOKS) as i64),
                    Value::BigInt(1 + (i % 3) as i64),
                ]);
                (row, 1)
            })
            .collect();
        p.ingest("sales", sales, 0, TIMEOUT).unwrap();
    }
    let s = wait(&p, |s| {
        let g = &s.global_metrics;
        g.total_processed_records == BOOKS + SALES
            && s.outputs[0].transport.transmitted_records >= g.total_output_records
    });
    let elapsed = started.elapsed();
    if let Some(ft) = &s.fault_tolerance {
        println!(
            "    at_least_once: {} checkpoints committed during the run, last one written in {} ms",
            ft.checkpoints,
            ft.checkpoint_write_ms.unwrap_or(0)
        );
    }
    p.shutdown(TIMEOUT).unwrap();
    let _ = kafka_tools::delete_topic(&brokers(), &topic);
    SALES as f64 / elapsed.as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// p50, p99 and max of a single-record `ingest` call.
fn ingest_latency(durable: bool) -> (Duration, Duration, Duration) {
    let state = tempfile::tempdir().unwrap();
    let program = "CREATE TABLE t (id BIGINT NOT NULL, x BIGINT NOT NULL); CREATE VIEW v AS SELECT SUM(x) AS s FROM t;";
    let p = Pipeline::start(
        spec(
            program,
            None,
            durable.then_some(state.path()),
            Duration::from_secs(60),
        ),
        false,
    )
    .unwrap();
    let mut times = Vec::new();
    for i in 0..2_200i64 {
        let row = Row::new(vec![Value::BigInt(i), Value::BigInt(1)]);
        let t = Instant::now();
        p.ingest("t", vec![(row, 1)], 0, TIMEOUT).unwrap();
        if i >= 200 {
            times.push(t.elapsed());
        }
    }
    p.shutdown(TIMEOUT).unwrap();
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        *times.last().unwrap(),
    )
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            dir_size(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// Checkpoint duration, state size and restore time with `rows` rows in a keyed table and its view.
fn checkpoint_and_recovery(rows: u64) -> (Duration, u64, Duration) {
    let state = tempfile::tempdir().unwrap();
    let program =
        "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR NOT NULL, x BIGINT NOT NULL);
                   CREATE VIEW v AS SELECT id, x FROM t WHERE x >= 0;";
    let start = || {
        let mut s = spec(program, None, Some(state.path()), Duration::from_secs(3600));
        s.config.max_buffered_records = 100_000;
        Pipeline::start(s, false).unwrap()
    };
    let p = start();
    for chunk in 0..rows / 10_000 {
        let batch = (chunk * 10_000..(chunk + 1) * 10_000)
            .map(|i| {
                let row = Row::new(vec![
                    Value::BigInt(i as i64),
                    Value::from(format!("row number {i}")),
                    Value::BigInt(i as i64 % 1_000),
                ]);
                (row, 1)
            })
            .collect();
        p.ingest("t", batch, 0, TIMEOUT).unwrap();
    }
    wait(&p, |s| s.global_metrics.total_processed_records == rows);
    let asked = Instant::now();
    let sequence = p.checkpoint().unwrap();
    let status = p.wait_for_checkpoint(sequence, TIMEOUT).unwrap();
    let took = asked.elapsed();
    assert_eq!(status.success, Some(sequence), "{status:?}");
    let size = dir_size(state.path());
    let manifest = std::fs::metadata(state.path().join("checkpoint.json"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "    {rows} rows: of the state directory, the manifest (with the keyed rows as JSON) is {:.1} MB, the engine's \
         storage {:.1} MB",
        manifest as f64 / 1e6,
        dir_size(&state.path().join("engine")) as f64 / 1e6
    );
    p.shutdown(TIMEOUT).unwrap();
    drop(p);
    let restarted = Instant::now();
    let p = start();
    let restore = restarted.elapsed();
    let ft = p.stats().fault_tolerance.unwrap();
    assert_eq!(ft.replayed_steps, 0, "{ft:?}");
    p.shutdown(TIMEOUT).unwrap();
    (took, size, restore)
}

fn main() {
    println!(
        "1. throughput, book fair to kafka_output, {SALES} sales after {BOOKS} books (records/s)"
    );
    let variants = [
        ("none", None),
        (
            "at_least_once, checkpoint every 60 s",
            Some(Duration::from_secs(60)),
        ),
        (
            "at_least_once, checkpoint every 1 s",
            Some(Duration::from_secs(1)),
        ),
    ];
    let mut best = [0f64; 3];
    for round in 0..2 {
        for k in 0..3 {
            // Each round starts with another variant.
            let v = (k + round) % 3;
            let r = throughput(variants[v].1);
            println!("  round {round}, {}: {r:.0}", variants[v].0);
            best[v] = best[v].max(r);
        }
    }
    for (v, (name, _)) in variants.iter().enumerate() {
        println!(
            "  best {name}: {:.0}, ratio to none {:.2}",
            best[v],
            best[v] / best[0]
        );
    }

    println!("2. ingest call latency, one record per call, 2,000 calls (p50 / p99 / max)");
    for d in [false, true] {
        let (p50, p99, max) = ingest_latency(d);
        println!(
            "  {}: {:.3} / {:.3} / {:.3} ms",
            if d { "at_least_once" } else { "none" },
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }

    println!("3. checkpoint and restore (keyed table + view)");
    for rows in [100_000, 1_000_000] {
        let (took, size, restore) = checkpoint_and_recovery(rows);
        println!(
            "  {rows} rows: checkpoint {:.0} ms, state dir {:.1} MB, restore (start) {:.0} ms",
            took.as_secs_f64() * 1e3,
            size as f64 / 1e6,
            restore.as_secs_f64() * 1e3
        );
    }
}
