//! End-to-end benchmark of the pipeline runtime: `Pipeline::ingest` → controller → engine step → output connector
//! (JSON encoder) → `kafka_output` → broker acknowledgement, on the book fair program, against the local broker.
//!
//! Run: `scripts/broker.sh start && cargo bench -p sluice-pipeline --bench end_to_end`
//! (broker address from `SLUICE_KAFKA_BROKERS`, default `127.0.0.1:19092`; how the figures in
//! `docs/benchmarks.md` were built without a release build is written there).
//!
//! The program is the book fair (`total_sales` = copies and revenue per title: a join and a GROUP BY), its view
//! attached to one `kafka_output` connector (JSON `insert_delete`, one record per message, the default idempotent
//! producer with librdkafka's default 5 ms linger) on a fresh single-partition topic. The bench calls `Pipeline`
//! directly with rows already built, which is what the HTTP ingress handler does after parsing; JSON parsing and
//! HTTP are not included.
//!
//! 1. Throughput. 10,000 books are preloaded (not timed). The timer then runs from the first `ingest` of 500,000
//!    sales (500 calls of 1,000; sale `i` is for book `i % 10,000`) until every input record was stepped and the
//!    connector's acknowledged record count (`transport.transmitted_records`) equals the pipeline's view changes
//!    (`global_metrics.total_output_records`), polling `stats()` every millisecond. The controller buffers at
//!    most 10,000 input records (`max_buffered_records`; `ingest` blocks beyond that), so a step covers each book
//!    at most once and every run produces exactly 2 × 500,000 − 10,000 = 990,000 view changes (a delete and an
//!    insert per touched title, an insert only on a title's first sale), which the bench checks, as it checks
//!    that nothing failed to encode or deliver and that the topic holds exactly that many messages. With
//!    the default limit (1,000,000) the bench thread would buffer the whole input at once and the engine would
//!    coalesce it into a few giant steps with far fewer changes.
//!    Run with 1 and 2 dbsp workers, best of 2 rounds (the two variants alternate which runs first).
//! 2. Baselines, measured in the same run: (a) the same pipeline without an output connector (engine +
//!    controller; the timer stops when every input record was stepped), and (b) a raw rdkafka `ThreadedProducer`
//!    with the connector's effective librdkafka options sending the very messages the pipeline produced (read
//!    back from its topic), connected before the timer starts, waiting for room on a full local queue as the
//!    endpoint does, and flushed: the transport's ceiling (best of 5). Ratios pipeline / baseline are printed.
//! 3. Latency at 1,000 records/s: 100 `ingest` calls per second of 10 sales each (each call's books were sold
//!    once before but not by the previous call, so each call makes exactly 20 view changes), 2 s of warm-up then
//!    10 s measured, 1 worker. Per call: from just before `ingest` to the first `stats()` poll (every ~50 µs)
//!    in which the call's records are stepped and the acknowledged record count covers every view change so
//!    far. That includes the controller's wake-up (default batching: step as soon as input arrives), the step,
//!    the hand-off to the connector's thread, JSON encoding, librdkafka's linger (5 ms by default) and the
//!    broker's acknowledgement, plus up to one poll interval. Calls are sequential: a call that starts after its
//!    slot (because the previous one took longer than 10 ms) is counted as late, and latencies are also given
//!    from the scheduled slot, which corrects for the coordinated omission of the sequential client.
//!
//! A watchdog ends the bench with exit code 2 when no `stats()` call returned for 60 s: `Pipeline::stats` takes
//! the watchers lock and then the outputs lock while a step takes them in the other order, so polling stats
//! during steps can deadlock the pipeline (reproduced on 2026-11-24; see docs/benchmarks.md).

mod common;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use common::{book, loadavg, sale, BOOKS, BOOK_FAIR};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;
use serde_json::json;
use sluice_data::Row;
use sluice_pipeline::{ControllerConfig, OutputSpec, Pipeline, PipelineSpec, PipelineStats};
use sluice_sql::Program;
use sluice_transports::kafka_output::effective_options;
use sluice_transports::kafka_tools;
use sluice_types::{ConnectorConfig, KafkaOutputConfig};

