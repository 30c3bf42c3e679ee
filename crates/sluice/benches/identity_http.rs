//! The simplest pipeline as a user runs it, against Kafka itself in the same run: HTTP ingress (NDJSON
//! `insert_delete`, 6 columns) → `SELECT *` view → `kafka_output`, counted by a consumer, against a raw librdkafka
//! producer sending the very messages the pipeline wrote to the same broker. Not a test:
//! `scripts/broker.sh start && cargo bench -p sluice --bench identity_http`.
//!
//! The server is the release `sluice serve` binary of this build, in a process of its own, with its defaults (SQLite,
//! `at_least_once` fault tolerance with its journal, 2 workers); the pipeline is made through Feldera's current API
//! with the connector declared in SQL (JSON `insert_delete`, one record per message, the connector's default
//! producer options), onto a fresh single-partition topic. `SLUICE_BENCH_RECORDS` records (default 1,000,000) are
//! posted in bodies of 10,000 by 4 concurrent HTTP clients (reqwest, keep-alive); the timer runs from the first
//! request until a consumer that subscribed before it has read every message of the topic. The baseline then
//! sends the same messages (read back from that topic) with an rdkafka `ThreadedProducer` on librdkafka's defaults
//! to a fresh topic and is timed until every delivery was acknowledged. Three rounds each, alternating; best
//! of each and their ratio are printed. Broker: `SLUICE_KAFKA_BROKERS` (default `127.0.0.1:19092`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use serde_json::json;
use sluice_transports::kafka_tools::create_topic;

const BODY_RECORDS: usize = 10_000;
const CLIENTS: usize = 4;
const ROUNDS: usize = 3;

fn brokers() -> String {
    std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

fn records() -> usize {
    std::env::var("SLUICE_BENCH_RECORDS")
        .ok()
        .map(|n| n.parse().expect("SLUICE_BENCH_RECORDS: a number"))
        .unwrap_or(1_000_000)
}

/// A fresh topic name.
fn topic(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("bench-identity-{what}-{nanos}")
}

/// `sluice serve` on `port`, its data in `dir`; killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(dir)
        .env_remove("SLUICE_DATABASE_URL")
        .env("SLUICE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sluice serve");
    Server(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The NDJSON bodies of `n` records, `BODY_RECORDS` per body; kept for the whole run, so sending one copies nothing.
fn bodies(n: usize) -> Vec<&'static [u8]> {
    (0..n)
        .collect::<Vec<_>>()
        .chunks(BODY_RECORDS)
        .map(|ids| {
            ids.iter()
                .map(|&i| {
                    json!({"insert": {
                        "id": i, "qty": i % 97, "price": (i % 1000) as f64 / 4.0,
                        "name": format!("item-{:08}", i % 100_000), "at": "2026-12-04 10:11:12",
                        "ok": i % 3 == 0
                    }})
                    .to_string()
                        + "\n"
                })
                .collect::<String>()
        })
        .map(|body| &*Box::leak(body.into_bytes().into_boxed_slice()))
        .collect()
}

/// Counts the messages of `topic` (partition 0) until `n`, keeping their payloads; the consumer is assigned before
/// this returns the handle, so nothing written after is missed.
fn count(topic: &str, n: usize) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).expect("assign");
    std::thread::spawn(move || {
        let mut payloads = Vec::with_capacity(n);
        let deadline = Instant::now() + Duration::from_secs(600);
        while payloads.len() < n {
            assert!(
                Instant::now() < deadline,
                "read {} of {n} messages",
                payloads.len()
            );
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                payloads.push(m.payload().unwrap_or_default().to_vec());
            }
        }
        payloads
    })
}

