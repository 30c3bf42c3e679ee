//! The CSV encoder through the public API.

use std::collections::BTreeMap;

use crate::common::*;
use sluice_data::{Field, Relation, Row, SqlType, Value, F32, F64};
use sluice_formats::{build_encoder, EncodeError, MessageLimits};
use sluice_types::{CsvEncoderConfig, FormatConfig};

fn csv(buffer_size_records: usize, header: bool) -> FormatConfig {
    FormatConfig::Csv(CsvEncoderConfig {
        buffer_size_records,
        header,
        ..CsvEncoderConfig::default()
    })
}

#[test]
fn one_line_per_distinct_record_with_its_weight_last() {
    let mut enc = encoder(csv(3, false), &test_view(), LARGE);
    assert_eq!(
        encode_all(&mut *enc),
        vec![
            vec!["1,false,10,bar,-1\n0,true,,foo,1\n".to_string()],
            vec!["2,true,,foo,-2\n3,false,10,bar,2\n".to_string()],
            vec!["4,true,15,buzz,-1\n5,false,,\"\",3\n".to_string()],
        ]
    );
}

#[test]
fn header_starts_every_message_and_counts_toward_the_limit() {
    let header = "id,b,i,s,__weight\n";
    let mut enc = encoder(csv(1, true), &test_view(), LARGE);
    let (messages, _) = encode(&mut *enc, &batches()[0]);
    assert_eq!(
        values(&messages),
        vec![
            format!("{header}1,false,10,bar,-1\n"),
            format!("{header}0,true,,foo,1\n")
        ]
    );
    // Header (18) + `0,true,,foo,1\n` (14) = 32 fits; the 18-byte delete line does not.
    let limits = MessageLimits {
        max_message_bytes: 32,
    };
    let mut enc = encoder(csv(10, true), &test_view(), limits);
    let (messages, errors) = encode(&mut *enc, &batches()[0]);
    assert_eq!(values(&messages), vec![format!("{header}0,true,,foo,1\n")]);
    assert_eq!(
        errors,
        vec![EncodeError::RecordTooLarge {
            view: "test_view".into(),
            size: 36,
            limit: 32,
            copies: 1,
            record: "1,false,10,bar,-1\n".into(),
        }]
    );
}

#[test]
fn messages_are_cut_by_size() {
    let limits = MessageLimits {
        max_message_bytes: 40,
    };
    let mut enc = encoder(csv(100, false), &test_view(), limits);
    let batch: Vec<(Row, i64)> = (0..4).map(|n| (row(n, true, None, "abcdef"), 1)).collect();
    let (messages, errors) = encode(&mut *enc, &batch);
    assert!(errors.is_empty());
    assert_eq!(
        values(&messages),
        vec![
            "0,true,,abcdef,1\n1,true,,abcdef,1\n",
            "2,true,,abcdef,1\n3,true,,abcdef,1\n"
        ]
    );
    assert!(messages.iter().all(|m| m.records == 2 && m.key.is_none()));
}

#[test]
fn fields_are_quoted_only_when_needed() {
    let mut enc = encoder(csv(10, true), &test_view(), LARGE);
    let batch: Vec<(Row, i64)> = [
        "a,b",
        "say \"hi\"",
        "two\nlines",
        "cr\r",
        " lead",
        "trail ",
        "tab\t",
        "plain",
        "",
    ]
    .iter()
    .enumerate()
    .map(|(n, s)| (row(n as i64, true, None, s), 1))
    .collect();
    let (messages, _) = encode(&mut *enc, &batch);
    let got = values(&messages).concat();
    let expected = concat!(
        "id,b,i,s,__weight\n",
        "0,true,,\"a,b\",1\n",
        "1,true,,\"say \"\"hi\"\"\",1\n",
        "2,true,,\"two\nlines\",1\n",
        "3,true,,\"cr\r\",1\n",
        "4,true,,\" lead\",1\n",
        "5,true,,\"trail \",1\n",
        "6,true,,\"tab\t\",1\n",
        "7,true,,plain,1\n",
        "8,true,,\"\",1\n",
    );
    assert_eq!(got, expected);
}

#[test]
fn the_delimiter_is_honoured_in_lines_headers_and_quoting() {
    let view = Relation::new(
        "v",
        vec![
            Field::new("a;b", SqlType::varchar(), false),
            Field::new("t", SqlType::Timestamp, true),
        ],
    );
    let format = FormatConfig::Csv(CsvEncoderConfig {
        delimiter: ';',
        buffer_size_records: 5,
        header: true,
        ..CsvEncoderConfig::default()
    });
    let mut enc = encoder(format, &view, LARGE);
    let batch = vec![
        (Row(vec!["x;y".into(), Value::Timestamp(0)]), 1),
        (Row(vec!["x,y".into(), Value::Null]), -2),
    ];
    let (messages, _) = encode(&mut *enc, &batch);
    assert_eq!(
        values(&messages),
        vec!["\"a;b\";t;__weight\nx,y;;-2\n\"x;y\";1970-01-01 00:00:00;1\n"]
    );
}

