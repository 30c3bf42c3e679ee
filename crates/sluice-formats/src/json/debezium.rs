//! The `debezium` update format: one keyed message per copy of a record, in Kafka Connect envelopes.
//!
//! The key is `{"schema":<Key struct>,"payload":<key columns, or the whole record>}`; the value is
//! `{"schema":<Envelope>,"payload":{"op":"c","after":<record>}}` for an insert and `{"op":"d","before":...}` for a
//! delete. Only the `kafka_connect_json_converter` flavor carries the `schema` parts; other flavors write
//! `{"payload":...}` alone.

use sluice_data::{Relation, Row};
use sluice_types::{ConfigError, JsonEncoderConfig, JsonFlavor};

use crate::encoder::Output;
use crate::error::SinkError;

use super::record::polarity;
use super::record::ObjectWriter;
use super::schema;
use super::values::JsonWriter;

/// The prepared texts and scratch space of one Debezium encoder.
pub(super) struct Debezium {
    /// The key columns, or `None` to key by the whole record.
    key: Option<ObjectWriter>,
    /// `{"schema":<key schema>,"payload":` (without the schema when the flavor has none).
    key_prefix: Vec<u8>,
    /// `{"schema":<envelope>,"payload":{"op":"c","after":` and the `"op":"d","before":` form.
    value_prefixes: [Vec<u8>; 2],
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

impl Debezium {
    /// The envelopes for `view`, with `key_fields` checked against its columns.
    pub fn new(
        config: &JsonEncoderConfig,
        view: &Relation,
        writer: JsonWriter,
    ) -> Result<Self, ConfigError> {
        if config.array {
            return Err(ConfigError::new(
                "format.config.array",
                "the 'debezium' update format writes one envelope per message; remove array or set it to false",
            ));
        }
        let key_indices = match &config.key_fields {
            None => None,
            Some(names) => Some(key_indices(view, names)?),
        };
        let with_schema = config.effective_flavor() == JsonFlavor::KafkaConnectJsonConverter;
        let key_schema = with_schema.then(|| {
            let all = 0..view.fields.len();
            let indices: Vec<usize> = key_indices.clone().unwrap_or_else(|| all.collect());
            schema::key_schema(indices.iter().map(|&i| &view.fields[i]))
        });
        let envelope = with_schema.then(|| schema::envelope_schema(&view.fields));
        let value_prefixes = [r#""op":"c","after":"#, r#""op":"d","before":"#].map(|op| {
            let mut prefix = schema_and_payload(envelope.as_deref());
            prefix.push(b'{');
            prefix.extend_from_slice(op.as_bytes());
            prefix
        });
        Ok(Debezium {
            key: key_indices.map(|indices| ObjectWriter::new(&view.fields, indices, writer)),
            key_prefix: schema_and_payload(key_schema.as_deref()),
            value_prefixes,
            key_buf: Vec::new(),
            value_buf: Vec::new(),
        })
    }

    /// The smallest message, given the smallest record object: key and value with one-byte values.
    pub fn min_len(&self, record_min: usize) -> usize {
        let key = self.key.as_ref().map_or(record_min, ObjectWriter::min_len);
        let value_prefix = self.value_prefixes[0]
            .len()
            .min(self.value_prefixes[1].len());
        self.key_prefix.len() + key + "}".len() + value_prefix + record_min + "}}".len()
    }

    /// Sends `copies` keyed messages for `row`, whose whole object is `record`.
    pub fn send(
        &mut self,
        row: &Row,
        record: &[u8],
        insert: bool,
        copies: u64,
        out: &mut Output<'_, '_>,
    ) -> Result<(), SinkError> {
        self.key_buf.clear();
        self.key_buf.extend_from_slice(&self.key_prefix);
        if let Some(key) = &self.key {
            let written = key.write(&mut self.key_buf, row);
            debug_assert!(
                written.is_ok(),
                "key columns are checked with the whole record"
            );
        } else {
            self.key_buf.extend_from_slice(record);
        }
        self.key_buf.push(b'}');
        self.value_buf.clear();
        self.value_buf
            .extend_from_slice(&self.value_prefixes[polarity(insert)]);
        self.value_buf.extend_from_slice(record);
        self.value_buf.extend_from_slice(b"}}");
        for _ in 0..copies {
            if let Err(size) = out
                .packer
                .send_keyed(&self.key_buf, &self.value_buf, out.sink)?
            {
                out.too_large(record, size, copies);
                break;
            }
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

/// The column indices of `names`, or an error naming the first unknown one and listing the view's columns.
fn key_indices(view: &Relation, names: &[String]) -> Result<Vec<usize>, ConfigError> {
    names
        .iter()
        .map(|name| {
            view.field_index(name).ok_or_else(|| {
                let columns: Vec<&str> = view.fields.iter().map(|f| f.name.as_str()).collect();
                ConfigError::new(
                    "format.config.key_fields",
                    format!(
                        "view '{}' has no column '{name}'; its columns are: {}",
                        view.name,
                        columns.join(", ")
                    ),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::json::tests::{config, limits, run, view};
    use crate::json::JsonEncoder;
    use crate::EncodeError;
    use sluice_data::{Row, Value};
    use sluice_types::JsonUpdateFormat;

    #[test]
    fn all_copies_of_a_record_too_large_are_reported_once() {
        let format = config(JsonUpdateFormat::Debezium, false);
        let min = JsonEncoder::new(&format, &view(), limits(usize::MAX))
            .unwrap()
            .min_message_bytes();
        let mut enc = JsonEncoder::new(&format, &view(), limits(min)).unwrap();
        let long = Row(vec![Value::BigInt(10), Value::BigInt(0)]);
        let (messages, errors) = run(&mut enc, &[(long, 3)]);
        assert!(messages.is_empty());
        let [EncodeError::RecordTooLarge {
            size,
            limit,
            copies,
            record,
            ..
        }] = &errors[..]
        else {
            panic!("{errors:?}")
        };
        // The key and the value each hold the record once, so one more digit costs two bytes.
        assert_eq!((*size, *limit, *copies), (min + 2, min, 3));
        assert_eq!(record, r#"{"a":10,"b":0}"#);
    }

    #[test]
    fn without_schemas_the_key_and_value_are_bare_payloads() {
        let mut format = config(JsonUpdateFormat::Debezium, false);
        format.json_flavor = Some(sluice_types::JsonFlavor::Snowflake);
        format.key_fields = Some(vec!["b".into()]);
        let mut enc = JsonEncoder::new(&format, &view(), limits(1000)).unwrap();
        let mut keys = Vec::new();
        let errors = crate::Encoder::encode(
            &mut enc,
            &[(Row(vec![Value::BigInt(1), Value::Null]), 1)],
            &mut |m| {
                keys.push((m.key.unwrap(), m.value));
                Ok(())
            },
        )
        .unwrap();
        assert!(errors.is_empty());
        assert_eq!(
            keys,
            vec![(
                br#"{"payload":{"b":null}}"#.to_vec(),
                br#"{"payload":{"op":"c","after":{"a":1,"b":null}}}"#.to_vec()
            )]
        );
    }
}