/// The allocator the `sluice` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SALES: u64 = 500_000;
const CALL: u64 = 1_000;
/// Buffered input at most: one step never sees a book twice, so the number of view changes is fixed.
const MAX_BUFFERED: u64 = BOOKS;
const ROUNDS: usize = 2;
/// The raw producer needs under a second per run, so it gets more rounds.
const RAW_ROUNDS: usize = 5;
/// Every sale's changes: a delete and an insert per sale, except a book's first sale (an insert only).
const CHANGES: u64 = 2 * SALES - BOOKS;

const LATENCY_CALL: u64 = 10;
const LATENCY_INTERVAL: Duration = Duration::from_millis(10);
const LATENCY_WARMUP_CALLS: usize = 200;
const LATENCY_CALLS: usize = 1_000;
const LATENCY_POLL: Duration = Duration::from_micros(50);

const TIMEOUT: Duration = Duration::from_secs(300);
const WATCHDOG: Duration = Duration::from_secs(60);

/// `stats()` calls that returned; the watchdog checks that it moves.
static STATS_CALLS: AtomicU64 = AtomicU64::new(0);

fn kafka(servers: &str, topic: &str) -> ConnectorConfig {
    serde_json::from_value(json!({
        "transport": {"name": "kafka_output", "config": {"bootstrap.servers": servers, "topic": topic}},
        "format": {"name": "json", "config": {"update_format": "insert_delete", "array": false}}
    }))
    .unwrap()
}

fn fresh_topic(servers: &str, label: &str) -> String {
    let topic = format!("bench-e2e-{label}-{:08x}", rand::random::<u32>());
    kafka_tools::create_topic(servers, &topic, 1).unwrap();
    topic
}

fn start(name: &str, workers: usize, output: Option<ConnectorConfig>) -> Pipeline {
    let spec = PipelineSpec {
        name: name.into(),
        program: Program::compile(BOOK_FAIR).unwrap(),
        config: ControllerConfig {
            workers,
            max_buffered_records: MAX_BUFFERED,
            ..ControllerConfig::default()
        },
        inputs: Vec::new(),
        durable: None,
        outputs: output
            .map(|config| OutputSpec {
                name: "total-sales".into(),
                view: "total_sales".into(),
                config,
            })
            .into_iter()
            .collect(),
    };
    Pipeline::start(spec, false).unwrap()
}

/// Panics with the reason when the pipeline or its connector failed or lost a record.
fn check(stats: &PipelineStats) {
    let g = &stats.global_metrics;
    assert!(g.error.is_none(), "pipeline failed: {:?}", g.error);
    for o in &stats.outputs {
        assert!(
            o.fatal_error.is_none(),
            "connector failed: {:?}",
            o.fatal_error
        );
        assert_eq!(
            o.num_encode_errors, 0,
            "encode errors: {:?}",
            o.encode_errors
        );
        assert_eq!(
            o.transport.failed_records, 0,
            "records failed: {:?}",
            o.transport.transport_errors
        );
    }
}

/// Whether every ingested record was stepped and every view change acknowledged.
fn settled(stats: &PipelineStats, input: u64) -> bool {
    let g = &stats.global_metrics;
    g.total_processed_records >= input
        && stats
            .outputs
            .iter()
            .all(|o| o.transport.transmitted_records >= g.total_output_records)
}

/// Polls `stats()` every `poll` until [`settled`]; returns the last snapshot.
fn wait_settled(p: &Pipeline, input: u64, poll: Duration) -> PipelineStats {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stats = p.stats();
        STATS_CALLS.fetch_add(1, Relaxed);
        check(&stats);
        if settled(&stats, input) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "not settled after {TIMEOUT:?}: {:?}",
            stats.global_metrics
        );
        std::thread::sleep(poll);
    }
}

fn ingest(p: &Pipeline, table: &str, records: Vec<(Row, i64)>) {
    p.ingest(table, records, 0, TIMEOUT).unwrap();
}

struct Throughput {
    elapsed: Duration,
    changes: u64,
    acked_messages: u64,
    acked_bytes: u64,
    steps: u64,
}