/// One pipeline run: records/s from the first request to the last message read, and the messages.
fn pipeline_round(
    rt: &tokio::runtime::Runtime,
    bodies: &[&'static [u8]],
    n: usize,
) -> (f64, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = serve(dir.path(), port);
    let base = format!("http://127.0.0.1:{port}");
    let out = topic("out");
    create_topic(&brokers(), &out, 1).expect("create topic");
    let connector = json!([{
        "transport": {"name": "kafka_output", "config": {"bootstrap.servers": brokers(), "topic": out}},
        "format": {"name": "json", "config": {"update_format": "insert_delete"}}
    }]);
    let program = format!(
        "CREATE TABLE t (id BIGINT NOT NULL, qty INT, price DOUBLE, name VARCHAR, at TIMESTAMP, ok BOOLEAN);\n\
         CREATE VIEW v WITH ('connectors' = '{connector}') AS SELECT * FROM t;"
    );
    let client = reqwest::Client::new();
    let reader = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let put = client
            .put(format!("{base}/v0/pipelines/idb"))
            .json(
                &json!({"name": "idb", "program_code": program, "runtime_config": {"workers": 2}}),
            )
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "{}", put.text().await.unwrap());
        let start = client
            .post(format!("{base}/v0/pipelines/idb/start"))
            .send()
            .await
            .unwrap();
        assert!(
            start.status().is_success(),
            "{}",
            start.text().await.unwrap()
        );
        loop {
            let p: serde_json::Value = client
                .get(format!("{base}/v0/pipelines/idb?selector=status"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if p["deployment_status"] == "Running" {
                break;
            }
            assert!(Instant::now() < deadline, "the pipeline did not start: {p}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        count(&out, n)
    });
    let started = Instant::now();
    rt.block_on(async {
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let (client, next, base) = (client.clone(), next.clone(), base.clone());
            let bodies = bodies.to_vec();
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&body) = bodies.get(i) else { return };
                    let r = client
                        .post(format!("{base}/v0/pipelines/idb/ingress/t?format=json"))
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let messages = reader.join().expect("the reader");
    let rate = n as f64 / started.elapsed().as_secs_f64();
    (rate, messages)
}

/// Counts acknowledged deliveries.
struct Acks(Arc<std::sync::atomic::AtomicUsize>);

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        result.as_ref().expect("a delivery failed");
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The raw producer: messages/s until every one is acknowledged.
fn producer_round(messages: &[Vec<u8>]) -> f64 {
    let to = topic("raw");
    create_topic(&brokers(), &to, 1).expect("create topic");
    let acks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let producer: ThreadedProducer<Acks> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create_with_context(Acks(acks.clone()))
        .expect("producer");
    let started = Instant::now();
    for m in messages {
        let mut record = BaseRecord::to(&to).partition(0).payload(m.as_slice());
        loop {
            match producer.send::<(), _>(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    }
    while acks.load(std::sync::atomic::Ordering::Relaxed) < messages.len() {
        std::thread::sleep(Duration::from_micros(200));
    }
    messages.len() as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let n = records();
    let bodies = bodies(n);
    let bytes: usize = bodies.iter().map(|b| b.len()).sum();
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "identity pipeline: {n} records in {} bodies of {BODY_RECORDS} ({:.1} MB), {CLIENTS} HTTP clients, broker {}",
        bodies.len(),
        bytes as f64 / 1e6,
        brokers()
    );
    let (mut best_pipeline, mut best_raw) = (0f64, 0f64);
    for round in 1..=ROUNDS {
        let (rate, messages) = pipeline_round(&rt, &bodies, n);
        assert_eq!(messages.len(), n);
        let size = messages.iter().map(Vec::len).sum::<usize>() as f64 / n as f64;
        let raw = producer_round(&messages);
        println!(
            "round {round}: pipeline {rate:>10.0} records/s   raw producer {raw:>10.0} msg/s   ratio {:.3}   ({size:.1} bytes/message)",
            rate / raw
        );
        best_pipeline = best_pipeline.max(rate);
        best_raw = best_raw.max(raw);
    }
    println!(
        "best: pipeline {best_pipeline:.0} records/s, raw producer {best_raw:.0} msg/s, ratio {:.3}",
        best_pipeline / best_raw
    );
}
