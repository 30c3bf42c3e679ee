//! Encoder throughput on a 6-column view for every envelope, against typed serde_json baselines (and, for Avro,
//! the `apache-avro` crate serializing a typed struct) measured in the same run.
//!
//! Run with `cargo bench -p sluice-formats --bench encode`. Each figure is the best of three passes over
//! 1,000,000 rows fed in steps of 10,000; every message is handed to a sink that takes ownership of it, as the
//! transport does. The baselines write the same records with serde_json into buffers reused across messages, so
//! they allocate nothing per message: a ceiling, not a straw man.

use std::hint::black_box;
use std::time::{Duration, Instant};

use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use chrono::{DateTime, NaiveDateTime};
use serde::Serialize;
use sluice_data::{Decimal, Field, Relation, Row, SqlType, Value, F64};
use sluice_formats::{avro_schemas, build_encoder, BatchInfo, EncodedMessage, MessageLimits};
use sluice_types::{
    AvroEncoderConfig, AvroUpdateFormat, CsvEncoderConfig, FormatConfig, JsonEncoderConfig,
    JsonFlavor, JsonUpdateFormat, KeyFormat,
};

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

/// The typed form of a row for `apache-avro`'s serde writer: the decimal as its unscaled two's complement bytes,
/// the timestamp as microseconds (the generated schema's `timestamp-micros`).
#[derive(Serialize)]
struct AvroRow {
    id: i64,
    name: String,
    price: f64,
    amount: apache_avro::Decimal,
    ts: i64,
    active: bool,
}

#[derive(Serialize)]
struct AvroKey {
    id: i64,
}

fn avro_rows() -> Vec<AvroRow> {
    (0..ROWS)
        .map(|n| {
            let (id, name, price, cents, ts, active) = values(n);
            let bytes = cents.to_be_bytes();
            // The fewest bytes that keep the sign (cents are positive here).
            let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
            let skip = if bytes[skip] & 0x80 != 0 {
                skip - 1
            } else {
                skip
            };
            AvroRow {
                id,
                name,
                price,
                amount: apache_avro::Decimal::from(&bytes[skip..]),
                ts,
                active,
            }
        })
        .collect()
}