#[test]
fn every_sql_type_has_a_csv_spelling() {
    let fields = vec![
        (SqlType::Boolean, Value::Bool(false), "false"),
        (SqlType::TinyInt, Value::TinyInt(-1), "-1"),
        (SqlType::SmallInt, Value::SmallInt(2), "2"),
        (SqlType::Int, Value::Int(3), "3"),
        (SqlType::BigInt, Value::BigInt(-4), "-4"),
        (SqlType::Real, Value::Real(F32(0.1)), "0.1"),
        (SqlType::Double, Value::Double(F64(1e20)), "1e20"),
        (SqlType::Double, Value::Double(F64(f64::NAN)), "NaN"),
        (
            SqlType::Double,
            Value::Double(F64(f64::NEG_INFINITY)),
            "-inf",
        ),
        (
            SqlType::Decimal {
                precision: 10,
                scale: 2,
            },
            Value::Decimal("10.50".parse().unwrap()),
            "10.50",
        ),
        (SqlType::Char { length: Some(3) }, Value::from("abc"), "abc"),
        (SqlType::Date, Value::Date(19_628), "2023-09-28"),
        (
            SqlType::Time,
            Value::Time(84_075_123_000_000),
            "23:21:15.123",
        ),
        (
            SqlType::Timestamp,
            Value::Timestamp(1_529_501_823_000_000),
            "2018-06-20 13:37:03",
        ),
        (
            SqlType::Timestamp,
            Value::Timestamp(-1),
            "1969-12-31 23:59:59.999999",
        ),
        (
            SqlType::Varbinary { length: None },
            Value::Bytes(vec![0, 0xab, 0x1f]),
            "00ab1f",
        ),
        (
            SqlType::Array {
                element: Box::new(SqlType::varchar()),
                element_nullable: true,
            },
            Value::Array(vec!["a".into(), Value::Null]),
            "\"[\"\"a\"\",null]\"",
        ),
        (
            SqlType::Map {
                key: Box::new(SqlType::Int),
                value: Box::new(SqlType::Int),
                value_nullable: false,
            },
            Value::Map(BTreeMap::from([(Value::Int(1), Value::Int(2))])),
            "\"{\"\"1\"\":2}\"",
        ),
        (SqlType::Null, Value::Null, ""),
    ];
    let view = Relation::new(
        "all_types",
        fields
            .iter()
            .enumerate()
            .map(|(n, (ty, _, _))| Field::new(format!("c{n}"), ty.clone(), true))
            .collect(),
    );
    let mut enc = encoder(csv(1, false), &view, LARGE);
    let row = Row(fields.iter().map(|(_, v, _)| v.clone()).collect());
    let (messages, errors) = encode(&mut *enc, &[(row, 1)]);
    assert!(errors.is_empty(), "{errors:?}");
    let expected: Vec<&str> = fields.iter().map(|(_, _, text)| *text).collect();
    assert_eq!(
        values(&messages),
        vec![format!("{},1\n", expected.join(","))]
    );
}

#[test]
fn csv_reports_type_mismatches_and_keeps_going() {
    let mut enc = encoder(csv(10, false), &test_view(), LARGE);
    let short = Row(vec![Value::BigInt(1)]);
    let long = Row(vec![
        Value::BigInt(1),
        Value::Bool(true),
        Value::Null,
        "s".into(),
        Value::Int(9),
    ]);
    let (messages, errors) = encode(
        &mut *enc,
        &[(short, 1), (long, 1), (row(2, true, None, "ok"), 5)],
    );
    assert_eq!(values(&messages), vec!["2,true,,ok,5\n"]);
    let found: Vec<(String, String)> = errors
        .iter()
        .map(|e| match e {
            EncodeError::TypeMismatch { column, found, .. } => (column.clone(), found.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("b".into(), "no value (the row is too short)".into()),
            ("#5".into(), "an extra value".into())
        ]
    );
}

#[test]
fn csv_config_errors_have_prefixed_fields() {
    let bad = FormatConfig::Csv(CsvEncoderConfig {
        delimiter: '"',
        ..CsvEncoderConfig::default()
    });
    assert_eq!(
        config_error(&bad, &test_view(), LARGE).field,
        "format.config.delimiter"
    );
    // The shortest line of the view is `,,,,1\n`: 6 bytes.
    let err = config_error(
        &csv(1, false),
        &test_view(),
        MessageLimits {
            max_message_bytes: 5,
        },
    );
    assert_eq!(err.field, "transport.config");
    assert!(build_encoder(
        &csv(1, false),
        &test_view(),
        MessageLimits {
            max_message_bytes: 6
        }
    )
    .is_ok());
}