/// One throughput run; with `topic`, the view goes to a `kafka_output` connector on it.
fn throughput(servers: &str, workers: usize, topic: Option<&str>) -> Throughput {
    let p = start("bench", workers, topic.map(|topic| kafka(servers, topic)));
    ingest(&p, "books", (0..BOOKS).map(|id| (book(id), 1)).collect());
    let before = wait_settled(&p, BOOKS, Duration::from_millis(1));
    assert_eq!(before.global_metrics.total_output_records, 0);
    // Rows are built before the timer: the HTTP handler's parsing is not part of the pipeline.
    let calls: Vec<Vec<(Row, i64)>> = (0..SALES / CALL)
        .map(|c| (c * CALL..(c + 1) * CALL).map(sale).collect())
        .collect();

    let start = Instant::now();
    for records in calls {
        ingest(&p, "sales", records);
    }
    let after = wait_settled(&p, BOOKS + SALES, Duration::from_millis(1));
    let elapsed = start.elapsed();

    let last = p.shutdown(Duration::from_secs(30)).unwrap();
    check(&last);
    let changes = after.global_metrics.total_output_records;
    assert_eq!(changes, CHANGES, "view changes");
    let (acked_messages, acked_bytes) = match last.outputs.first() {
        Some(o) => {
            assert_eq!(o.transport.transmitted_records, changes);
            (
                o.transport.transmitted_messages,
                o.transport.transmitted_bytes,
            )
        }
        None => (0, 0),
    };
    Throughput {
        elapsed,
        changes,
        acked_messages,
        acked_bytes,
        steps: after.global_metrics.steps - before.global_metrics.steps,
    }
}

/// A plain rdkafka producer sending `messages` to a fresh topic until all are acknowledged.
fn raw(servers: &str, messages: &[Vec<u8>]) -> Duration {
    let topic = fresh_topic(servers, "raw");
    let mut client = ClientConfig::new();
    for (k, v) in effective_options(&KafkaOutputConfig::new(servers, &topic)) {
        client.set(k, v);
    }
    let producer: ThreadedProducer<DefaultProducerContext> = client.create().unwrap();
    // The connector connects and checks its topic when the pipeline starts, before any timer: do the same.
    producer
        .client()
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .unwrap();
    let start = Instant::now();
    for payload in messages {
        let mut record = BaseRecord::<(), [u8]>::to(&topic).payload(payload);
        let mut backoff = Duration::from_micros(50);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(20));
                }
                Err((e, _)) => panic!("raw send failed: {e}"),
            }
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    let elapsed = start.elapsed();
    drop(producer);
    let _ = kafka_tools::delete_topic(servers, &topic);
    elapsed
}

struct Latency {
    from_call: Vec<Duration>,
    from_slot: Vec<Duration>,
    late_calls: usize,
    changes_per_call: f64,
}

fn latency(servers: &str) -> Latency {
    let topic = fresh_topic(servers, "latency");
    let p = start("latency", 1, Some(kafka(servers, &topic)));
    ingest(&p, "books", (0..BOOKS).map(|id| (book(id), 1)).collect());
    // One sale per book first, so that every later sale replaces a title's row: 2 changes per sale.
    ingest(&p, "sales", (0..BOOKS).map(sale).collect());
    let warm = wait_settled(&p, 2 * BOOKS, Duration::from_millis(1));
    let changes_before = warm.global_metrics.total_output_records;

    let total = LATENCY_WARMUP_CALLS + LATENCY_CALLS;
    let calls: Vec<Vec<(Row, i64)>> = (0..total as u64)
        .map(|c| {
            (c * LATENCY_CALL..(c + 1) * LATENCY_CALL)
                .map(sale)
                .collect()
        })
        .collect();
    let mut from_call = Vec::with_capacity(LATENCY_CALLS);
    let mut from_slot = Vec::with_capacity(LATENCY_CALLS);
    let mut late_calls = 0;
    let mut input = 2 * BOOKS;
    let mut changes_measured = 0;
    let epoch = Instant::now();
    for (c, records) in calls.into_iter().enumerate() {
        let slot = epoch + LATENCY_INTERVAL * c as u32;
        let now = Instant::now();
        if now < slot {
            std::thread::sleep(slot - now);
        } else if c >= LATENCY_WARMUP_CALLS {
            late_calls += 1;
        }
        let changes_before_call = p.stats().global_metrics.total_output_records;
        let t0 = Instant::now();
        ingest(&p, "sales", records);
        input += LATENCY_CALL;
        let stats = wait_settled(&p, input, LATENCY_POLL);
        let done = Instant::now();
        if c >= LATENCY_WARMUP_CALLS {
            from_call.push(done - t0);
            from_slot.push(done - slot);
            changes_measured += stats.global_metrics.total_output_records - changes_before_call;
        }
    }
    let last = p.shutdown(Duration::from_secs(30)).unwrap();
    check(&last);
    assert_eq!(
        last.global_metrics.total_output_records - changes_before,
        2 * LATENCY_CALL * total as u64
    );
    let _ = kafka_tools::delete_topic(servers, &topic);
    Latency {
        from_call,
        from_slot,
        late_calls,
        changes_per_call: changes_measured as f64 / LATENCY_CALLS as f64,
    }
}

