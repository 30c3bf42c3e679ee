//! What exactly-once Kafka output costs: its two modes against `at_least_once`, on the same pipeline and broker,
//! measured in one run.
//!
//! Run: `scripts/broker.sh start && cargo bench -p sluice-pipeline --bench exactly_once` (broker address from
//! `SLUICE_KAFKA_BROKERS`, default `127.0.0.1:19092`; Apache Kafka, which has transactions).
//!
//! The pipeline: a keyed projection, `SELECT id, k, v FROM t`, into a 3-partition topic as Debezium JSON keyed by
//! `k` (the key is what exactly-once has to keep).
//!
//! 1. Throughput: 1,000,000 records in calls of 5,000, timed from the first call until a checkpoint requested
//!    after the last one is committed — every message acknowledged, and committed (transactions) or covered by a
//!    checkpoint (all modes). Checkpoint interval 2 s in every mode. One warm-up run (not counted: the first run
//!    of a process is slower), then three rounds with the modes taking turns; best of 3 and median; ratios to
//!    `at_least_once`.
//! 2. End-to-end latency at 10,000 records/s: 100 records every 10 ms for 10 s, each carrying its ingest time; a
//!    `read_committed` consumer (librdkafka's default) takes the difference when it reads the message. p50 / p99.
//!    Transactions with a 1 s and a 5 s checkpoint interval: their output is visible when the checkpoint commits.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::json;
use sluice_data::{Row, Value};
use sluice_pipeline::durable::{DurableConfig, ExactlyOnceConfig};
use sluice_pipeline::{ControllerConfig, OutputSpec, Pipeline, PipelineSpec};
use sluice_sql::Program;
use sluice_transports::kafka_tools;
use sluice_types::ConnectorConfig;

/// The allocator the `sluice` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PROGRAM: &str = "CREATE TABLE t (id BIGINT NOT NULL, k BIGINT NOT NULL, v VARCHAR NOT NULL);
CREATE VIEW v AS SELECT id, k, v FROM t;";
const RECORDS: u64 = 1_000_000;
const CALL: u64 = 5_000;
const TIMEOUT: Duration = Duration::from_secs(600);

