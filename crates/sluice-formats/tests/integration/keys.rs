//! Message keys, per-row headers, the `upsert` and `raw` envelopes and plain CSV rows, through the public API.

use crate::common::*;
use sluice_data::Row;
use sluice_formats::{BatchInfo, EncodedMessage, Encoder};
use sluice_types::{
    CsvEncoderConfig, DeletePolicy, FormatConfig, JsonEncoderConfig, JsonUpdateFormat, KeyFormat,
};

fn json_with(config: JsonEncoderConfig) -> Box<dyn Encoder> {
    encoder(FormatConfig::Json(config), &test_view(), LARGE)
}

fn upsert(key_fields: &[&str]) -> JsonEncoderConfig {
    JsonEncoderConfig {
        update_format: JsonUpdateFormat::Upsert,
        key_fields: Some(key_fields.iter().map(|s| s.to_string()).collect()),
        ..JsonEncoderConfig::default()
    }
}

/// Encodes `delta` as step `step` and returns each message as (key, value) text; a tombstone's value is `None`.
fn keyed(
    enc: &mut dyn Encoder,
    step: u64,
    delta: &[(Row, i64)],
) -> Vec<(Option<String>, Option<String>)> {
    enc.begin_batch(BatchInfo {
        pipeline: "p",
        step,
        snapshot: false,
    });
    let (messages, errors) = encode(enc, delta);
    assert!(errors.is_empty(), "{errors:?}");
    messages
        .iter()
        .map(|m| (m.key.as_deref().map(text), m.value.as_deref().map(text)))
        .collect()
}

/// The error of a step the encoder refuses as a whole, checking that nothing was sent.
fn refused(enc: &mut dyn Encoder, delta: &[(Row, i64)]) -> String {
    enc.begin_batch(BatchInfo {
        pipeline: "p",
        step: 9,
        snapshot: false,
    });
    let mut sent = 0;
    let err = enc
        .encode(delta, &mut |_| {
            sent += 1;
            Ok(())
        })
        .unwrap_err();
    assert_eq!(sent, 0, "a refused step sends nothing");
    err.to_string()
}

