//! The `debezium` update format: one keyed message per change, in Kafka Connect envelopes, as Debezium's own
//! connectors write them.
//!
//! The key is `{"schema":<Key struct>,"payload":<key columns, or the whole record>}`; the value is
//! `{"schema":<Envelope>,"payload":{"before":..,"after":..,"source":{..},"op":"c"|"u"|"d","ts_ms":..}}`, where
//! `source` says where the change comes from (`connector: "sluice"`, the pipeline as `name` and `db`, the view as
//! `table`, the step, the time). With `key_fields` a key's delete and insert in one step are one `u` message with
//! both images (see `group`); keyed by the whole record, an update is a `d` and a `c`. After each `d` comes a
//! tombstone (the key, no value) unless `tombstones` is false, so that compaction can forget the key. Only the
//! `kafka_connect_json_converter` flavor carries the `schema` parts; other flavors write `{"payload":...}` alone.

use sluice_data::Relation;
use sluice_types::{ConfigError, JsonEncoderConfig, JsonFlavor};

use crate::encoder::Output;
use crate::error::SinkError;
use crate::keys::{column_indices, Decor, Keys, Op, Record};
use crate::text::{write_int, write_json_string};

use super::schema;
use super::values::JsonWriter;

/// The prepared texts and scratch space of one Debezium encoder.
pub(super) struct Debezium {
    /// `{"schema":<envelope>,"payload":{"before":` (without the schema when the flavor has none).
    value_prefix: Vec<u8>,
    /// The view's name as a JSON string.
    table: Vec<u8>,
    /// This batch's `,"source":{..},"op":"`, rebuilt by [`Debezium::begin_batch`].
    source: Vec<u8>,
    /// This batch's `","ts_ms":<ms>}}`.
    tail: Vec<u8>,
    tombstones: bool,
    /// This batch is a snapshot: inserts are `r` (read) rows, as Debezium writes a table's initial contents.
    snapshot: bool,
    value: Vec<u8>,
}

/// The text written for an absent image.
const NULL: &[u8] = b"null";

