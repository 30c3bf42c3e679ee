//! The Avro encoder: one message per change (`raw`) or per changed key (`confluent_jdbc`), each value an Avro
//! datum of the view's record schema, in the Confluent wire format unless `skip_schema_id`.
//!
//! `raw`: the value is the row; a header `op` says `insert` or `delete` (Feldera's raw Avro output does the same),
//! and with `key_mode: key_fields` the key is the key columns as an Avro record. `confluent_jdbc`: key = the key
//! record, value = the row after the change, or none (a tombstone) when the key's row is gone; a key's delete and
//! insert in one step become one message, as for JSON `upsert`. `debezium`: Debezium's envelope (`debezium.rs`),
//! keyed by the key columns (a key's delete and insert in a step are one `u`) or by the whole row, with a
//! tombstone after each delete.

mod debezium;
mod parse;
mod read;
mod schema;
mod write;

use std::sync::Arc;

use sluice_data::{Field, Relation, Row};
use sluice_types::{AvroEncoderConfig, AvroUpdateFormat, ConfigError};

use crate::encoder::{
    for_each_change, BatchInfo, EncodedMessage, Encoder, MessageHeader, MessageLimits,
};
use crate::error::{EncodeError, ErrorContext, Mismatch, SinkError};
use crate::group::{GroupKey, Grouper, Unit};
use debezium::{Envelope, Op};
pub(crate) use parse::AvroParser;
pub use parse::SchemaLookup;
use schema::{RecordShape, Shape};
use write::write_record;

/// The Confluent wire format's magic byte.
const MAGIC: u8 = 0;

/// The key of each message: its columns' record, framed.
struct AvroKey {
    schema: String,
    columns: Vec<usize>,
    shapes: Vec<Shape>,
    header: Vec<u8>,
    buf: Vec<u8>,
    view: Relation,
}

impl GroupKey for AvroKey {
    fn key(&mut self, row: &Row) -> Result<Option<&[u8]>, (String, Mismatch)> {
        self.buf.clear();
        self.buf.extend_from_slice(&self.header);
        write_record(&self.shapes, row, Some(&self.columns), &mut self.buf)
            .map_err(|(c, m)| (self.view.fields[c].name.clone(), m))?;
        Ok(Some(&self.buf))
    }

    fn preview(&mut self, row: &Row) -> String {
        Row(self.columns.iter().map(|&c| row.0[c].clone()).collect()).to_string()
    }
}

enum Mode {
    Raw,
    /// One message per changed key; a key with two rows is refused (the pipeline refuses keys it cannot vouch
    /// for at start, so the per-step check is the last line).
    ConfluentJdbc(Grouper),
    /// Debezium's envelope; grouped by key (into `u` messages) when the key is `key_fields`.
    Debezium(Option<Grouper>),
}

/// The Avro encoder of one view.
pub(crate) struct AvroEncoder {
    context: ErrorContext,
    view: Relation,
    value: RecordShape,
    /// The value schema as written: the row record, or Debezium's envelope around it.
    value_schema: String,
    value_header: Vec<u8>,
    key: Option<AvroKey>,
    mode: Mode,
    envelope: Envelope,
    limit: usize,
    step: u64,
    op_name: Arc<str>,
}

/// The Confluent header (magic byte, big-endian schema id), or nothing with `skip_schema_id`.
fn header(config: &AvroEncoderConfig, id: Option<u32>) -> Vec<u8> {
    if config.skip_schema_id {
        return Vec::new();
    }
    let mut h = vec![MAGIC];
    h.extend_from_slice(&id.unwrap_or(0).to_be_bytes());
    h
}