fn percentiles(mut d: Vec<Duration>) -> String {
    d.sort();
    let at = |q: f64| d[((q * d.len() as f64).ceil() as usize).clamp(1, d.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "p50 {:6.2} ms  p90 {:6.2} ms  p99 {:6.2} ms  max {:6.2} ms",
        ms(at(0.50)),
        ms(at(0.90)),
        ms(at(0.99)),
        ms(d[d.len() - 1])
    )
}

/// Exits the process when no `stats()` call returned for [`WATCHDOG`] while the bench waits on a pipeline.
fn start_watchdog() {
    std::thread::spawn(|| {
        let mut last = STATS_CALLS.load(Relaxed);
        loop {
            std::thread::sleep(WATCHDOG);
            let now = STATS_CALLS.load(Relaxed);
            if now == last {
                eprintln!(
                    "no Pipeline::stats() call returned for {WATCHDOG:?}: the pipeline is stuck (stats/step lock \
                     order, see the doc comment of this bench)"
                );
                std::process::exit(2);
            }
            last = now;
        }
    });
}

fn main() {
    let servers =
        std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into());
    kafka_tools::wait_for_broker(&servers, Duration::from_secs(10))
        .expect("start the local broker first: scripts/broker.sh start");
    println!(
        "book fair end to end against {servers}: {BOOKS} books preloaded, then {SALES} sales in ingest calls of \
         {CALL} (max_buffered_records {MAX_BUFFERED}), {CHANGES} view changes to kafka_output; best of {ROUNDS} \
         (raw producer: best of {RAW_ROUNDS})"
    );
    println!("load average at start: {}", loadavg());
    start_watchdog();

    // Index 0: 1 worker, 1: 2 workers.
    let mut kafka_runs: [Option<Throughput>; 2] = [None, None];
    let mut plain_runs: [Option<Throughput>; 2] = [None, None];
    let mut kept_topic: Option<String> = None;
    let keep_best = |best: &mut Option<Throughput>, run: Throughput| {
        if best.as_ref().is_none_or(|b| run.elapsed < b.elapsed) {
            *best = Some(run);
        }
    };
    for round in 0..ROUNDS {
        for (w, workers) in [1, 2].into_iter().enumerate() {
            let mut with_kafka = || {
                let topic = fresh_topic(&servers, "pipeline");
                let run = throughput(&servers, workers, Some(&topic));
                // The last topic is kept: its messages are the raw producer's input.
                if let Some(old) = kept_topic.replace(topic) {
                    let _ = kafka_tools::delete_topic(&servers, &old);
                }
                run
            };
            let (k, n) = if round % 2 == 0 {
                let k = with_kafka();
                (k, throughput(&servers, workers, None))
            } else {
                let n = throughput(&servers, workers, None);
                (with_kafka(), n)
            };
            println!(
                "  round {} workers {workers}: pipeline+kafka {:.2} s, no output {:.2} s",
                round + 1,
                k.elapsed.as_secs_f64(),
                n.elapsed.as_secs_f64()
            );
            keep_best(&mut kafka_runs[w], k);
            keep_best(&mut plain_runs[w], n);
        }
    }

    let topic = kept_topic.unwrap();
    let messages: Vec<Vec<u8>> =
        kafka_tools::read_topic(&servers, &topic, CHANGES as usize, Duration::from_secs(120))
            .unwrap()
            .into_iter()
            .map(|m| m.payload.unwrap_or_default())
            .collect();
    let _ = kafka_tools::delete_topic(&servers, &topic);
    assert_eq!(
        messages.len() as u64,
        CHANGES,
        "the topic holds exactly the acknowledged messages"
    );
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let mut best_raw = Duration::MAX;
    for _ in 0..RAW_ROUNDS {
        best_raw = best_raw.min(raw(&servers, &messages));
    }
    let raw_rate = messages.len() as f64 / best_raw.as_secs_f64();

    let per_s = |n: u64, d: Duration| n as f64 / d.as_secs_f64();
    println!();
    println!(
        "{:<40} {:>7} {:>7} {:>6} {:>12} {:>14} {:>12}",
        "run", "workers", "time s", "steps", "input rec/s", "view chg/s", "acked msg/s"
    );
    for w in 0..2 {
        for (label, run) in [
            ("pipeline + kafka_output", kafka_runs[w].as_ref().unwrap()),
            (
                "baseline (a): no output connector",
                plain_runs[w].as_ref().unwrap(),
            ),
        ] {
            let acked = if run.acked_messages > 0 {
                format!("{:.0}", per_s(run.acked_messages, run.elapsed))
            } else {
                "-".into()
            };
            println!(
                "{label:<40} {:>7} {:>7.2} {:>6} {:>12.0} {:>14.0} {:>12}",
                w + 1,
                run.elapsed.as_secs_f64(),
                run.steps,
                per_s(SALES, run.elapsed),
                per_s(run.changes, run.elapsed),
                acked
            );
        }
    }
    println!(
        "{:<40} {:>7} {:>7.2} {:>6} {:>12} {:>14} {:>12.0}",
        "baseline (b): raw rdkafka producer",
        "-",
        best_raw.as_secs_f64(),
        "-",
        "-",
        "-",
        raw_rate
    );
    let k1 = kafka_runs[0].as_ref().unwrap();
    println!(
        "messages: {} acknowledged per run, {:.1} bytes/message (raw: the same payloads, {:.1} bytes/message)",
        k1.acked_messages,
        k1.acked_bytes as f64 / k1.acked_messages as f64,
        bytes as f64 / messages.len() as f64
    );
    println!();
    for w in 0..2 {
        let k = kafka_runs[w].as_ref().unwrap();
        let n = plain_runs[w].as_ref().unwrap();
        println!(
            "ratio, {} worker(s): pipeline+kafka / no output (input rec/s) {:.3}; pipeline acked msg/s / raw producer {:.3}",
            w + 1,
            n.elapsed.as_secs_f64() / k.elapsed.as_secs_f64(),
            per_s(k.acked_messages, k.elapsed) / raw_rate
        );
    }
    println!("load average after throughput: {}", loadavg());

    println!();
    let l = latency(&servers);
    println!(
        "latency, 1 worker, {} calls/s of {LATENCY_CALL} sales ({:.0} records/s, {:.1} view changes per call), \
         {} calls measured after {} warm-up calls, stats polled every {:?}:",
        1_000 / LATENCY_INTERVAL.as_millis(),
        LATENCY_CALL as f64 / LATENCY_INTERVAL.as_secs_f64(),
        l.changes_per_call,
        LATENCY_CALLS,
        LATENCY_WARMUP_CALLS,
        LATENCY_POLL
    );
    println!(
        "  ingest -> acknowledged by Kafka:        {}",
        percentiles(l.from_call)
    );
    println!(
        "  scheduled slot -> acknowledged by Kafka: {}",
        percentiles(l.from_slot)
    );
    println!(
        "  calls that started after their slot (previous call took > {:?}): {} of {}",
        LATENCY_INTERVAL, l.late_calls, LATENCY_CALLS
    );
    println!(
        "  includes: controller wake-up and step (join + GROUP BY), hand-off to the connector thread, JSON \
         encoding, librdkafka linger (5 ms default), broker acknowledgement, up to one stats poll"
    );
    println!("load average at end: {}", loadavg());
}