impl Debezium {
    /// The envelopes for `view`, and the keys of its messages (with `key_fields` checked against its columns).
    pub fn new(
        config: &JsonEncoderConfig,
        view: &Relation,
        writer: JsonWriter,
    ) -> Result<(Self, Keys), ConfigError> {
        let with_schema = config.effective_flavor() == JsonFlavor::KafkaConnectJsonConverter;
        let key_schema = with_schema.then(|| {
            let indices = match &config.key_fields {
                Some(names) => column_indices(view, "key_fields", names)?,
                None => (0..view.fields.len()).collect(),
            };
            Ok::<_, ConfigError>(schema::key_schema(indices.iter().map(|&i| &view.fields[i])))
        });
        let key_schema = key_schema.transpose()?;
        let keys = Keys::new(&config.message_options(), view, writer, true)?
            .expect("debezium messages are always keyed")
            .wrapped(schema_and_payload(key_schema.as_deref()), b"}");
        let envelope = with_schema.then(|| schema::envelope_schema(&view.fields));
        let mut value_prefix = schema_and_payload(envelope.as_deref());
        value_prefix.extend_from_slice(br#"{"before":"#);
        let mut table = Vec::new();
        write_json_string(&mut table, &view.name);
        let mut debezium = Debezium {
            value_prefix,
            table,
            source: Vec::new(),
            tail: Vec::new(),
            tombstones: config.tombstones.unwrap_or(true),
            snapshot: false,
            value: Vec::new(),
        };
        debezium.begin_batch("", 0, false, 0);
        Ok((debezium, keys))
    }

    /// Prepares the `source` block and times of one batch (`snapshot`: of a snapshot's batch).
    pub fn begin_batch(&mut self, pipeline: &str, step: u64, snapshot: bool, ts_ms: i64) {
        self.snapshot = snapshot;
        let s = &mut self.source;
        s.clear();
        s.extend_from_slice(br#","source":{"version":"#);
        write_json_string(s, env!("CARGO_PKG_VERSION"));
        s.extend_from_slice(br#","connector":"sluice","name":"#);
        write_json_string(s, pipeline);
        s.extend_from_slice(br#","ts_ms":"#);
        write_int(s, ts_ms);
        s.extend_from_slice(if snapshot {
            br#","snapshot":"true","db":"#
        } else {
            br#","snapshot":"false","db":"#
        });
        write_json_string(s, pipeline);
        s.extend_from_slice(br#","table":"#);
        s.extend_from_slice(&self.table);
        s.extend_from_slice(br#","step":"#);
        write_int(s, step);
        s.extend_from_slice(br#"},"op":""#);
        self.tail.clear();
        self.tail.extend_from_slice(br#"","ts_ms":"#);
        write_int(&mut self.tail, ts_ms);
        self.tail.extend_from_slice(b"}}");
    }

    /// The smallest value, given the smallest record object (an insert: `before` null).
    pub fn min_value_len(&self, record_min: usize) -> usize {
        self.value_prefix.len()
            + NULL.len()
            + r#","after":"#.len()
            + record_min
            + self.source.len()
            + "c".len()
            + self.tail.len()
    }

    /// Sends the message of one change of `record.row`: `before` and `after` are the record objects of the two
    /// images (`None`: null), `record.op` says which of `c`, `u`, `d`. A `d` is followed by its tombstone.
    pub fn send(
        &mut self,
        decor: &mut Decor,
        out: &mut Output<'_, '_>,
        record: Record<'_>,
        before: Option<&[u8]>,
        after: Option<&[u8]>,
        copies: u64,
    ) -> Result<(), SinkError> {
        let v = &mut self.value;
        v.clear();
        v.extend_from_slice(&self.value_prefix);
        v.extend_from_slice(before.unwrap_or(NULL));
        v.extend_from_slice(br#","after":"#);
        v.extend_from_slice(after.unwrap_or(NULL));
        v.extend_from_slice(&self.source);
        v.push(match record.op {
            Op::Insert if self.snapshot => b'r',
            Op::Insert => b'c',
            Op::Update => b'u',
            Op::Delete => b'd',
        });
        v.extend_from_slice(&self.tail);
        let op = record.op;
        let (row, shown) = (record.row, record.record);
        decor.send(
            out,
            Record {
                value: Some(&self.value),
                ..record
            },
            copies,
        )?;
        if op == Op::Delete && self.tombstones {
            let tombstone = Record {
                row,
                record: shown,
                value: None,
                op,
                records: 0,
            };
            decor.send(out, tombstone, 1)?;
        }
        Ok(())
    }
}

/// `{"schema":<schema>,"payload":`, or `{"payload":` without a schema.
fn schema_and_payload(schema: Option<&[u8]>) -> Vec<u8> {
    let mut text = b"{".to_vec();
    if let Some(schema) = schema {
        text.extend_from_slice(br#""schema":"#);
        text.extend_from_slice(schema);
        text.push(b',');
    }
    text.extend_from_slice(br#""payload":"#);
    text
}

#[cfg(test)]
mod tests {
    use crate::json::tests::{config, limits, run, view};
    use crate::json::JsonEncoder;
    use crate::{BatchInfo, EncodeError, EncodedMessage, Encoder};
    use sluice_data::{Row, Value};
    use sluice_types::{JsonFlavor, JsonUpdateFormat};

    fn row(a: i64, b: Option<i64>) -> Row {
        Row(vec![Value::BigInt(a), b.map_or(Value::Null, Value::BigInt)])
    }

    /// Encodes one batch of step 7 of pipeline "p", returning the messages as (key, value) text.
    fn messages(
        enc: &mut JsonEncoder,
        delta: &[(Row, i64)],
    ) -> Vec<(String, Option<serde_json::Value>)> {
        batch(enc, delta, false)
    }

    /// [`messages`] of a snapshot's batch or a changes' batch.
    fn batch(
        enc: &mut JsonEncoder,
        delta: &[(Row, i64)],
        snapshot: bool,
    ) -> Vec<(String, Option<serde_json::Value>)> {
        enc.begin_batch(BatchInfo {
            pipeline: "p",
            step: 7,
            snapshot,
        });
        let mut out = Vec::new();
        let errors = enc
            .encode(delta, &mut |m: EncodedMessage| {
                let key = String::from_utf8(m.key.unwrap()).unwrap();
                let value = m.value.map(|v| serde_json::from_slice(&v).unwrap());
                out.push((key, value));
                Ok(())
            })
            .unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        out
    }

    fn bare(key_fields: Option<&[&str]>) -> JsonEncoder {
        let mut format = config(JsonUpdateFormat::Debezium, false);
        format.json_flavor = Some(JsonFlavor::Default);
        format.key_fields = key_fields.map(|k| k.iter().map(|s| s.to_string()).collect());
        JsonEncoder::new(&format, &view(), limits(10_000)).unwrap()
    }

    #[test]
    fn all_copies_of_a_record_too_large_are_reported_once() {
        let format = config(JsonUpdateFormat::Debezium, false);
        let mut enc = JsonEncoder::new(&format, &view(), limits(usize::MAX)).unwrap();
        let mut size = 0;
        enc.encode(&[(row(1, Some(0)), 1)], &mut |m| {
            size = m.size();
            Ok(())
        })
        .unwrap();
        let mut enc = JsonEncoder::new(&format, &view(), limits(size)).unwrap();
        let (messages, errors) = run(&mut enc, &[(row(10, Some(0)), 3)]);
        assert!(messages.is_empty());
        let [EncodeError::RecordTooLarge {
            size: needed,
            limit,
            copies,
            record,
            ..
        }] = &errors[..]
        else {
            panic!("{errors:?}")
        };
        // The key and the value each hold the record once, so one more digit costs two bytes.
        assert_eq!((*needed, *limit, *copies), (size + 2, size, 3));
        assert_eq!(record, r#"{"a":10,"b":0}"#);
    }

    #[test]
    fn an_update_of_a_key_is_one_u_message_with_both_images() {
        let mut enc = bare(Some(&["a"]));
        let got = messages(&mut enc, &[(row(1, Some(5)), -1), (row(1, Some(6)), 1)]);
        assert_eq!(got.len(), 1, "{got:?}");
        let (key, value) = &got[0];
        assert_eq!(key, r#"{"payload":{"a":1}}"#);
        let payload = &value.as_ref().unwrap()["payload"];
        assert_eq!(payload["op"], "u");
        assert_eq!(payload["before"], serde_json::json!({"a": 1, "b": 5}));
        assert_eq!(payload["after"], serde_json::json!({"a": 1, "b": 6}));
        let source = &payload["source"];
        assert_eq!(
            (
                &source["connector"],
                &source["name"],
                &source["table"],
                &source["step"]
            ),
            (&"sluice".into(), &"p".into(), &"v".into(), &7.into())
        );
        assert!(payload["ts_ms"].as_i64().unwrap() > 1_700_000_000_000);
        assert_eq!(source["ts_ms"], payload["ts_ms"]);
    }

    #[test]
    fn snapshot_rows_are_r_with_source_snapshot_true_and_changes_after_them_c() {
        let mut enc = bare(Some(&["a"]));
        let op_and_snapshot = |got: Vec<(String, Option<serde_json::Value>)>| {
            got.into_iter()
                .map(|(_, v)| {
                    let p = &v.unwrap()["payload"];
                    (p["op"].clone(), p["source"]["snapshot"].clone())
                })
                .collect::<Vec<_>>()
        };
        let snapshot = batch(&mut enc, &[(row(1, None), 1), (row(2, Some(3)), 1)], true);
        assert_eq!(
            op_and_snapshot(snapshot),
            vec![("r".into(), "true".into()), ("r".into(), "true".into())]
        );
        let changes = batch(&mut enc, &[(row(4, None), 1)], false);
        assert_eq!(op_and_snapshot(changes), vec![("c".into(), "false".into())]);
    }

    #[test]
    fn a_delete_is_followed_by_its_tombstone_unless_switched_off() {
        let mut enc = bare(Some(&["a"]));
        let got = messages(&mut enc, &[(row(2, None), -1), (row(3, None), 1)]);
        let ops: Vec<_> = got
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_ref().map(|v| v["payload"]["op"].clone())))
            .collect();
        assert_eq!(
            ops,
            vec![
                (r#"{"payload":{"a":2}}"#, Some("d".into())),
                (r#"{"payload":{"a":2}}"#, None),
                (r#"{"payload":{"a":3}}"#, Some("c".into())),
            ]
        );
        assert_eq!(
            got[0].1.as_ref().unwrap()["payload"]["after"],
            serde_json::Value::Null
        );
        let mut format = config(JsonUpdateFormat::Debezium, false);
        format.tombstones = Some(false);
        let mut enc = JsonEncoder::new(&format, &view(), limits(100_000)).unwrap();
        let got = messages(&mut enc, &[(row(2, None), -1)]);
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn keyed_by_the_whole_record_an_update_is_a_delete_and_a_create() {
        let mut enc = bare(None);
        let got = messages(&mut enc, &[(row(1, Some(5)), -1), (row(1, Some(6)), 1)]);
        let ops: Vec<_> = got
            .iter()
            .map(|(_, v)| v.as_ref().map(|v| v["payload"]["op"].clone()))
            .collect();
        assert_eq!(ops, vec![Some("d".into()), None, Some("c".into())]);
        assert_eq!(got[0].0, r#"{"payload":{"a":1,"b":5}}"#);
    }
}