#[test]
fn upsert_sends_the_row_or_a_tombstone_per_key_and_pairs_updates() {
    let mut enc = json_with(upsert(&["id"]));
    let delta = vec![
        (row(1, false, Some(10), "old"), -1),
        (row(2, true, None, "gone"), -1),
        (row(1, true, Some(11), "new"), 1),
        (row(3, false, None, "added"), 1),
    ];
    assert_eq!(
        keyed(&mut *enc, 1, &delta),
        vec![
            (
                Some(r#"{"id":1}"#.into()),
                Some(r#"{"id":1,"b":true,"i":11,"s":"new"}"#.into())
            ),
            (Some(r#"{"id":2}"#.into()), None),
            (
                Some(r#"{"id":3}"#.into()),
                Some(r#"{"id":3,"b":false,"i":null,"s":"added"}"#.into())
            ),
        ]
    );
}

#[test]
fn upsert_without_key_fields_keys_by_the_whole_record() {
    let mut enc = json_with(JsonEncoderConfig {
        update_format: JsonUpdateFormat::Upsert,
        ..JsonEncoderConfig::default()
    });
    let got = keyed(&mut *enc, 1, &[(row(1, true, None, "x"), -1)]);
    assert_eq!(
        got,
        vec![(Some(r#"{"id":1,"b":true,"i":null,"s":"x"}"#.into()), None)]
    );
}

#[test]
fn upsert_refuses_a_step_with_two_rows_for_one_key_naming_view_step_and_key() {
    let mut enc = json_with(upsert(&["b"]));
    let delta = vec![
        (row(1, true, None, "a"), 1),
        (row(2, true, None, "b"), 1),
        (row(3, false, None, "c"), 1),
    ];
    let err = refused(&mut *enc, &delta);
    assert!(
        err.starts_with(r#"view 'test_view': step 9 inserts 2 rows with the key {"b":true}"#),
        "{err}"
    );
    assert!(err.contains("enforce_unique_key"), "{err}");
    // One row twice is two rows too.
    let err = refused(
        &mut *json_with(upsert(&["id"])),
        &[(row(1, true, None, "a"), 2)],
    );
    assert!(
        err.contains(r#"inserts 2 rows with the key {"id":1}"#),
        "{err}"
    );
    // Declared unique without a check: the last row of the key wins, one message.
    let mut lax = upsert(&["b"]);
    lax.enforce_unique_key = Some(false);
    let got = keyed(&mut *json_with(lax), 1, &delta);
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].1.as_deref(),
        Some(r#"{"id":2,"b":true,"i":null,"s":"b"}"#)
    );
}

#[test]
fn text_keys_are_the_column_value_and_null_is_no_key() {
    let mut config = upsert(&["i"]);
    config.key_format = KeyFormat::Text;
    config.enforce_unique_key = Some(false);
    let mut enc = json_with(config);
    let got = keyed(
        &mut *enc,
        1,
        &[
            (row(1, true, Some(42), "a"), 1),
            (row(2, true, None, "b"), 1),
        ],
    );
    assert_eq!(got[0].0.as_deref(), Some("42"));
    assert_eq!(got[1].0, None);
    let mut config = upsert(&["s"]);
    config.key_format = KeyFormat::Text;
    let got = keyed(
        &mut *json_with(config),
        1,
        &[(row(1, true, None, "Zoë, \"q\""), 1)],
    );
    assert_eq!(got[0].0.as_deref(), Some("Zoë, \"q\""));
}

#[test]
fn insert_delete_with_key_fields_keys_every_message() {
    let mut enc = json_with(JsonEncoderConfig {
        key_fields: Some(vec!["id".into()]),
        ..JsonEncoderConfig::default()
    });
    let got = keyed(&mut *enc, 1, &batches()[1]);
    let keys: Vec<_> = got.iter().map(|(k, _)| k.clone().unwrap()).collect();
    assert_eq!(
        keys,
        vec![r#"{"id":2}"#, r#"{"id":2}"#, r#"{"id":3}"#, r#"{"id":3}"#]
    );
    assert!(got[0].1.as_deref().unwrap().starts_with(r#"{"delete":"#));
}

#[test]
fn raw_sends_rows_and_refuses_deletes_by_default() {
    let raw = |on_delete| JsonEncoderConfig {
        update_format: JsonUpdateFormat::Raw,
        on_delete,
        ..JsonEncoderConfig::default()
    };
    let mut enc = json_with(raw(None));
    let got = keyed(&mut *enc, 1, &[(row(5, false, None, ""), 2)]);
    let row5 = r#"{"id":5,"b":false,"i":null,"s":""}"#;
    assert_eq!(
        got,
        vec![(None, Some(row5.into())), (None, Some(row5.into()))]
    );
    let err = refused(&mut *enc, &batches()[0]);
    assert!(
        err.starts_with("view 'test_view' deleted 1 row(s) in step 9"),
        "{err}"
    );
    assert!(err.contains("on_delete"), "{err}");
    // `drop` sends the inserts only; `op_header` marks each message.
    let got = keyed(
        &mut *json_with(raw(Some(DeletePolicy::Drop))),
        1,
        &batches()[0],
    );
    assert_eq!(
        got,
        vec![(None, Some(r#"{"id":0,"b":true,"i":null,"s":"foo"}"#.into()))]
    );
    let mut enc = json_with(raw(Some(DeletePolicy::OpHeader)));
    let (messages, _) = encode(&mut *enc, &batches()[0]);
    let ops: Vec<_> = messages.iter().map(headers).collect();
    assert_eq!(
        ops,
        vec![
            vec![("sluice.op".to_string(), Some("delete".to_string()))],
            vec![("sluice.op".to_string(), Some("insert".to_string()))]
        ]
    );
}

fn headers(m: &EncodedMessage) -> Vec<(String, Option<String>)> {
    m.headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.as_deref().map(text)))
        .collect()
}

#[test]
fn header_fields_and_system_headers_name_the_column_op_view_and_step() {
    let mut enc = json_with(JsonEncoderConfig {
        header_fields: vec!["s".into(), "i".into()],
        system_headers: true,
        ..JsonEncoderConfig::default()
    });
    enc.begin_batch(BatchInfo {
        pipeline: "p",
        step: 12,
        snapshot: false,
    });
    let (messages, _) = encode(&mut *enc, &batches()[0]);
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        headers(&messages[0]),
        vec![
            ("s".to_string(), some("bar")),
            ("i".to_string(), some("10")),
            ("sluice.op".to_string(), some("delete")),
            ("sluice.view".to_string(), some("test_view")),
            ("sluice.step".to_string(), some("12")),
        ]
    );
    // NULL is a header without a value.
    assert_eq!(headers(&messages[1])[1], ("i".to_string(), None));
}

#[test]
fn headers_count_toward_the_message_size_limit() {
    let config = JsonEncoderConfig {
        header_fields: vec!["s".into()],
        ..JsonEncoderConfig::default()
    };
    let mut plain = json_with(config.clone());
    let (messages, _) = encode(&mut *plain, &batches()[0]);
    let size = messages[1].size();
    let limit = sluice_formats::MessageLimits {
        max_message_bytes: size - 1,
    };
    let mut tight = encoder(FormatConfig::Json(config), &test_view(), limit);
    let (messages, errors) = encode(&mut *tight, &batches()[0]);
    assert_eq!(messages.len(), 1, "the longer message is refused");
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn csv_keys_headers_and_plain_rows() {
    let csv = |weight_column, on_delete| CsvEncoderConfig {
        weight_column,
        on_delete,
        key_fields: Some(vec!["id".into()]),
        key_format: KeyFormat::Text,
        system_headers: true,
        ..CsvEncoderConfig::default()
    };
    let mut enc = encoder(FormatConfig::Csv(csv(true, None)), &test_view(), LARGE);
    let got = keyed(&mut *enc, 3, &batches()[0]);
    assert_eq!(
        got,
        vec![
            (Some("1".into()), Some("1,false,10,bar,-1\n".into())),
            (Some("0".into()), Some("0,true,,foo,1\n".into())),
        ]
    );
    let mut plain = encoder(FormatConfig::Csv(csv(false, None)), &test_view(), LARGE);
    let got = keyed(&mut *plain, 3, &batches()[1][1..]);
    assert_eq!(
        got,
        vec![(Some("3".into()), Some("3,false,10,bar\n".into())); 2]
    );
    let err = refused(&mut *plain, &batches()[1]);
    assert!(err.contains("CSV without the weight column"), "{err}");
    let mut dropping = encoder(
        FormatConfig::Csv(csv(false, Some(DeletePolicy::Drop))),
        &test_view(),
        LARGE,
    );
    assert_eq!(keyed(&mut *dropping, 3, &batches()[1]).len(), 2);
}

#[test]
fn key_and_header_columns_must_exist_in_the_view() {
    for config in [
        upsert(&["nope"]),
        JsonEncoderConfig {
            header_fields: vec!["nope".into()],
            ..JsonEncoderConfig::default()
        },
    ] {
        let err = sluice_formats::build_encoder(&FormatConfig::Json(config), &test_view(), LARGE)
            .err()
            .unwrap();
        assert!(err.field.starts_with("format.config."), "{err:?}");
        assert!(
            err.reason
                .contains("has no column 'nope'; its columns are: id, b, i, s"),
            "{err:?}"
        );
    }
}