impl AvroEncoder {
    /// The encoder of `config` for `view`; `key_fields` (in `config`, or set from the connector's `index`) name the
    /// key columns.
    pub fn new(
        config: &AvroEncoderConfig,
        view: &Relation,
        limits: MessageLimits,
    ) -> Result<Self, ConfigError> {
        config.validate_for_output(false)?;
        if !config.registry_urls.is_empty() {
            // The ids come from the registry: whoever starts the connector registers first (the pipeline does) and
            // gives the encoder a config with the ids and without the registry.
            return Err(ConfigError::new(
                "registry_urls",
                "the schemas must be registered before the encoder is built; give the registry's ids in schema_id \
                 and key_schema_id",
            ));
        }
        let namespace = config.namespace.as_deref();
        let all: Vec<&Field> = view.fields.iter().collect();
        let value = match &config.schema {
            Some(text) => schema::given(text, view, true)?,
            None => schema::generate(&view.name, namespace, &all)?,
        };
        let key = match (&config.key_fields, config.keyed(false)) {
            // Debezium without key columns keys each message by the whole row.
            (None, true) => Some(AvroKey {
                schema: value.text.clone(),
                columns: (0..view.fields.len()).collect(),
                shapes: value.fields.clone(),
                header: header(config, config.key_schema_id),
                buf: Vec::new(),
                view: view.clone(),
            }),
            (Some(names), true) => {
                let columns = names
                    .iter()
                    .map(|n| {
                        view.field_index(n).ok_or_else(|| {
                            ConfigError::new(
                                "key_fields",
                                format!("view '{}' has no column '{n}'", view.name),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let fields: Vec<&Field> = columns.iter().map(|&c| &view.fields[c]).collect();
                let shape = schema::generate(&format!("{}_key", view.name), namespace, &fields)?;
                Some(AvroKey {
                    schema: shape.text,
                    columns,
                    shapes: shape.fields,
                    header: header(config, config.key_schema_id),
                    buf: Vec::new(),
                    view: view.clone(),
                })
            }
            _ => None,
        };
        let (mode, value_schema) = match config.update_format {
            AvroUpdateFormat::ConfluentJdbc => {
                (Mode::ConfluentJdbc(Grouper::default()), value.text.clone())
            }
            AvroUpdateFormat::Debezium => {
                if ["Envelope", "Source"].contains(&value.fullname.rsplit('.').next().unwrap_or(""))
                {
                    return Err(ConfigError::new(
                        "schema",
                        format!(
                            "the row record is called '{}', a name Debezium's envelope uses itself; rename the \
                             view or give a schema with another record name",
                            value.fullname
                        ),
                    ));
                }
                let grouped = config.key_fields.is_some().then(Grouper::default);
                (Mode::Debezium(grouped), schema::envelope(&value, namespace))
            }
            AvroUpdateFormat::Raw => (Mode::Raw, value.text.clone()),
        };
        Ok(AvroEncoder {
            context: ErrorContext::new(&view.name),
            view: view.clone(),
            value_header: header(config, config.schema_id),
            value,
            value_schema,
            key,
            mode,
            envelope: Envelope::new(&view.name),
            limit: limits.max_message_bytes,
            step: 0,
            op_name: Arc::from("op"),
        })
    }

    /// The value schema and, for keyed messages, the key schema, as JSON text (what a consumer decodes with, and
    /// what a schema registry is given).
    pub fn schemas(&self) -> (String, Option<String>) {
        (
            self.value_schema.clone(),
            self.key.as_ref().map(|k| k.schema.clone()),
        )
    }

    /// The framed value datum of `row`, or the error naming its column.
    fn value_of(&self, row: &Row) -> Result<Vec<u8>, EncodeError> {
        let mut out = self.value_header.clone();
        write_record(&self.value.fields, row, None, &mut out).map_err(|(c, m)| {
            self.context
                .type_mismatch(row, &self.view.fields[c].name, m)
        })?;
        Ok(out)
    }

    /// Sends `message` unless it is larger than the transport takes, which is reported instead.
    fn send(
        &self,
        message: EncodedMessage,
        copies: u64,
        sink: &mut dyn FnMut(EncodedMessage) -> Result<(), SinkError>,
        errors: &mut Vec<EncodeError>,
    ) -> Result<(), SinkError> {
        let size = message.size();
        if size > self.limit {
            let shown = message
                .value
                .as_deref()
                .or(message.key.as_deref())
                .unwrap_or(&[]);
            errors.push(self.context.too_large(shown, size, self.limit, copies));
            return Ok(());
        }
        for _ in 1..copies {
            sink(message.clone())?;
        }
        sink(message)
    }

    fn raw_change(
        &mut self,
        row: &Row,
        weight: i64,
        sink: &mut dyn FnMut(EncodedMessage) -> Result<(), SinkError>,
        errors: &mut Vec<EncodeError>,
    ) -> Result<(), SinkError> {
        let Some(copies) = self.context.copies(row, weight, errors) else {
            return Ok(());
        };
        let value = match self.value_of(row) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                return Ok(());
            }
        };
        let key = match &mut self.key {
            None => None,
            Some(k) => match k.key(row) {
                Ok(key) => key.map(<[u8]>::to_vec),
                Err((column, m)) => {
                    errors.push(self.context.type_mismatch(row, &column, m));
                    return Ok(());
                }
            },
        };
        let op: &[u8] = if weight > 0 { b"insert" } else { b"delete" };
        let message = EncodedMessage {
            key,
            value: Some(value),
            headers: vec![MessageHeader {
                name: self.op_name.clone(),
                value: Some(op.to_vec()),
            }],
            records: 1,
        };
        self.send(message, copies, sink, errors)
    }
}

impl AvroEncoder {
    /// `confluent_jdbc`: one message per changed key of the step.
    fn upserts(
        &self,
        delta: &[(Row, i64)],
        key: &mut AvroKey,
        grouper: &mut Grouper,
        sink: &mut dyn FnMut(EncodedMessage) -> Result<(), SinkError>,
        errors: &mut Vec<EncodeError>,
    ) -> Result<(), SinkError> {
        let units = grouper
            .group(delta, key, true, &self.context, errors)
            .map_err(|d| d.refusal(self.context.view(), self.step))?;
        for unit in units {
            let value = match unit {
                Unit::Delete(_) => None,
                Unit::Insert(after) | Unit::Update { after, .. } => match self.value_of(after) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                },
            };
            let row = unit.row();
            let key = match key.key(row) {
                Ok(k) => k.map(<[u8]>::to_vec),
                Err((column, m)) => {
                    errors.push(self.context.type_mismatch(row, &column, m));
                    continue;
                }
            };
            let message = EncodedMessage {
                key,
                value,
                headers: Vec::new(),
                records: 1,
            };
            self.send(message, 1, sink, errors)?;
        }
        Ok(())
    }
}

impl AvroEncoder {
    /// A Debezium message of a change (`row` gives the key) and, after a delete, its tombstone; `copies` times.
    #[allow(clippy::too_many_arguments)]
    fn debezium_message(
        &self,
        key: &mut AvroKey,
        row: &Row,
        (before, after, op): (Option<&Row>, Option<&Row>, Op),
        copies: u64,
        sink: &mut dyn FnMut(EncodedMessage) -> Result<(), SinkError>,
        errors: &mut Vec<EncodeError>,
    ) -> Result<(), SinkError> {
        let mut value = self.value_header.clone();
        if let Err((c, m)) = self
            .envelope
            .write(&self.value.fields, before, after, op, &mut value)
        {
            errors.push(
                self.context
                    .type_mismatch(row, &self.view.fields[c].name, m),
            );
            return Ok(());
        }
        let key = match key.key(row) {
            Ok(k) => k.map(<[u8]>::to_vec),
            Err((column, m)) => {
                errors.push(self.context.type_mismatch(row, &column, m));
                return Ok(());
            }
        };
        let message = EncodedMessage {
            key: key.clone(),
            value: Some(value),
            headers: Vec::new(),
            records: 1,
        };
        for _ in 0..copies {
            self.send(message.clone(), 1, sink, errors)?;
            if op == Op::Delete {
                let tombstone = EncodedMessage {
                    key: key.clone(),
                    value: None,
                    headers: Vec::new(),
                    records: 0,
                };
                self.send(tombstone, 1, sink, errors)?;
            }
        }
        Ok(())
    }

    /// `debezium`: per changed key (`grouper`), or per change.
    fn debezium(
        &self,
        delta: &[(Row, i64)],
        key: &mut AvroKey,
        grouper: Option<&mut Grouper>,
        sink: &mut dyn FnMut(EncodedMessage) -> Result<(), SinkError>,
        errors: &mut Vec<EncodeError>,
    ) -> Result<(), SinkError> {
        let insert = self.envelope.insert_op();
        let Some(grouper) = grouper else {
            return for_each_change(delta, |row, weight| {
                let Some(copies) = self.context.copies(row, weight, errors) else {
                    return Ok(());
                };
                let change = if weight > 0 {
                    (None, Some(row), insert)
                } else {
                    (Some(row), None, Op::Delete)
                };
                self.debezium_message(key, row, change, copies, sink, errors)
            });
        };
        let units = grouper
            .group(delta, key, true, &self.context, errors)
            .map_err(|d| d.refusal(self.context.view(), self.step))?;
        for unit in units {
            let change = match unit {
                Unit::Insert(after) => (None, Some(after), insert),
                Unit::Delete(before) => (Some(before), None, Op::Delete),
                Unit::Update { before, after } => (Some(before), Some(after), Op::Update),
            };
            self.debezium_message(key, unit.row(), change, 1, sink, errors)?;
        }
        Ok(())
    }
}

impl Encoder for AvroEncoder {
    fn begin_batch(&mut self, batch: BatchInfo<'_>) {
        self.step = batch.step;
        if matches!(self.mode, Mode::Debezium(_)) {
            self.envelope
                .begin_batch(batch.pipeline, batch.step, batch.snapshot);
        }
    }

    fn encode(
        &mut self,
        delta: &[(Row, i64)],
        sink: &mut dyn FnMut(EncodedMessage) -> Result<(), SinkError>,
    ) -> Result<Vec<EncodeError>, SinkError> {
        let mut errors = Vec::new();
        match std::mem::replace(&mut self.mode, Mode::Raw) {
            Mode::Raw => {
                for_each_change(delta, |row, weight| {
                    self.raw_change(row, weight, sink, &mut errors)
                })?;
            }
            Mode::ConfluentJdbc(mut grouper) => {
                let mut key = self
                    .key
                    .take()
                    .expect("confluent_jdbc is keyed (checked when built)");
                let result = self.upserts(delta, &mut key, &mut grouper, sink, &mut errors);
                self.key = Some(key);
                self.mode = Mode::ConfluentJdbc(grouper);
                result?;
            }
            Mode::Debezium(mut grouper) => {
                let mut key = self.key.take().expect("debezium is keyed");
                let result = self.debezium(delta, &mut key, grouper.as_mut(), sink, &mut errors);
                self.key = Some(key);
                self.mode = Mode::Debezium(grouper);
                result?;
            }
        }
        Ok(errors)
    }
}
