//! The JSON encoder's per-record errors and config errors through the public API.

use crate::common::*;
use sluice_data::{Row, Value};
use sluice_formats::{build_encoder, EncodeError, MessageLimits};
use sluice_types::{FormatConfig, JsonEncoderConfig, JsonUpdateFormat};

#[test]
fn a_limit_below_the_smallest_record_is_a_config_error() {
    // The reference's 32-byte limit cannot hold any record of this view: the smallest is
    // `{"insert":{"id":0,"b":0,"i":0,"s":0}}`, 37 bytes.
    let format = json(JsonUpdateFormat::InsertDelete, false, 3);
    let err = config_error(
        &format,
        &test_view(),
        MessageLimits {
            max_message_bytes: 32,
        },
    );
    assert_eq!(err.field, "transport.config");
    assert!(err.reason.contains("limited to 32 bytes"), "{err}");
    assert!(err.reason.contains("at least 37 bytes"), "{err}");
    assert!(build_encoder(
        &format,
        &test_view(),
        MessageLimits {
            max_message_bytes: 37
        }
    )
    .is_ok());
}

#[test]
fn a_record_too_large_is_reported_and_the_rest_of_the_batch_still_goes_out() {
    let limits = MessageLimits {
        max_message_bytes: 45,
    };
    let mut enc = json_encoder(JsonUpdateFormat::InsertDelete, false, 3, limits);
    let batch = vec![
        (row(1, false, Some(10), "bar"), -1),
        (row(5, false, None, ""), 2),
    ];
    let (messages, errors) = encode(&mut *enc, &batch);
    // `{"insert":{"id":5,"b":false,"i":null,"s":""}}` is exactly 45 bytes: one per message.
    let i5 = insert(5, false, None, "");
    assert_eq!(i5.len(), 45);
    assert_eq!(values(&messages), vec![i5.clone(), i5]);
    let d1 = delete(1, false, Some(10), "bar");
    assert_eq!(d1.len(), 46);
    assert_eq!(
        errors,
        vec![EncodeError::RecordTooLarge {
            view: "test_view".into(),
            size: 46,
            limit: 45,
            copies: 1,
            record: d1.clone(),
        }]
    );
    assert_eq!(
        errors[0].to_string(),
        format!(
            "view 'test_view': a record needs a 46-byte message but messages are limited to 45 bytes, so 1 copy of \
             it was not sent; raise the transport's message size limit (Kafka: message.max.bytes): {d1}"
        )
    );
}

#[test]
fn a_weight_beyond_a_million_is_reported_and_the_rest_still_goes_out() {
    let mut enc = json_encoder(JsonUpdateFormat::InsertDelete, false, 1000, LARGE);
    let big = row(7, true, None, "x");
    let batch = vec![
        (big.clone(), 1_000_001),
        (row(0, true, None, "foo"), 1),
        (big, -1_000_000),
    ];
    let (messages, errors) = encode(&mut *enc, &batch);
    assert_eq!(messages.iter().map(|m| m.records).sum::<usize>(), 1_000_001);
    assert_eq!(errors.len(), 1);
    let EncodeError::WeightTooLarge {
        view,
        weight,
        record,
    } = &errors[0]
    else {
        panic!("{errors:?}")
    };
    assert_eq!(
        (view.as_str(), *weight, record.as_str()),
        ("test_view", 1_000_001, "(7, true, NULL, 'x')")
    );
    assert!(errors[0]
        .to_string()
        .contains("SELECT DISTINCT or a GROUP BY"));
}

#[test]
fn a_value_of_the_wrong_type_is_reported_with_its_column() {
    let mut enc = json_encoder(JsonUpdateFormat::InsertDelete, false, 10, LARGE);
    let wrong = Row(vec![
        Value::from("one"),
        Value::Bool(true),
        Value::Null,
        Value::from("s"),
    ]);
    let null_in_not_null = Row(vec![
        Value::BigInt(1),
        Value::Null,
        Value::Null,
        Value::from("s"),
    ]);
    let batch = vec![
        (wrong, 1),
        (row(0, true, None, "foo"), 1),
        (null_in_not_null, -1),
    ];
    let (messages, errors) = encode(&mut *enc, &batch);
    assert_eq!(values(&messages), vec![insert(0, true, None, "foo")]);
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![
            "view 'test_view': column 'b' is BOOLEAN NOT NULL but record (1, NULL, NULL, 's') holds NULL there",
            "view 'test_view': column 'id' is BIGINT but record ('one', true, NULL, 's') holds a string there",
        ]
    );
}

#[test]
fn key_fields_must_name_columns_of_the_view() {
    let format = FormatConfig::Json(JsonEncoderConfig {
        update_format: JsonUpdateFormat::Debezium,
        key_fields: Some(vec!["id".into(), "nope".into()]),
        ..JsonEncoderConfig::default()
    });
    let err = config_error(&format, &test_view(), LARGE);
    assert_eq!(err.field, "format.config.key_fields");
    assert_eq!(
        err.reason,
        "view 'test_view' has no column 'nope'; its columns are: id, b, i, s"
    );
}

#[test]
fn output_rules_of_the_config_are_enforced_with_prefixed_fields() {
    let err = config_error(
        &json(JsonUpdateFormat::Weighted, false, 1),
        &test_view(),
        LARGE,
    );
    assert_eq!(err.field, "format.config.update_format");
    let err = config_error(
        &json(JsonUpdateFormat::Upsert, true, 1),
        &test_view(),
        LARGE,
    );
    assert_eq!(err.field, "format.config.array");
    let keyed_packs = sluice_types::FormatConfig::Json(sluice_types::JsonEncoderConfig {
        key_fields: Some(vec!["id".into()]),
        buffer_size_records: 10,
        ..sluice_types::JsonEncoderConfig::default()
    });
    let err = config_error(&keyed_packs, &test_view(), LARGE);
    assert_eq!(err.field, "format.config.buffer_size_records");
    let tombstones = sluice_types::FormatConfig::Json(sluice_types::JsonEncoderConfig {
        tombstones: Some(false),
        ..sluice_types::JsonEncoderConfig::default()
    });
    let err = config_error(&tombstones, &test_view(), LARGE);
    assert_eq!(err.field, "format.config.tombstones");
    assert_eq!(
        err.reason,
        "applies to 'debezium' only; remove it for 'insert_delete'"
    );
    let err = config_error(
        &json(JsonUpdateFormat::Snowflake, false, 5),
        &test_view(),
        LARGE,
    );
    assert_eq!(err.field, "format.config.buffer_size_records");
    let err = config_error(
        &json(JsonUpdateFormat::Debezium, true, 1),
        &test_view(),
        LARGE,
    );
    assert_eq!(err.field, "format.config.array");
}

#[test]
fn a_sink_error_aborts_the_batch_and_the_next_batch_starts_clean() {
    let mut enc = json_encoder(JsonUpdateFormat::InsertDelete, false, 1, LARGE);
    let mut calls = 0;
    let result = enc.encode(&batches()[1], &mut |_| {
        calls += 1;
        Err(sluice_formats::SinkError::new("broker gone"))
    });
    assert_eq!(calls, 1);
    assert_eq!(
        result.unwrap_err().to_string(),
        "message sink failed: broker gone"
    );
    let (messages, _) = encode(&mut *enc, &batches()[0]);
    assert_eq!(
        values(&messages),
        vec![
            delete(1, false, Some(10), "bar"),
            insert(0, true, None, "foo")
        ]
    );
}