/// `apache-avro` writing the typed rows with `schema` (Sluice's generated one, so the bytes are the same) behind a
/// Confluent header, into reused buffers; with `key`, also the key record `{id}`.
fn avro_baseline(rows: &[AvroRow], schema: &Schema, key: Option<&Schema>) -> (Duration, Totals) {
    let values = GenericDatumWriter::builder(schema)
        .validate(false)
        .build()
        .unwrap();
    let keys = key.map(|k| {
        GenericDatumWriter::builder(k)
            .validate(false)
            .build()
            .unwrap()
    });
    best(|| {
        let mut totals = Totals::default();
        let (mut k, mut v) = (Vec::new(), Vec::new());
        for row in rows {
            k.clear();
            v.clear();
            v.extend_from_slice(&[0, 0, 0, 0, 0]);
            values.write_ser(&mut v, row).unwrap();
            if let Some(keys) = &keys {
                k.extend_from_slice(&[0, 0, 0, 0, 0]);
                keys.write_ser(&mut k, &AvroKey { id: row.id }).unwrap();
            }
            totals.written(&k, &v);
        }
        totals
    })
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
        self.bytes += m.size();
        black_box(m);
    }

    /// A baseline message written into reused buffers: counted, never copied.
    fn written(&mut self, key: &[u8], value: &[u8]) {
        self.records += 1;
        self.messages += 1;
        self.bytes += key.len() + value.len();
        black_box((key, value));
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

fn ours(format: &FormatConfig, steps: &[Vec<(Row, i64)>]) -> (Duration, Totals) {
    let limits = MessageLimits {
        max_message_bytes: 1_000_000,
    };
    best(|| {
        let mut encoder = build_encoder(format, &view(), limits).unwrap();
        let mut totals = Totals::default();
        for (n, step) in steps.iter().enumerate() {
            encoder.begin_batch(BatchInfo {
                pipeline: "bench",
                step: n as u64,
                snapshot: false,
            });
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

/// The insert-only steps: every row once.
fn inserts(delta: &[(Row, i64)]) -> Vec<Vec<(Row, i64)>> {
    delta.chunks(STEP).map(<[_]>::to_vec).collect()
}

/// Update steps for the keyed envelopes: each step replaces the rows of [`STEP`] ids (a delete of the old row and
/// an insert of the new one with the same id), so every message is an update.
fn updates(delta: &[(Row, i64)]) -> Vec<Vec<(Row, i64)>> {
    delta
        .chunks(STEP)
        .map(|chunk| {
            let mut step = Vec::with_capacity(2 * chunk.len());
            for (row, _) in chunk {
                let mut old = row.clone();
                old.0[5] = Value::Bool(!matches!(row.0[5], Value::Bool(true)));
                step.push((old, -1));
                step.push((row.clone(), 1));
            }
            step
        })
        .collect()
}

#[derive(Serialize)]
struct Key {
    id: i64,
}

#[derive(Serialize)]
struct Source<'a> {
    version: &'a str,
    connector: &'a str,
    name: &'a str,
    ts_ms: i64,
    snapshot: &'a str,
    db: &'a str,
    table: &'a str,
    step: u64,
}

#[derive(Serialize)]
struct Payload<'a> {
    before: Option<&'a TypedRow>,
    after: Option<&'a TypedRow>,
    source: Source<'a>,
    op: &'a str,
    ts_ms: i64,
}

#[derive(Serialize)]
struct Envelope<T> {
    payload: T,
}

/// The typed serde_json program a user would write for one envelope, into buffers reused across messages.
#[derive(Clone, Copy)]
enum Baseline {
    /// `{"insert":row}`, no key.
    InsertDelete,
    /// key `{"id":..}`, value the row.
    Upsert,
    /// key `{"payload":{"id":..}}`, value the Debezium payload with both images.
    Debezium,
}

fn baseline(rows: &[TypedRow], kind: Baseline) -> (Duration, Totals) {
    best(|| {
        let mut totals = Totals::default();
        let (mut key, mut value) = (Vec::new(), Vec::new());
        for (n, row) in rows.iter().enumerate() {
            key.clear();
            value.clear();
            match kind {
                Baseline::InsertDelete => {
                    serde_json::to_writer(&mut value, &Insert { insert: row }).unwrap()
                }
                Baseline::Upsert => {
                    serde_json::to_writer(&mut key, &Key { id: row.id }).unwrap();
                    serde_json::to_writer(&mut value, row).unwrap();
                }
                Baseline::Debezium => {
                    let payload = Key { id: row.id };
                    serde_json::to_writer(&mut key, &Envelope { payload }).unwrap();
                    let payload = Payload {
                        before: Some(row),
                        after: Some(row),
                        source: Source {
                            version: "0",
                            connector: "sluice",
                            name: "bench",
                            ts_ms: 1_764_000_000_000,
                            snapshot: "false",
                            db: "bench",
                            table: "orders",
                            step: (n / STEP) as u64,
                        },
                        op: "u",
                        ts_ms: 1_764_000_000_000,
                    };
                    serde_json::to_writer(&mut value, &Envelope { payload }).unwrap();
                }
            }
            totals.written(&key, &value);
        }
        totals
    })
}

/// Prints one line and returns the records per second.
fn report(label: &str, (elapsed, totals): (Duration, Totals)) -> f64 {
    let secs = elapsed.as_secs_f64();
    let rate = totals.records as f64 / secs;
    println!(
        "{label:<48} {:>6.2} M records/s {:>8.1} MB/s   ({} messages, {:.1} bytes/record, {:.3} s)",
        rate / 1e6,
        totals.bytes as f64 / secs / 1e6,
        totals.messages,
        totals.bytes as f64 / totals.records as f64,
        secs,
    );
    rate
}

fn json(config: JsonEncoderConfig) -> FormatConfig {
    FormatConfig::Json(config)
}

fn keyed(update_format: JsonUpdateFormat) -> JsonEncoderConfig {
    JsonEncoderConfig {
        update_format,
        key_fields: Some(vec!["id".into()]),
        ..JsonEncoderConfig::default()
    }
}

fn main() {
    let delta = dynamic_rows();
    let typed = typed_rows();
    let (inserts, updates) = (inserts(&delta), updates(&delta));
    println!(
        "{ROWS} rows of (BIGINT, VARCHAR(20) ~12 chars, DOUBLE, DECIMAL(10,2), TIMESTAMP, BOOLEAN), steps of {STEP}, \
         best of {PASSES}; update runs: each step replaces {STEP} rows by id"
    );
    println!("baselines: typed serde_json structs written into reused buffers, nothing copied or allocated per message");
    let base_insert = report(
        "baseline serde_json {\"insert\":row}",
        baseline(&typed, Baseline::InsertDelete),
    );
    let base_upsert = report(
        "baseline serde_json key + row",
        baseline(&typed, Baseline::Upsert),
    );
    let base_debezium = report(
        "baseline serde_json debezium key + payload (u)",
        baseline(&typed, Baseline::Debezium),
    );
    let mut ratios = Vec::new();
    let mut run = |label: &str, format: FormatConfig, steps: &[Vec<(Row, i64)>], base: f64| {
        let rate = report(label, ours(&format, steps));
        ratios.push((label.to_string(), rate / base));
    };
    run(
        "json insert_delete, 1 record/message",
        json(JsonEncoderConfig::default()),
        &inserts,
        base_insert,
    );
    run(
        "json insert_delete keyed by id",
        json(keyed(JsonUpdateFormat::InsertDelete)),
        &inserts,
        base_insert,
    );
    run(
        "json raw",
        json(JsonEncoderConfig {
            update_format: JsonUpdateFormat::Raw,
            ..JsonEncoderConfig::default()
        }),
        &inserts,
        base_upsert,
    );
    run(
        "json upsert keyed by id, inserts",
        json(keyed(JsonUpdateFormat::Upsert)),
        &inserts,
        base_upsert,
    );
    run(
        "json upsert keyed by id, updates",
        json(keyed(JsonUpdateFormat::Upsert)),
        &updates,
        base_upsert,
    );
    run(
        "json debezium keyed by id, updates, no schema",
        json(JsonEncoderConfig {
            json_flavor: Some(JsonFlavor::Default),
            ..keyed(JsonUpdateFormat::Debezium)
        }),
        &updates,
        base_debezium,
    );
    run(
        "json debezium keyed by id, updates, with schema",
        json(keyed(JsonUpdateFormat::Debezium)),
        &updates,
        base_debezium,
    );
    run(
        "json insert_delete + 2 header_fields + system",
        json(JsonEncoderConfig {
            header_fields: vec!["id".into(), "name".into()],
            system_headers: true,
            ..JsonEncoderConfig::default()
        }),
        &inserts,
        base_insert,
    );
    run(
        "csv, 1 record/message",
        FormatConfig::Csv(CsvEncoderConfig::default()),
        &inserts,
        base_insert,
    );
    run(
        "csv plain rows keyed by id (text)",
        FormatConfig::Csv(CsvEncoderConfig {
            weight_column: false,
            key_fields: Some(vec!["id".into()]),
            key_format: KeyFormat::Text,
            ..CsvEncoderConfig::default()
        }),
        &inserts,
        base_upsert,
    );
    run(
        "json insert_delete, 100 records/message",
        json(JsonEncoderConfig {
            buffer_size_records: 100,
            ..JsonEncoderConfig::default()
        }),
        &inserts,
        base_insert,
    );
    let avro = |update_format, key_fields: Option<Vec<String>>| AvroEncoderConfig {
        update_format,
        key_fields,
        ..AvroEncoderConfig::default()
    };
    let raw = avro(AvroUpdateFormat::Raw, None);
    let upsert = avro(AvroUpdateFormat::ConfluentJdbc, Some(vec!["id".into()]));
    let (value_schema, _) = avro_schemas(&raw, &view()).unwrap();
    let (_, key_schema) = avro_schemas(&upsert, &view()).unwrap();
    let value_schema = Schema::parse_str(&value_schema).unwrap();
    let key_schema = Schema::parse_str(&key_schema.unwrap()).unwrap();
    let typed_avro = avro_rows();
    let base_avro = report(
        "baseline apache-avro typed row",
        avro_baseline(&typed_avro, &value_schema, None),
    );
    let base_avro_keyed = report(
        "baseline apache-avro typed key + row",
        avro_baseline(&typed_avro, &value_schema, Some(&key_schema)),
    );
    drop(typed_avro);
    run(
        "avro raw (op header)",
        FormatConfig::Avro(Box::new(raw)),
        &inserts,
        base_avro,
    );
    run(
        "avro confluent_jdbc keyed by id, inserts",
        FormatConfig::Avro(Box::new(upsert.clone())),
        &inserts,
        base_avro_keyed,
    );
    run(
        "avro confluent_jdbc keyed by id, updates",
        FormatConfig::Avro(Box::new(upsert)),
        &updates,
        base_avro_keyed,
    );
    println!();
    println!("records/s relative to the baseline of the same envelope (target >= 0.50x):");
    for (label, ratio) in ratios {
        println!("  {label:<48} {ratio:.2}x");
    }
}
