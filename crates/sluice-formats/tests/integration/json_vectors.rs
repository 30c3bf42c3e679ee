//! The JSON encoder through the public API, on the reference system's test vectors (its section 5).

use crate::common::*;
use sluice_data::{Row, Value};
use sluice_types::{FormatConfig, JsonEncoderConfig, JsonFlavor, JsonUpdateFormat};

// The six distinct records of the reference batches, in `insert_delete` form.
const D1: &str = r#"{"delete":{"id":1,"b":false,"i":10,"s":"bar"}}"#;
const I0: &str = r#"{"insert":{"id":0,"b":true,"i":null,"s":"foo"}}"#;
const D2: &str = r#"{"delete":{"id":2,"b":true,"i":null,"s":"foo"}}"#;
const I3: &str = r#"{"insert":{"id":3,"b":false,"i":10,"s":"bar"}}"#;
const D4: &str = r#"{"delete":{"id":4,"b":true,"i":15,"s":"buzz"}}"#;
const I5: &str = r#"{"insert":{"id":5,"b":false,"i":null,"s":""}}"#;

/// Each batch's records in order, deletions first and weights expanded.
fn expected_records() -> Vec<Vec<&'static str>> {
    vec![vec![D1, I0], vec![D2, D2, I3, I3], vec![D4, I5, I5, I5]]
}

/// `{"insert":r}` → `(true, r)`.
fn unwrap_envelope(record: &str) -> (bool, &str) {
    (
        record.starts_with(r#"{"insert""#),
        &record[10..record.len() - 1],
    )
}

#[test]
fn insert_delete_packs_three_records_per_message_as_lines() {
    let mut enc = json_encoder(JsonUpdateFormat::InsertDelete, false, 3, LARGE);
    let expected = vec![
        vec![format!("{D1}\n{I0}")],
        vec![format!("{D2}\n{D2}\n{I3}"), I3.to_string()],
        vec![format!("{D4}\n{I5}\n{I5}"), I5.to_string()],
    ];
    assert_eq!(encode_all(&mut *enc), expected);
}

#[test]
fn insert_delete_packs_three_records_per_message_as_arrays() {
    let mut enc = json_encoder(JsonUpdateFormat::InsertDelete, true, 3, LARGE);
    let expected = vec![
        vec![format!("[{D1},{I0}]")],
        vec![format!("[{D2},{D2},{I3}]"), format!("[{I3}]")],
        vec![format!("[{D4},{I5},{I5}]"), format!("[{I5}]")],
    ];
    assert_eq!(encode_all(&mut *enc), expected);
}

#[test]
fn insert_delete_counts_records_per_message() {
    let mut enc = json_encoder(JsonUpdateFormat::InsertDelete, false, 3, LARGE);
    let (messages, _) = encode(&mut *enc, &batches()[1]);
    let counts: Vec<usize> = messages.iter().map(|m| m.records).collect();
    assert_eq!(counts, vec![3, 1]);
    assert!(messages.iter().all(|m| m.key.is_none()));
}

#[test]
fn snowflake_numbers_records_across_batches_under_one_stream_id() {
    let mut enc = json_encoder(JsonUpdateFormat::Snowflake, false, 1, LARGE);
    let got: Vec<String> = encode_all(&mut *enc).concat();
    let stream_id = |m: &str| {
        serde_json::from_str::<serde_json::Value>(m).unwrap()["__stream_id"]
            .as_u64()
            .unwrap()
    };
    let id = stream_id(&got[0]);
    assert!(id < 1 << 63);
    assert!(got.iter().all(|m| stream_id(m) == id));
    let expected: Vec<String> = expected_records()
        .concat()
        .into_iter()
        .map(unwrap_envelope)
        .enumerate()
        .map(|(seq, (insert, record))| {
            let action = if insert { "insert" } else { "delete" };
            let members = &record[..record.len() - 1];
            format!(r#"{members},"__action":"{action}","__stream_id":{id},"__seq_number":{seq}}}"#)
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        got[0],
        format!(
            r#"{{"id":1,"b":false,"i":10,"s":"bar","__action":"delete","__stream_id":{id},"__seq_number":0}}"#
        )
    );
}

#[test]
fn snowflake_flavor_spells_timestamps_with_t_and_zone_and_decimals_as_strings() {
    let view = sluice_data::Relation::new(
        "v",
        vec![
            sluice_data::Field::new("t", sluice_data::SqlType::Timestamp, false),
            sluice_data::Field::new(
                "d",
                sluice_data::SqlType::Decimal {
                    precision: 4,
                    scale: 2,
                },
                false,
            ),
        ],
    );
    let mut enc = encoder(json(JsonUpdateFormat::Snowflake, false, 1), &view, LARGE);
    let row = Row(vec![
        Value::Timestamp(1_529_501_823_000_000),
        Value::Decimal("10.50".parse().unwrap()),
    ]);
    let (messages, _) = encode(&mut *enc, &[(row, 1)]);
    let v: serde_json::Value = serde_json::from_slice(&messages[0].value).unwrap();
    assert_eq!(v["t"], "2018-06-20T13:37:03+00:00");
    assert_eq!(v["d"], "10.5");
}

const ENVELOPE: &str = concat!(
    r#"{"type":"struct","fields":["#,
    r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"boolean","optional":false,"field":"b"},{"type":"int64","optional":true,"field":"i"},{"type":"string","optional":false,"field":"s"}],"optional":true,"field":"before"},"#,
    r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"boolean","optional":false,"field":"b"},{"type":"int64","optional":true,"field":"i"},{"type":"string","optional":false,"field":"s"}],"optional":true,"field":"after"},"#,
    r#"{"type":"string","optional":false,"field":"op"}],"optional":false,"name":"Envelope"}"#
);

