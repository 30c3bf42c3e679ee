//! Nexmark on Sluice's engine: each query of `sluice_nexmark::QUERIES` alone over the same event stream, its view's
//! changes consumed and dropped (a null output). Not a test: `cargo bench -p sluice-nexmark --bench nexmark`.
//!
//! `SLUICE_BENCH_EVENTS` events (default 2,000,000; 10 M events per second of event time, Nexmark's default rate),
//! generated before the timer, are pushed `STEP_EVENTS` at a time and stepped; the figure is events per second of
//! wall time from the first push to the last step, on `SLUICE_BENCH_WORKERS` dbsp workers (default 2), and per
//! worker. `SLUICE_BENCH_QUERIES` (comma-separated names) runs a subset. The baseline in the same run is q0, the
//! pass-through: every other query's figure is also given as a ratio to it.
//!
//! `SLUICE_BENCH_OUTPUT=kafka` runs each query in a pipeline instead (`sluice_pipeline::Pipeline`, the controller's
//! defaults) with its view attached to a `kafka_output` connector (JSON `insert_delete`, one change per message) on a
//! fresh single-partition topic of `SLUICE_KAFKA_BROKERS` (default `127.0.0.1:19092`): timed from the first
//! `ingest` until every event was stepped and every change of the view acknowledged by the broker.

use std::time::{Duration, Instant};

use sluice_data::Row;
use sluice_engine::{Engine, EngineConfig};
use sluice_nexmark::{program, Config, Events, Generator, Query, NOT_SUPPORTED, QUERIES};
use sluice_pipeline::{ControllerConfig, OutputSpec, Pipeline, PipelineSpec};
use sluice_sql::Program;
use sluice_types::ConnectorConfig;

/// The allocator the `sluice` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STEP_EVENTS: usize = 10_000;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: a number")))
        .unwrap_or(default)
}

fn ones(rows: &[Row]) -> Vec<(Row, i64)> {
    rows.iter().map(|r| (r.clone(), 1)).collect()
}

/// Events per second for one query.
fn run(sql: &str, steps: &[Events], workers: usize) -> f64 {
    let compiled = Program::compile(sql).expect("the query compiles");
    let mut engine = Engine::start(compiled, EngineConfig::with_workers(workers)).expect("engine");
    // Rows are cloned before the timer: what is timed is the engine's work.
    let inputs: Vec<[Vec<(Row, i64)>; 3]> = steps
        .iter()
        .map(|e| [ones(&e.people), ones(&e.auctions), ones(&e.bids)])
        .collect();
    let events: usize = steps.iter().map(Events::len).sum();
    let started = Instant::now();
    for [people, auctions, bids] in inputs {
        engine.push("person", people).expect("push");
        engine.push("auction", auctions).expect("push");
        engine.push("bid", bids).expect("push");
        std::hint::black_box(engine.step().expect("step"));
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// Events per second for one query in a pipeline whose view goes to `kafka_output`, and the changes delivered.
fn run_to_kafka(query: &Query, steps: &[Events], workers: usize) -> (f64, u64) {
    let servers =
        std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let topic = format!("bench-nexmark-{}-{nanos}", query.name);
    sluice_transports::kafka_tools::create_topic(&servers, &topic, 1).expect("create topic");
    let config: ConnectorConfig = serde_json::from_value(serde_json::json!({
        "transport": {"name": "kafka_output", "config": {"bootstrap.servers": servers, "topic": topic}},
        "format": {"name": "json", "config": {"update_format": "insert_delete"}}
    }))
    .expect("connector config");
    let spec = PipelineSpec {
        name: query.name.into(),
        program: Program::compile(&program(query)).expect("the query compiles"),
        config: ControllerConfig {
            workers,
            ..ControllerConfig::default()
        },
        inputs: Vec::new(),
        durable: None,
        outputs: vec![OutputSpec {
            name: "out".into(),
            view: query.name.into(),
            config,
        }],
    };
    let pipeline = Pipeline::start(spec, false).expect("pipeline");
    let inputs: Vec<[Vec<(Row, i64)>; 3]> = steps
        .iter()
        .map(|e| [ones(&e.people), ones(&e.auctions), ones(&e.bids)])
        .collect();
    let events: usize = steps.iter().map(Events::len).sum();
    let wait = Duration::from_secs(300);
    let started = Instant::now();
    for [people, auctions, bids] in inputs {
        for (table, rows) in [("person", people), ("auction", auctions), ("bid", bids)] {
            pipeline.ingest(table, rows, 0, wait).expect("ingest");
        }
    }
    let deadline = Instant::now() + wait;
    loop {
        let stats = pipeline.stats();
        let g = &stats.global_metrics;
        assert!(g.error.is_none(), "{:?}", g.error);
        let out = &stats.outputs[0];
        assert!(out.fatal_error.is_none(), "{:?}", out.fatal_error);
        if g.total_processed_records >= events as u64
            && out.transport.transmitted_records >= g.total_output_records
        {
            let rate = events as f64 / started.elapsed().as_secs_f64();
            return (rate, g.total_output_records);
        }
        assert!(Instant::now() < deadline, "not done: {g:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn main() {
    let events = env_or("SLUICE_BENCH_EVENTS", 2_000_000);
    let workers = env_or("SLUICE_BENCH_WORKERS", 2);
    let only: Option<Vec<String>> = std::env::var("SLUICE_BENCH_QUERIES")
        .ok()
        .map(|q| q.split(',').map(|s| s.trim().to_string()).collect());
    let mut generator = Generator::new(Config::default());
    let steps: Vec<Events> = (0..events.div_ceil(STEP_EVENTS))
        .map(|_| generator.next_events(STEP_EVENTS))
        .collect();
    let kafka = std::env::var("SLUICE_BENCH_OUTPUT").is_ok_and(|o| o == "kafka");
    let output = if kafka { "kafka_output" } else { "null output" };
    println!("Nexmark: {events} events, steps of {STEP_EVENTS}, {workers} workers, {output}");
    println!(
        "{:>5} {:>14} {:>18} {:>8} {:>12}",
        "query", "events/s", "events/s/worker", "vs q0", "changes"
    );
    let mut q0 = None;
    for query in QUERIES {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == query.name))
        {
            continue;
        }
        let (rate, changes) = if kafka {
            let (rate, changes) = run_to_kafka(query, &steps, workers);
            (rate, changes.to_string())
        } else {
            (run(&program(query), &steps, workers), "-".to_string())
        };
        let base = *q0.get_or_insert(rate);
        println!(
            "{:>5} {rate:>14.0} {:>18.0} {:>8.3} {changes:>12}",
            query.name,
            rate / workers as f64,
            rate / base
        );
    }
    for (name, why) in NOT_SUPPORTED {
        println!("{name:>5}  not run: {why}");
    }
}
