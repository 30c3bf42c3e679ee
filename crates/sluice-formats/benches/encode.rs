//! Encoder throughput on a 6-column view, against a serde_json baseline measured in the same run.
//!
//! Run with `cargo bench -p sluice-formats --bench encode`. Each figure is the best of three passes over
//! 1,000,000 rows fed in steps of 10,000; every message is handed to a sink that takes ownership of it, as the
//! transport does.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime};
use serde::Serialize;
use sluice_data::{Decimal, Field, Relation, Row, SqlType, Value, F64};
use sluice_formats::{build_encoder, EncodedMessage, MessageLimits};
use sluice_types::{CsvEncoderConfig, FormatConfig, JsonEncoderConfig};

const ROWS: usize = 1_000_000;
const STEP: usize = 10_000;
const PASSES: usize = 3;

/// The typed form of a row, as a hand-written Rust program would hold it for serde.
#[derive(Serialize)]
struct TypedRow {
    id: i64,
    name: String,
    price: f64,
    /// serde_json has no exact decimal without its `arbitrary_precision` feature, so the baseline writes a float.
    amount: f64,
    ts: NaiveDateTime,
    active: bool,
}

#[derive(Serialize)]
struct Insert<'a> {
    insert: &'a TypedRow,
}

fn view() -> Relation {
    Relation::new(
        "orders",
        vec![
            Field::new("id", SqlType::BigInt, false),
            Field::new("name", SqlType::Varchar { length: Some(20) }, false),
            Field::new("price", SqlType::Double, false),
            Field::new(
                "amount",
                SqlType::Decimal {
                    precision: 10,
                    scale: 2,
                },
                false,
            ),
            Field::new("ts", SqlType::Timestamp, false),
            Field::new("active", SqlType::Boolean, false),
        ],
    )
}

/// The `n`th row's values: a 12-character name, a two-decimal price and amount, timestamps with milliseconds.
fn values(n: usize) -> (i64, String, f64, i64, i64, bool) {
    let n = n as i64;
    let cents = (n * 7_919) % 10_000_000;
    (
        n,
        format!("customer{:04}", n % 10_000),
        (n % 100_000) as f64 * 0.37 + 0.01,
        cents,
        1_700_000_000_000_000 + n * 1_234_000,
        n % 3 == 0,
    )
}

fn dynamic_rows() -> Vec<(Row, i64)> {
    (0..ROWS)
        .map(|n| {
            let (id, name, price, cents, ts, active) = values(n);
            let amount = Decimal::new(i128::from(cents), 2).unwrap();
            let row = Row(vec![
                Value::BigInt(id),
                Value::String(name),
                Value::Double(F64(price)),
                Value::Decimal(amount),
                Value::Timestamp(ts),
                Value::Bool(active),
            ]);
            (row, 1)
        })
        .collect()
}

fn typed_rows() -> Vec<TypedRow> {
    (0..ROWS)
        .map(|n| {
            let (id, name, price, cents, ts, active) = values(n);
            TypedRow {
                id,
                name,
                price,
                amount: cents as f64 / 100.0,
                ts: DateTime::from_timestamp_micros(ts).unwrap().naive_utc(),
                active,
            }
        })
        .collect()
}

/// Records, messages and payload bytes of one pass.
#[derive(Default)]
struct Totals {
    records: usize,
    messages: usize,
    bytes: usize,
}

impl Totals {
    fn take(&mut self, m: EncodedMessage) {
        self.records += m.records;
        self.messages += 1;
        self.bytes += m.value.len();
        black_box(m);
    }
}

/// Runs `pass` [`PASSES`] times and keeps the fastest.
fn best(mut pass: impl FnMut() -> Totals) -> (Duration, Totals) {
    let mut result: Option<(Duration, Totals)> = None;
    for _ in 0..PASSES {
        let start = Instant::now();
        let totals = pass();
        let elapsed = start.elapsed();
        if result
            .as_ref()
            .is_none_or(|(fastest, _)| elapsed < *fastest)
        {
            result = Some((elapsed, totals));
        }
    }
    result.unwrap()
}

fn ours(format: &FormatConfig, delta: &[(Row, i64)]) -> (Duration, Totals) {
    let limits = MessageLimits {
        max_message_bytes: 1_000_000,
    };
    best(|| {
        let mut encoder = build_encoder(format, &view(), limits).unwrap();
        let mut totals = Totals::default();
        for step in delta.chunks(STEP) {
            let errors = encoder
                .encode(step, &mut |m| {
                    totals.take(m);
                    Ok(())
                })
                .unwrap();
            assert!(errors.is_empty());
        }
        totals
    })
}

fn baseline(rows: &[TypedRow]) -> (Duration, Totals) {
    best(|| {
        let mut totals = Totals::default();
        let mut buf = Vec::new();
        for row in rows {
            buf.clear();
            serde_json::to_writer(&mut buf, &Insert { insert: row }).unwrap();
            totals.take(EncodedMessage {
                key: None,
                value: buf.clone(),
                records: 1,
            });
        }
        totals
    })
}

/// Prints one line and returns the records per second.
fn report(label: &str, (elapsed, totals): (Duration, Totals)) -> f64 {
    let secs = elapsed.as_secs_f64();
    let rate = totals.records as f64 / secs;
    println!(
        "{label:<44} {:>6.2} M records/s {:>8.1} MB/s   ({} messages, {:.1} bytes/record, {:.3} s)",
        rate / 1e6,
        totals.bytes as f64 / secs / 1e6,
        totals.messages,
        totals.bytes as f64 / totals.records as f64,
        secs,
    );
    rate
}

fn main() {
    let delta = dynamic_rows();
    let typed = typed_rows();
    println!(
        "{ROWS} rows of (BIGINT, VARCHAR(20) ~12 chars, DOUBLE, DECIMAL(10,2), TIMESTAMP, BOOLEAN), steps of {STEP}, \
         best of {PASSES}"
    );
    let json = |buffer_size_records| {
        FormatConfig::Json(JsonEncoderConfig {
            buffer_size_records,
            ..JsonEncoderConfig::default()
        })
    };
    let csv = |buffer_size_records| {
        FormatConfig::Csv(CsvEncoderConfig {
            buffer_size_records,
            ..CsvEncoderConfig::default()
        })
    };
    let json_1 = report(
        "json insert_delete, 1 record/message",
        ours(&json(1), &delta),
    );
    let json_100 = report(
        "json insert_delete, 100 records/message",
        ours(&json(100), &delta),
    );
    report("csv, 1 record/message", ours(&csv(1), &delta));
    report("csv, 100 records/message", ours(&csv(100), &delta));
    let base = report(
        "baseline serde_json typed struct, 1/message",
        baseline(&typed),
    );
    println!(
        "ratio ours/baseline, json 1 record/message:    {:.2}x",
        json_1 / base
    );
    println!(
        "ratio ours/baseline, json 100 records/message: {:.2}x",
        json_100 / base
    );
}