const WHOLE_KEY: &str = concat!(
    r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"boolean","optional":false,"field":"b"},"#,
    r#"{"type":"int64","optional":true,"field":"i"},{"type":"string","optional":false,"field":"s"}],"optional":false,"name":"Key"}"#
);

fn keys_and_values(batch: usize, enc: &mut dyn sluice_formats::Encoder) -> Vec<(String, String)> {
    let (messages, errors) = encode(enc, &batches()[batch]);
    assert!(errors.is_empty());
    messages
        .iter()
        .map(|m| (text(m.key.as_ref().unwrap()), text(&m.value)))
        .collect()
}

#[test]
fn debezium_keys_by_the_whole_record_with_kafka_connect_schemas() {
    let mut enc = json_encoder(JsonUpdateFormat::Debezium, false, 1, LARGE);
    let got = keys_and_values(0, &mut *enc);
    let d1 = unwrap_envelope(D1).1;
    let i0 = unwrap_envelope(I0).1;
    assert_eq!(
        got,
        vec![
            (
                format!(r#"{{"schema":{WHOLE_KEY},"payload":{d1}}}"#),
                format!(r#"{{"schema":{ENVELOPE},"payload":{{"op":"d","before":{d1}}}}}"#),
            ),
            (
                format!(r#"{{"schema":{WHOLE_KEY},"payload":{i0}}}"#),
                format!(r#"{{"schema":{ENVELOPE},"payload":{{"op":"c","after":{i0}}}}}"#),
            ),
        ]
    );
    // Weights are expanded: one message per copy.
    assert_eq!(keys_and_values(2, &mut *enc).len(), 4);
}

#[test]
fn debezium_keys_by_key_fields() {
    let format = FormatConfig::Json(JsonEncoderConfig {
        update_format: JsonUpdateFormat::Debezium,
        key_fields: Some(vec!["id".into(), "s".into()]),
        ..JsonEncoderConfig::default()
    });
    let mut enc = encoder(format, &test_view(), LARGE);
    let key_schema = concat!(
        r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},"#,
        r#"{"type":"string","optional":false,"field":"s"}],"optional":false,"name":"Key"}"#
    );
    let (d1, i0) = (unwrap_envelope(D1).1, unwrap_envelope(I0).1);
    assert_eq!(
        keys_and_values(0, &mut *enc),
        vec![
            (
                format!(r#"{{"schema":{key_schema},"payload":{{"id":1,"s":"bar"}}}}"#),
                format!(r#"{{"schema":{ENVELOPE},"payload":{{"op":"d","before":{d1}}}}}"#),
            ),
            (
                format!(r#"{{"schema":{key_schema},"payload":{{"id":0,"s":"foo"}}}}"#),
                format!(r#"{{"schema":{ENVELOPE},"payload":{{"op":"c","after":{i0}}}}}"#),
            ),
        ]
    );
}

#[test]
fn debezium_without_the_kafka_connect_flavor_omits_schemas() {
    let format = FormatConfig::Json(JsonEncoderConfig {
        update_format: JsonUpdateFormat::Debezium,
        json_flavor: Some(JsonFlavor::Default),
        key_fields: Some(vec!["id".into()]),
        ..JsonEncoderConfig::default()
    });
    let mut enc = encoder(format, &test_view(), LARGE);
    let got = keys_and_values(0, &mut *enc);
    let d1 = unwrap_envelope(D1).1;
    let i0 = unwrap_envelope(I0).1;
    assert_eq!(
        got,
        vec![
            (
                r#"{"payload":{"id":1}}"#.to_string(),
                format!(r#"{{"payload":{{"op":"d","before":{d1}}}}}"#)
            ),
            (
                r#"{"payload":{"id":0}}"#.to_string(),
                format!(r#"{{"payload":{{"op":"c","after":{i0}}}}}"#)
            ),
        ]
    );
}
