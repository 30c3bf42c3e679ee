//! Shared fixtures: the reference's test view and batches, and helpers that run an encoder and collect its output.
#![allow(dead_code)]

use sluice_data::{Field, Relation, Row, SqlType, Value};
use sluice_formats::{build_encoder, EncodeError, EncodedMessage, Encoder, MessageLimits};
use sluice_types::FormatConfig;

/// `id BIGINT NOT NULL, b BOOLEAN NOT NULL, i BIGINT NULL, s VARCHAR NOT NULL`.
pub fn test_view() -> Relation {
    Relation::new(
        "test_view",
        vec![
            Field::new("id", SqlType::BigInt, false),
            Field::new("b", SqlType::Boolean, false),
            Field::new("i", SqlType::BigInt, true),
            Field::new("s", SqlType::varchar(), false),
        ],
    )
}

/// A row of [`test_view`].
pub fn row(id: i64, b: bool, i: Option<i64>, s: &str) -> Row {
    Row(vec![Value::BigInt(id), Value::Bool(b), i.into(), s.into()])
}

/// The reference's three batches.
pub fn batches() -> Vec<Vec<(Row, i64)>> {
    vec![
        vec![
            (row(0, true, None, "foo"), 1),
            (row(1, false, Some(10), "bar"), -1),
        ],
        vec![
            (row(2, true, None, "foo"), -2),
            (row(3, false, Some(10), "bar"), 2),
        ],
        vec![
            (row(4, true, Some(15), "buzz"), -1),
            (row(5, false, None, ""), 3),
        ],
    ]
}

/// The limit used when a test is not about sizes.
pub const LARGE: MessageLimits = MessageLimits {
    max_message_bytes: 1_000_000,
};

/// Builds an encoder of `format` for `view`, panicking on a config error.
pub fn encoder(format: FormatConfig, view: &Relation, limits: MessageLimits) -> Box<dyn Encoder> {
    build_encoder(&format, view, limits).unwrap()
}

/// Encodes one batch, returning the messages and the per-record errors.
pub fn encode(
    encoder: &mut dyn Encoder,
    delta: &[(Row, i64)],
) -> (Vec<EncodedMessage>, Vec<EncodeError>) {
    let mut messages = Vec::new();
    let errors = encoder
        .encode(delta, &mut |m| {
            messages.push(m);
            Ok(())
        })
        .unwrap();
    (messages, errors)
}

/// The message values as text.
pub fn values(messages: &[EncodedMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            m.value
                .as_deref()
                .map_or_else(|| "<tombstone>".to_string(), text)
        })
        .collect()
}

/// UTF-8 bytes as a `String`.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Encodes each batch in turn with no errors expected, returning each batch's message values.
pub fn encode_all(encoder: &mut dyn Encoder) -> Vec<Vec<String>> {
    batches()
        .iter()
        .map(|batch| {
            let (messages, errors) = encode(encoder, batch);
            assert!(errors.is_empty(), "{errors:?}");
            values(&messages)
        })
        .collect()
}

/// The `insert_delete` JSON of a [`test_view`] record.
pub fn record_json(id: i64, b: bool, i: Option<i64>, s: &str) -> String {
    let i = i.map_or("null".to_string(), |i| i.to_string());
    format!(
        r#"{{"id":{id},"b":{b},"i":{i},"s":{}}}"#,
        serde_json::to_string(s).unwrap()
    )
}

/// The config error `build_encoder` gives, panicking if it builds.
pub fn config_error(
    format: &FormatConfig,
    view: &Relation,
    limits: MessageLimits,
) -> sluice_types::ConfigError {
    build_encoder(format, view, limits)
        .err()
        .expect("a config error")
}

/// A JSON format config.
pub fn json(
    update_format: sluice_types::JsonUpdateFormat,
    array: bool,
    buffer_size_records: usize,
) -> FormatConfig {
    FormatConfig::Json(sluice_types::JsonEncoderConfig {
        update_format,
        array,
        buffer_size_records,
        ..sluice_types::JsonEncoderConfig::default()
    })
}

/// `{"insert":<record>}` of a [`test_view`] record.
pub fn insert(id: i64, b: bool, i: Option<i64>, s: &str) -> String {
    format!(r#"{{"insert":{}}}"#, record_json(id, b, i, s))
}

/// `{"delete":<record>}` of a [`test_view`] record.
pub fn delete(id: i64, b: bool, i: Option<i64>, s: &str) -> String {
    format!(r#"{{"delete":{}}}"#, record_json(id, b, i, s))
}

/// A JSON encoder for [`test_view`].
pub fn json_encoder(
    update_format: sluice_types::JsonUpdateFormat,
    array: bool,
    buffer_size_records: usize,
    limits: MessageLimits,
) -> Box<dyn Encoder> {
    encoder(
        json(update_format, array, buffer_size_records),
        &test_view(),
        limits,
    )
}
