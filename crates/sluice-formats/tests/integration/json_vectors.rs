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
    let v: serde_json::Value = serde_json::from_slice(messages[0].value.as_ref().unwrap()).unwrap();
    assert_eq!(v["t"], "2018-06-20T13:37:03+00:00");
    assert_eq!(v["d"], "10.5");
}

const COLUMNS: &str = concat!(
    r#"[{"type":"int64","optional":false,"field":"id"},{"type":"boolean","optional":false,"field":"b"},"#,
    r#"{"type":"int64","optional":true,"field":"i"},{"type":"string","optional":false,"field":"s"}]"#
);

/// Kafka Connect's JsonConverter schema of the value, written out from Debezium's documented envelope: optional
/// `before`/`after` structs of the columns, a `source` struct, a mandatory `op` string, an optional `ts_ms`.
fn envelope() -> serde_json::Value {
    let columns: serde_json::Value = serde_json::from_str(COLUMNS).unwrap();
    let text = |field: &str, optional: bool| serde_json::json!({"type": "string", "optional": optional, "field": field});
    let int64 =
        |field: &str| serde_json::json!({"type": "int64", "optional": false, "field": field});
    serde_json::json!({
        "type": "struct",
        "fields": [
            {"type": "struct", "fields": columns, "optional": true, "field": "before"},
            {"type": "struct", "fields": columns, "optional": true, "field": "after"},
            {"type": "struct", "fields": [
                text("version", false), text("connector", false), text("name", false), int64("ts_ms"),
                text("snapshot", true), text("db", false), text("table", false), int64("step")
            ], "optional": false, "name": "sluice.Source", "field": "source"},
            {"type": "string", "optional": false, "field": "op"},
            {"type": "int64", "optional": true, "field": "ts_ms"}
        ],
        "optional": false,
        "name": "Envelope"
    })
}

const WHOLE_KEY: &str = concat!(
    r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"boolean","optional":false,"field":"b"},"#,
    r#"{"type":"int64","optional":true,"field":"i"},{"type":"string","optional":false,"field":"s"}],"optional":false,"name":"Key"}"#
);

/// One batch's messages as (key text, value with the times taken out); tombstones have no value.
fn keys_and_values(
    batch: usize,
    enc: &mut dyn sluice_formats::Encoder,
) -> Vec<(String, Option<serde_json::Value>)> {
    let (messages, errors) = encode(enc, &batches()[batch]);
    assert!(errors.is_empty());
    messages
        .iter()
        .map(|m| {
            let value = m.value.as_ref().map(|v| {
                let mut v: serde_json::Value = serde_json::from_slice(v).unwrap();
                let payload = &mut v["payload"];
                let ts = payload["ts_ms"].take();
                assert!(ts.as_i64().unwrap() > 1_700_000_000_000, "{ts}");
                assert_eq!(payload["source"]["ts_ms"].take(), ts);
                v
            });
            (text(m.key.as_ref().unwrap()), value)
        })
        .collect()
}

/// The payload of a `d` or `c` message of `record` (an `insert_delete` record), times taken out.
fn payload(op: &str, record: &str) -> serde_json::Value {
    let image: serde_json::Value = serde_json::from_str(unwrap_envelope(record).1).unwrap();
    let (before, after) = if op == "d" {
        (image, serde_json::Value::Null)
    } else {
        (serde_json::Value::Null, image)
    };
    serde_json::json!({
        "before": before,
        "after": after,
        "source": {"version": env!("CARGO_PKG_VERSION"), "connector": "sluice", "name": "", "ts_ms": null,
                   "snapshot": "false", "db": "", "table": "test_view", "step": 0},
        "op": op,
        "ts_ms": null
    })
}

#[test]
fn debezium_keys_by_the_whole_record_with_kafka_connect_schemas() {
    let mut enc = json_encoder(JsonUpdateFormat::Debezium, false, 1, LARGE);
    let got = keys_and_values(0, &mut *enc);
    let d1 = unwrap_envelope(D1).1;
    let i0 = unwrap_envelope(I0).1;
    let with_schema = |payload| serde_json::json!({"schema": envelope(), "payload": payload});
    assert_eq!(
        got,
        vec![
            (
                format!(r#"{{"schema":{WHOLE_KEY},"payload":{d1}}}"#),
                Some(with_schema(payload("d", D1))),
            ),
            (format!(r#"{{"schema":{WHOLE_KEY},"payload":{d1}}}"#), None),
            (
                format!(r#"{{"schema":{WHOLE_KEY},"payload":{i0}}}"#),
                Some(with_schema(payload("c", I0))),
            ),
        ]
    );
    // Weights are expanded: one message per copy, one tombstone after the copies of a delete.
    assert_eq!(keys_and_values(2, &mut *enc).len(), 1 + 1 + 3);
}

#[test]
fn debezium_keys_by_key_fields() {
    let format = FormatConfig::Json(JsonEncoderConfig {
        update_format: JsonUpdateFormat::Debezium,
        key_fields: Some(vec!["id".into(), "s".into()]),
        enforce_unique_key: Some(false),
        ..JsonEncoderConfig::default()
    });
    let mut enc = encoder(format, &test_view(), LARGE);
    let key_schema = concat!(
        r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},"#,
        r#"{"type":"string","optional":false,"field":"s"}],"optional":false,"name":"Key"}"#
    );
    let with_schema = |payload| serde_json::json!({"schema": envelope(), "payload": payload});
    let key = |id: i64, s: &str| {
        format!(r#"{{"schema":{key_schema},"payload":{{"id":{id},"s":"{s}"}}}}"#)
    };
    assert_eq!(
        keys_and_values(0, &mut *enc),
        vec![
            (key(1, "bar"), Some(with_schema(payload("d", D1)))),
            (key(1, "bar"), None),
            (key(0, "foo"), Some(with_schema(payload("c", I0)))),
        ]
    );
}

#[test]
fn debezium_without_the_kafka_connect_flavor_omits_schemas() {
    let format = FormatConfig::Json(JsonEncoderConfig {
        update_format: JsonUpdateFormat::Debezium,
        json_flavor: Some(JsonFlavor::Default),
        key_fields: Some(vec!["id".into()]),
        tombstones: Some(false),
        ..JsonEncoderConfig::default()
    });
    let mut enc = encoder(format, &test_view(), LARGE);
    let got = keys_and_values(0, &mut *enc);
    let bare = |payload| serde_json::json!({ "payload": payload });
    assert_eq!(
        got,
        vec![
            (
                r#"{"payload":{"id":1}}"#.to_string(),
                Some(bare(payload("d", D1)))
            ),
            (
                r#"{"payload":{"id":0}}"#.to_string(),
                Some(bare(payload("c", I0)))
            ),
        ]
    );
}