fn brokers() -> String {
    std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

/// The delivery of one measurement: `at_least_once`, or exactly once in a mode.
#[derive(Clone, Copy)]
enum Delivery {
    AtLeastOnce,
    ExactlyOnce(&'static str),
}

impl Delivery {
    fn name(self) -> &'static str {
        match self {
            Delivery::AtLeastOnce => "at_least_once",
            Delivery::ExactlyOnce(mode) => mode,
        }
    }
}

fn start(topic: &str, delivery: Delivery, interval: Duration, state: &std::path::Path) -> Pipeline {
    let mut transport = json!({"bootstrap.servers": brokers(), "topic": topic});
    if let Delivery::ExactlyOnce(mode) = delivery {
        transport["fault_tolerance"] = json!({"mode": mode});
    }
    let config: ConnectorConfig = serde_json::from_value(json!({
        "transport": {"name": "kafka_output", "config": transport},
        "format": {"name": "json", "config": {"update_format": "debezium", "key_fields": ["k"]}}
    }))
    .unwrap();
    let spec = PipelineSpec {
        name: "bench".into(),
        program: Program::compile(PROGRAM).unwrap(),
        config: ControllerConfig {
            max_buffered_records: RECORDS,
            ..ControllerConfig::default()
        },
        inputs: Vec::new(),
        outputs: vec![OutputSpec {
            name: "out".into(),
            view: "v".into(),
            config,
        }],
        durable: Some(DurableConfig {
            state_dir: state.to_path_buf(),
            checkpoint_interval: interval,
            program_fingerprint: "bench".into(),
            exactly_once: matches!(delivery, Delivery::ExactlyOnce(_)).then(|| ExactlyOnceConfig {
                scope: format!("bench-{:08x}", rand::random::<u32>()),
            }),
        }),
    };
    Pipeline::start(spec, false).unwrap()
}

fn rows(from: u64, n: u64, v: impl Fn(u64) -> String) -> Vec<(Row, i64)> {
    (from..from + n)
        .map(|i| {
            let row = Row::new(vec![
                Value::BigInt(i as i64),
                Value::BigInt((i % 1_000) as i64),
                Value::from(v(i)),
            ]);
            (row, 1)
        })
        .collect()
}

fn topic() -> String {
    let topic = format!("bench-eo-{:08x}", rand::random::<u32>());
    kafka_tools::create_topic(&brokers(), &topic, 3).unwrap();
    topic
}

/// Records per second, first call to a committed checkpoint after the last.
fn throughput(delivery: Delivery) -> f64 {
    let topic = topic();
    let state = tempfile::tempdir().unwrap();
    let p = start(&topic, delivery, Duration::from_secs(2), state.path());
    let started = Instant::now();
    for call in 0..RECORDS / CALL {
        p.ingest(
            "t",
            rows(call * CALL, CALL, |i| format!("value-{i:08}")),
            0,
            TIMEOUT,
        )
        .unwrap();
    }
    while p.stats().global_metrics.total_processed_records < RECORDS {
        std::thread::sleep(Duration::from_millis(1));
    }
    let sequence = p.checkpoint().unwrap();
    let status = p.wait_for_checkpoint(sequence, TIMEOUT).unwrap();
    assert!(status.success.is_some_and(|s| s >= sequence), "{status:?}");
    let elapsed = started.elapsed();
    let s = p.stats();
    let o = &s.outputs[0];
    assert_eq!(o.transport.transmitted_records, RECORDS, "{o:?}");
    if let Some(eo) = &o.exactly_once {
        println!(
            "    {}: {} transactions committed, committed step {}",
            eo.mode, eo.transactions_committed, eo.committed_step
        );
    }
    p.shutdown(TIMEOUT).unwrap();
    let _ = kafka_tools::delete_topic(&brokers(), &topic);
    RECORDS as f64 / elapsed.as_secs_f64()
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// p50 and p99 of ingest-to-consumer latency at 10,000 records/s.
fn latency(delivery: Delivery, interval: Duration) -> (Duration, Duration) {
    const RATE_BATCH: u64 = 100;
    const BATCHES: u64 = 1_000;
    let topic = topic();
    let state = tempfile::tempdir().unwrap();
    let p = start(&topic, delivery, interval, state.path());
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", "bench-eo-latency")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for part in 0..3 {
        tpl.add_partition_offset(&topic, part, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let reader = std::thread::spawn(move || {
        let mut latencies = Vec::new();
        let deadline = Instant::now() + TIMEOUT;
        while (latencies.len() as u64) < RATE_BATCH * BATCHES && Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                let value: serde_json::Value =
                    serde_json::from_slice(m.payload().unwrap_or_default()).unwrap();
                let sent: u64 = value["payload"]["after"]["v"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .expect("the ingest time");
                latencies.push(Duration::from_micros(now_us().saturating_sub(sent)));
            }
        }
        latencies
    });
    let started = Instant::now();
    for batch in 0..BATCHES {
        let due = started + Duration::from_millis(10 * batch);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        p.ingest(
            "t",
            rows(batch * RATE_BATCH, RATE_BATCH, |_| now_us().to_string()),
            0,
            TIMEOUT,
        )
        .unwrap();
    }
    let mut latencies = reader.join().unwrap();
    p.shutdown(TIMEOUT).unwrap();
    let _ = kafka_tools::delete_topic(&brokers(), &topic);
    assert_eq!(
        latencies.len() as u64,
        RATE_BATCH * BATCHES,
        "not every message arrived"
    );
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

fn main() {
    println!(
        "Exactly-once Kafka output vs at_least_once (broker {})",
        brokers()
    );
    println!("1. Throughput: {RECORDS} records, keyed projection, 3 partitions, checkpoint every 2 s, one warm-up run, then 3 rounds");
    let modes = [
        Delivery::AtLeastOnce,
        Delivery::ExactlyOnce("markers"),
        Delivery::ExactlyOnce("transactions"),
    ];
    println!(
        "  warm-up ({}): {:.0} records/s",
        modes[0].name(),
        throughput(modes[0])
    );
    let mut runs: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for round in 0..3 {
        for d in modes {
            let r = throughput(d);
            println!("  round {round}: {:<14} {r:>10.0} records/s", d.name());
            runs.entry(d.name()).or_default().push(r);
        }
    }
    let summary = |name: &str| {
        let mut v = runs[name].clone();
        v.sort_by(f64::total_cmp);
        (v[v.len() - 1], v[v.len() / 2])
    };
    let (base_best, base_median) = summary("at_least_once");
    for d in modes {
        let (best, median) = summary(d.name());
        println!(
            "  {:<14} best {best:>10.0} records/s ({:.2}x at_least_once)  median {median:>10.0} ({:.2}x)",
            d.name(),
            best / base_best,
            median / base_median
        );
    }
    println!(
        "2. End-to-end latency at 10,000 records/s for 10 s (ingest to read_committed consumer)"
    );
    for (d, interval) in [
        (Delivery::AtLeastOnce, 1),
        (Delivery::ExactlyOnce("markers"), 1),
        (Delivery::ExactlyOnce("transactions"), 1),
        (Delivery::ExactlyOnce("transactions"), 5),
    ] {
        let (p50, p99) = latency(d, Duration::from_secs(interval));
        println!(
            "  {:<14} checkpoint every {interval} s: p50 {:>8.1} ms  p99 {:>8.1} ms",
            d.name(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
}
