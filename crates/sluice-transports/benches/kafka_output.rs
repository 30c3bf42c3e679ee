//! End-to-end `kafka_output` throughput against the local broker, with raw rdkafka as the baseline.
//!
//! Run: `scripts/broker.sh start && cargo bench -p sluice-transports --bench kafka_output`
//! (broker address from `SLUICE_KAFKA_BROKERS`, default `127.0.0.1:19092`).
//!
//! The same pre-encoded JSON messages (one record each, a 6-column row) are produced to fresh topics by:
//! - raw: an rdkafka `ThreadedProducer` with a default context, the same producer options, the same
//!   retry-on-QueueFull backoff and a final flush: the least a correct producer has to do;
//! - sluice: `KafkaOutputEndpoint::send` + `flush`, which adds acknowledgement accounting and health tracking;
//! - sluice+encode: the JSON encoder feeding the endpoint, i.e. the whole output path from a view delta.
//!
//! Each variant runs five times, interleaved (raw and Sluice alternate which goes first); the best run counts. Every run's acknowledged count is checked.

use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;
use sluice_data::{Decimal, Field, Relation, Row, SqlType, Value};
use sluice_formats::{build_encoder, MessageLimits, SinkError};
use sluice_transports::kafka_output::{effective_options, KafkaOutputEndpoint};
use sluice_transports::kafka_tools;
use sluice_types::{FormatConfig, JsonEncoderConfig, KafkaOutputConfig};

const MESSAGES: usize = 300_000;
const STEP: usize = 10_000;
const ROUNDS: usize = 5;

fn view() -> Relation {
    Relation::new(
        "bench",
        vec![
            Field::new("id", SqlType::BigInt, false),
            Field::new("name", SqlType::varchar(), false),
            Field::new("score", SqlType::Double, false),
            Field::new(
                "price",
                SqlType::Decimal {
                    precision: 10,
                    scale: 2,
                },
                false,
            ),
            Field::new("at", SqlType::Timestamp, false),
            Field::new("ok", SqlType::Boolean, false),
        ],
    )
}

fn rows() -> Vec<(Row, i64)> {
    (0..MESSAGES as i64)
        .map(|i| {
            let row = Row::new(vec![
                Value::BigInt(i),
                Value::from(format!("customer-{:04}", i % 10_000)),
                Value::from(i as f64 * 0.37),
                Value::Decimal(Decimal::new(i128::from(i % 100_000) * 7, 2).unwrap()),
                Value::Timestamp(1_700_000_000_000_000 + i * 1_000),
                Value::Bool(i % 3 == 0),
            ]);
            (row, 1)
        })
        .collect()
}

fn json() -> FormatConfig {
    FormatConfig::Json(JsonEncoderConfig::default())
}

fn encode_all(delta: &[(Row, i64)], limit: usize) -> Vec<Vec<u8>> {
    let mut encoder = build_encoder(
        &json(),
        &view(),
        MessageLimits {
            max_message_bytes: limit,
        },
    )
    .unwrap();
    let mut out = Vec::with_capacity(delta.len());
    for step in delta.chunks(STEP) {
        let errors = encoder
            .encode(step, &mut |m| {
                out.push(m.value.expect("insert_delete always has a value"));
                Ok(())
            })
            .unwrap();
        assert!(errors.is_empty());
    }
    out
}

fn fresh_topic(servers: &str, label: &str) -> String {
    let topic = format!("bench-{label}-{:08x}", rand::random::<u32>());
    kafka_tools::create_topic(servers, &topic, 1).unwrap();
    topic
}

fn raw(servers: &str, messages: &[Vec<u8>]) -> Duration {
    let topic = fresh_topic(servers, "raw");
    let mut client = ClientConfig::new();
    for (k, v) in effective_options(&KafkaOutputConfig::new(servers, &topic)) {
        client.set(k, v);
    }
    let producer: ThreadedProducer<DefaultProducerContext> = client.create().unwrap();
    // Connect and learn the topic before timing, as `KafkaOutputEndpoint::connect` does for the Sluice runs.
    producer
        .client()
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .unwrap();
    let start = Instant::now();
    for payload in messages {
        let mut record = BaseRecord::<(), [u8]>::to(&topic).payload(payload);
        // The same wait-for-room policy as the endpoint, so that the ratio measures only what Sluice adds.
        let mut backoff = Duration::from_micros(50);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(20));
                }
                Err((e, _)) => panic!("raw send failed: {e}"),
            }
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    let elapsed = start.elapsed();
    let _ = kafka_tools::delete_topic(servers, &topic);
    elapsed
}

