//! Property: whatever the rows (every scalar type the encoders write, with NULLs), encoding a delta with an
//! encoder and parsing each message with the parser of the same format gives back the same (row, weight)
//! multiset: JSON `insert_delete` as NDJSON and as arrays (one entry per copy), CSV with its weights.

use proptest::prelude::*;
use sluice_data::{Decimal, Field, Relation, Row, SqlType, Value, F64};
use sluice_formats::{build_encoder, build_parser, MessageLimits};
use sluice_types::{CsvEncoderConfig, FormatConfig, JsonEncoderConfig, JsonUpdateFormat};

const NANOS_PER_DAY: u64 = 86_400_000_000_000;

/// One column of every scalar kind; `big` is NOT NULL, the rest nullable.
fn table() -> Relation {
    let nullable = |name: &str, ty: SqlType| Field::new(name, ty, true);
    Relation::new(
        "every_type",
        vec![
            nullable("b", SqlType::Boolean),
            Field::new("big", SqlType::BigInt, false),
            nullable("i", SqlType::Int),
            nullable("f", SqlType::Double),
            nullable(
                "dec",
                SqlType::Decimal {
                    precision: 10,
                    scale: 2,
                },
            ),
            nullable("s", SqlType::varchar()),
            nullable("dt", SqlType::Date),
            nullable("tm", SqlType::Time),
            nullable("ts", SqlType::Timestamp),
            nullable("bin", SqlType::Varbinary { length: None }),
        ],
    )
}

fn nullable<T: std::fmt::Debug>(
    s: impl Strategy<Value = T>,
    to_value: fn(T) -> Value,
) -> impl Strategy<Value = Value> {
    prop::option::weighted(0.8, s).prop_map(move |v| v.map_or(Value::Null, to_value))
}

fn arb_row() -> impl Strategy<Value = Row> {
    let finite =
        any::<f64>().prop_filter("NaN and infinities are encoded as null", |f| f.is_finite());
    let mantissa = -9_999_999_999i128..=9_999_999_999;
    (
        (
            nullable(any::<bool>(), Value::Bool),
            any::<i64>().prop_map(Value::BigInt),
            nullable(any::<i32>(), Value::Int),
            nullable(finite, |f| Value::Double(F64(f))),
            nullable(mantissa, |m| Value::Decimal(Decimal::new(m, 2).unwrap())),
        ),
        (
            nullable(any::<String>(), Value::String),
            nullable(any::<i32>(), Value::Date),
            nullable(0..NANOS_PER_DAY, Value::Time),
            nullable(any::<i64>(), Value::Timestamp),
            nullable(prop::collection::vec(any::<u8>(), 0..6), Value::Bytes),
        ),
    )
        .prop_map(|((b, big, i, f, dec), (s, dt, tm, ts, bin))| {
            Row(vec![b, big, i, f, dec, s, dt, tm, ts, bin])
        })
}

fn arb_delta() -> impl Strategy<Value = Vec<(Row, i64)>> {
    prop::collection::vec((arb_row(), -3i64..=3), 0..12)
}

/// Encodes `delta` with `format`, then parses every message with the same format; the parsed changes, sorted.
fn round_trip(
    format: &FormatConfig,
    delta: &[(Row, i64)],
) -> Result<Vec<(Row, i64)>, TestCaseError> {
    let table = table();
    let limits = MessageLimits {
        max_message_bytes: 1_000_000,
    };
    let mut encoder = build_encoder(format, &table, limits).unwrap();
    let mut parser = build_parser(format, &table).unwrap();
    let mut messages = Vec::new();
    let encode_errors = encoder
        .encode(delta, &mut |m| {
            messages.push(m.value.unwrap());
            Ok(())
        })
        .unwrap();
    prop_assert!(encode_errors.is_empty(), "{:?}", encode_errors);
    let mut parsed = Vec::new();
    for message in &messages {
        let errors = parser.parse(message, &mut parsed);
        prop_assert!(
            errors.is_empty(),
            "{:?} in {:?}",
            errors,
            String::from_utf8_lossy(message)
        );
    }
    parsed.sort();
    Ok(parsed)
}

/// One `(row, ±1)` per copy, as the JSON encoder writes a change.
fn expanded(delta: &[(Row, i64)]) -> Vec<(Row, i64)> {
    let mut out: Vec<_> = delta
        .iter()
        .flat_map(|(row, w)| {
            std::iter::repeat_n((row.clone(), w.signum()), w.unsigned_abs() as usize)
        })
        .collect();
    out.sort();
    out
}

fn json(array: bool) -> FormatConfig {
    FormatConfig::Json(JsonEncoderConfig {
        update_format: JsonUpdateFormat::InsertDelete,
        array,
        buffer_size_records: 4,
        ..JsonEncoderConfig::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn json_ndjson_round_trips(delta in arb_delta()) {
        prop_assert_eq!(round_trip(&json(false), &delta)?, expanded(&delta));
    }

    #[test]
    fn json_arrays_round_trip(delta in arb_delta()) {
        prop_assert_eq!(round_trip(&json(true), &delta)?, expanded(&delta));
    }

    #[test]
    fn csv_round_trips_with_weights(delta in arb_delta(), header in any::<bool>(), semicolon in any::<bool>()) {
        let format = FormatConfig::Csv(CsvEncoderConfig {
            delimiter: if semicolon { ';' } else { ',' },
            buffer_size_records: 3,
            header,
            ..CsvEncoderConfig::default()
        });
        let mut expected: Vec<_> = delta.iter().filter(|(_, w)| *w != 0).cloned().collect();
        expected.sort();
        prop_assert_eq!(round_trip(&format, &delta)?, expected);
    }
}