fn endpoint(servers: &str, label: &str) -> (KafkaOutputEndpoint, String) {
    let topic = fresh_topic(servers, label);
    let endpoint =
        KafkaOutputEndpoint::new(label, &KafkaOutputConfig::new(servers, &topic)).unwrap();
    endpoint.connect().unwrap();
    (endpoint, topic)
}

fn sluice(servers: &str, messages: &[Vec<u8>]) -> Duration {
    let (endpoint, topic) = endpoint(servers, "sluice");
    let start = Instant::now();
    for payload in messages {
        endpoint.send(None, payload, 1).unwrap();
    }
    endpoint.flush(Duration::from_secs(120)).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(endpoint.stats().transmitted_messages, messages.len() as u64);
    let _ = kafka_tools::delete_topic(servers, &topic);
    elapsed
}

fn sluice_with_encoding(servers: &str, delta: &[(Row, i64)]) -> Duration {
    let (endpoint, topic) = endpoint(servers, "encode");
    let mut encoder = build_encoder(
        &json(),
        &view(),
        MessageLimits {
            max_message_bytes: endpoint.max_payload_bytes(),
        },
    )
    .unwrap();
    let start = Instant::now();
    for step in delta.chunks(STEP) {
        encoder
            .encode(step, &mut |m| {
                endpoint
                    .send(None, m.value.as_deref().unwrap(), m.records)
                    .map_err(SinkError::new)
            })
            .unwrap();
    }
    endpoint.flush(Duration::from_secs(120)).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(endpoint.stats().transmitted_messages, delta.len() as u64);
    let _ = kafka_tools::delete_topic(servers, &topic);
    elapsed
}

fn rate(d: Duration) -> f64 {
    MESSAGES as f64 / d.as_secs_f64()
}

fn main() {
    let servers =
        std::env::var("SLUICE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into());
    kafka_tools::wait_for_broker(&servers, Duration::from_secs(10))
        .expect("start the local broker first: scripts/broker.sh start");
    let delta = rows();
    let messages = encode_all(&delta, 999_000);
    let bytes: usize = messages.iter().map(Vec::len).sum();
    println!(
        "{MESSAGES} JSON messages of a 6-column row ({:.1} bytes/message) to {servers}, best of {ROUNDS}",
        bytes as f64 / MESSAGES as f64
    );
    let (mut best_raw, mut best_sluice, mut best_encode) =
        (Duration::MAX, Duration::MAX, Duration::MAX);
    for round in 0..ROUNDS {
        // Alternate which path goes first, so that neither always runs on a colder or warmer broker.
        if round % 2 == 0 {
            best_raw = best_raw.min(raw(&servers, &messages));
            best_sluice = best_sluice.min(sluice(&servers, &messages));
        } else {
            best_sluice = best_sluice.min(sluice(&servers, &messages));
            best_raw = best_raw.min(raw(&servers, &messages));
        }
        best_encode = best_encode.min(sluice_with_encoding(&servers, &delta));
    }
    let mb = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e6;
    println!(
        "raw rdkafka ThreadedProducer       {:>10.0} msg/s {:>7.1} MB/s",
        rate(best_raw),
        mb(best_raw)
    );
    println!(
        "sluice kafka_output                {:>10.0} msg/s {:>7.1} MB/s",
        rate(best_sluice),
        mb(best_sluice)
    );
    println!(
        "sluice JSON encoder + kafka_output {:>10.0} msg/s {:>7.1} MB/s",
        rate(best_encode),
        mb(best_encode)
    );
    println!(
        "ratio kafka_output / raw:            {:.3}",
        rate(best_sluice) / rate(best_raw)
    );
    println!(
        "ratio encoder+kafka_output / raw:    {:.3}",
        rate(best_encode) / rate(best_raw)
    );
}
