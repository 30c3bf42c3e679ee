//! The JSON encoder: `insert_delete`, `upsert`, `debezium`, `raw` and `snowflake` update formats.
//!
//! Each copy of a record (a weight `w` gives `|w|` copies) is one JSON value. `insert_delete` and `raw` pack up
//! to `buffer_size_records` of them per message, newline-separated or as one array, unless each message has a
//! key or headers of its own (`keys`); `snowflake` writes one per message. `upsert` and `debezium` with
//! `key_fields` group the step by key first (`group`) and send one message per changed key. Value spelling per
//! flavor is in [`values`], the object of a row in [`record`], the record-per-message formats in [`snowflake`]
//! and [`debezium`], and Kafka Connect schemas in [`schema`].

mod debezium;
pub(crate) mod record;
mod schema;
mod snowflake;
pub(crate) mod values;

use sluice_data::{Relation, Row};
use sluice_types::{ConfigError, DeletePolicy, JsonEncoderConfig, JsonUpdateFormat};

use crate::encoder::{
    check_limit, for_each_change, BatchInfo, Encoder, Framing, MessageLimits, Output, Packer, Sink,
};
use crate::error::{EncodeError, ErrorContext, SinkError, StepRefused};
use crate::group::{Grouper, Unit};
use crate::keys::{Decor, Headers, Keys, Op, Record};
use crate::time::now_ms;
use crate::visit::check_arity;
use debezium::Debezium;
use record::{polarity, ObjectWriter};
use snowflake::Snowflake;
use values::JsonWriter;

/// What surrounds each record, per update format.
enum Mode {
    /// `{"insert":` / `{"delete":` before the record, `}` after.
    InsertDelete,
    /// The record's members, then `__action`, `__stream_id` and `__seq_number`.
    Snowflake(Snowflake),
    /// The record alone; deletes as the policy says.
    Raw(DeletePolicy),
    /// The record after the change, or a tombstone.
    Upsert,
    /// A keyed Kafka Connect envelope per change.
    Debezium(Debezium),
}

/// How `upsert` and keyed `debezium` find each key's changes.
struct Grouping {
    /// The key as grouped (unwrapped).
    keys: Keys,
    enforce: bool,
    grouper: Grouper,
}

/// Encodes a view's changes as JSON.
pub(crate) struct JsonEncoder {
    context: ErrorContext,
    columns: usize,
    record: ObjectWriter,
    mode: Mode,
    packer: Packer,
    decor: Decor,
    grouping: Option<Grouping>,
    pipeline: String,
    step: u64,
    /// The batch is a snapshot's (see [`BatchInfo::snapshot`]).
    snapshot: bool,
    /// The record object, reused across records.
    rec: Vec<u8>,
    /// The old image of a Debezium update.
    before: Vec<u8>,
    /// The `insert_delete` value, reused across records.
    value: Vec<u8>,
}

impl JsonEncoder {
    /// An encoder for `view`, after checking `config` against it and `limits`.
    pub fn new(
        config: &JsonEncoderConfig,
        view: &Relation,
        limits: MessageLimits,
    ) -> Result<Self, ConfigError> {
        config
            .validate_for_output()
            .map_err(|e| e.within("format.config"))?;
        let writer = JsonWriter::new(config.effective_flavor());
        let options = config.message_options();
        let format = config.update_format;
        let whole_record_key = format == JsonUpdateFormat::Upsert;
        let (mode, keys) = match format {
            JsonUpdateFormat::Snowflake => (
                Mode::Snowflake(Snowflake::new(rand::random::<u64>() >> 1)),
                Keys::new(&options, view, writer, false)?,
            ),
            JsonUpdateFormat::Debezium => {
                let (debezium, keys) = Debezium::new(config, view, writer)?;
                (Mode::Debezium(debezium), Some(keys))
            }
            JsonUpdateFormat::Raw => (
                Mode::Raw(config.delete_policy()),
                Keys::new(&options, view, writer, false)?,
            ),
            JsonUpdateFormat::Upsert => (
                Mode::Upsert,
                Keys::new(&options, view, writer, whole_record_key)?,
            ),
            _ => (
                Mode::InsertDelete,
                Keys::new(&options, view, writer, false)?,
            ),
        };
        let op_only =
            format == JsonUpdateFormat::Raw && config.delete_policy() == DeletePolicy::OpHeader;
        let decor = Decor {
            keys,
            headers: Headers::new(&options, view, op_only)?,
        };
        let grouping = if config.groups_by_key() {
            let keys = Keys::new(&options, view, writer, true)?.expect("grouped formats have keys");
            Some(Grouping {
                keys,
                enforce: config.enforces_unique_key(),
                grouper: Grouper::default(),
            })
        } else {
            None
        };
        let framing = if config.array {
            Framing {
                prefix: b"[".to_vec(),
                separator: b",",
                suffix: b"]",
            }
        } else {
            Framing {
                separator: b"\n",
                ..Framing::default()
            }
        };
        let encoder = JsonEncoder {
            context: ErrorContext::new(&view.name),
            columns: view.fields.len(),
            record: ObjectWriter::new(&view.fields, 0..view.fields.len(), writer),
            mode,
            packer: Packer::new(framing, config.buffer_size_records, limits),
            decor,
            grouping,
            pipeline: String::new(),
            step: 0,
            snapshot: false,
            rec: Vec::new(),
            before: Vec::new(),
            value: Vec::new(),
        };
        check_limit(&view.name, limits, encoder.min_message_bytes())?;
        Ok(encoder)
    }

    /// A lower bound on the size of any message with a value: the fixed text plus one byte per value.
    fn min_message_bytes(&self) -> usize {
        let record = self.record.min_len();
        let framing = self.packer.framing_len();
        let key = self.decor.keys.as_ref().map_or(0, Keys::min_len);
        key + match &self.mode {
            Mode::InsertDelete => framing + br#"{"insert":}"#.len() + record,
            Mode::Snowflake(snowflake) => framing + snowflake.min_len(record),
            Mode::Raw(_) => framing + record,
            Mode::Upsert => record,
            Mode::Debezium(debezium) => debezium.min_value_len(record),
        }
    }

    /// Writes the record object (left open for snowflake) of `row` into `self.rec`.
    fn write_record(&mut self, row: &Row) -> Result<(), EncodeError> {
        let open = matches!(self.mode, Mode::Snowflake(_));
        write_object(
            &self.record,
            &self.context,
            self.columns,
            row,
            &mut self.rec,
            open,
        )
    }

    /// Refuses the step when plain-row output would have to send a delete.
    fn refuse_deletes(&self, delta: &[(Row, i64)]) -> Result<(), StepRefused> {
        if !matches!(self.mode, Mode::Raw(DeletePolicy::Fail)) {
            return Ok(());
        }
        self.context.refuse_deletes(
            delta,
            self.step,
            "the 'raw' update format",
            "Use 'raw' for views that only grow, set on_delete to 'op_header' (deletes marked by a sluice.op \
             header) or 'drop', or use 'upsert' or 'insert_delete'",
        )
    }

    /// Encodes one change of an ungrouped format (all `|weight|` copies).
    fn encode_change(
        &mut self,
        row: &Row,
        weight: i64,
        sink: &mut Sink<'_>,
        errors: &mut Vec<EncodeError>,
    ) -> Result<(), SinkError> {
        let Some(copies) = self.context.copies(row, weight, errors) else {
            return Ok(());
        };
        let insert = weight > 0;
        if matches!(self.mode, Mode::Raw(DeletePolicy::Drop)) && !insert {
            return Ok(());
        }
        if let Err(e) = self.write_record(row) {
            errors.push(e);
            return Ok(());
        }
        let mut out = Output {
            packer: &mut self.packer,
            sink,
            errors,
            context: &self.context,
        };
        let record = Record {
            row,
            record: &self.rec,
            value: Some(&self.rec),
            op: Op::of(insert),
            records: 1,
        };
        match &mut self.mode {
            Mode::InsertDelete => {
                self.value.clear();
                self.value
                    .extend_from_slice([br#"{"insert":"#, br#"{"delete":"#][polarity(insert)]);
                self.value.extend_from_slice(&self.rec);
                self.value.push(b'}');
                let record = Record {
                    value: Some(&self.value),
                    ..record
                };
                self.decor.send(&mut out, record, copies)
            }
            Mode::Raw(_) => self.decor.send(&mut out, record, copies),
            Mode::Snowflake(snowflake) => snowflake.send(
                row,
                &mut self.rec,
                insert,
                copies,
                &mut out,
                &mut self.decor,
            ),
            Mode::Debezium(debezium) => {
                let (before, after) = if insert {
                    (None, Some(&self.rec[..]))
                } else {
                    (Some(&self.rec[..]), None)
                };
                debezium.send(&mut self.decor, &mut out, record, before, after, copies)
            }
            Mode::Upsert => unreachable!("upsert always groups by key"),
        }
    }

    /// Encodes one key's changes of a grouped format: one message (and a Debezium tombstone).
    fn encode_unit(
        &mut self,
        unit: Unit<'_>,
        sink: &mut Sink<'_>,
        errors: &mut Vec<EncodeError>,
    ) -> Result<(), SinkError> {
        let (before, after) = match unit {
            Unit::Insert(after) => (None, Some(after)),
            Unit::Delete(before) => (Some(before), None),
            Unit::Update { before, after } => (Some(before), Some(after)),
        };
        let written = |row: Option<&Row>, buf: &mut Vec<u8>| match row {
            None => Ok(false),
            Some(row) => write_object(&self.record, &self.context, self.columns, row, buf, false)
                .map(|()| true),
        };
        let has_before = match written(before, &mut self.before) {
            Ok(has) => has,
            Err(e) => {
                errors.push(e);
                return Ok(());
            }
        };
        let has_after = match written(after, &mut self.rec) {
            Ok(has) => has,
            Err(e) => {
                errors.push(e);
                return Ok(());
            }
        };
        let op = match unit {
            Unit::Insert(_) => Op::Insert,
            Unit::Delete(_) => Op::Delete,
            Unit::Update { .. } => Op::Update,
        };
        let shown = if has_after { &self.rec } else { &self.before };
        let record = Record {
            row: unit.row(),
            record: shown,
            value: has_after.then_some(&self.rec[..]),
            op,
            records: 1,
        };
        let mut out = Output {
            packer: &mut self.packer,
            sink,
            errors,
            context: &self.context,
        };
        match &mut self.mode {
            Mode::Upsert => self.decor.send(&mut out, record, 1),
            Mode::Debezium(debezium) => {
                let before = has_before.then_some(&self.before[..]);
                let after = has_after.then_some(&self.rec[..]);
                debezium.send(&mut self.decor, &mut out, record, before, after, 1)
            }
            _ => unreachable!("only upsert and debezium group by key"),
        }
    }
}

/// Writes `row` as a JSON object (left open when `open`) into `buf`, after checking its arity.
fn write_object(
    object: &ObjectWriter,
    context: &ErrorContext,
    columns: usize,
    row: &Row,
    buf: &mut Vec<u8>,
    open: bool,
) -> Result<(), EncodeError> {
    check_arity(row, columns).map_err(|(column, m)| context.type_mismatch(row, &column, m))?;
    buf.clear();
    let written = if open {
        object.write_open(buf, row)
    } else {
        object.write(buf, row)
    };
    written.map_err(|(column, m)| context.type_mismatch(row, column, m))
}

impl Encoder for JsonEncoder {
    fn begin_batch(&mut self, batch: BatchInfo<'_>) {
        batch.pipeline.clone_into(&mut self.pipeline);
        self.step = batch.step;
        self.snapshot = batch.snapshot;
        self.decor.headers.set_step(batch.step);
    }

    fn encode(
        &mut self,
        delta: &[(Row, i64)],
        sink: &mut dyn FnMut(crate::EncodedMessage) -> Result<(), SinkError>,
    ) -> Result<Vec<EncodeError>, SinkError> {
        // A sink error may have left part of the previous batch buffered.
        self.packer.reset();
        self.refuse_deletes(delta)?;
        if let Mode::Debezium(debezium) = &mut self.mode {
            debezium.begin_batch(&self.pipeline, self.step, self.snapshot, now_ms());
        }
        let mut errors = Vec::new();
        if let Some(g) = &mut self.grouping {
            let grouped =
                g.grouper
                    .group(delta, &mut g.keys, g.enforce, &self.context, &mut errors);
            let units = grouped.map_err(|d| d.refusal(self.context.view(), self.step))?;
            for unit in units {
                self.encode_unit(unit, sink, &mut errors)?;
            }
        } else {
            for_each_change(delta, |row, weight| {
                self.encode_change(row, weight, sink, &mut errors)
            })?;
        }
        self.packer.flush(sink)?;
        Ok(errors)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::Encoder;
    use sluice_data::{Field, SqlType, Value};

    /// `a BIGINT NOT NULL, b BIGINT NULL`.
    pub fn view() -> Relation {
        Relation::new(
            "v",
            vec![
                Field::new("a", SqlType::BigInt, false),
                Field::new("b", SqlType::BigInt, true),
            ],
        )
    }

    pub fn config(update_format: JsonUpdateFormat, array: bool) -> JsonEncoderConfig {
        JsonEncoderConfig {
            update_format,
            array,
            ..JsonEncoderConfig::default()
        }
    }

    pub fn limits(max_message_bytes: usize) -> MessageLimits {
        MessageLimits { max_message_bytes }
    }

    /// Encodes one batch, returning the message values as text and the errors.
    pub fn run(enc: &mut JsonEncoder, delta: &[(Row, i64)]) -> (Vec<String>, Vec<EncodeError>) {
        let mut out = Vec::new();
        let errors = enc
            .encode(delta, &mut |m| {
                out.push(String::from_utf8(m.value.unwrap_or_default()).unwrap());
                Ok(())
            })
            .unwrap();
        (out, errors)
    }

    /// The smallest row of [`view`].
    pub fn zeros() -> Row {
        Row(vec![Value::BigInt(0), Value::BigInt(0)])
    }

    #[test]
    fn the_minimum_limit_is_exactly_the_smallest_message() {
        let formats = [
            config(JsonUpdateFormat::InsertDelete, false),
            config(JsonUpdateFormat::InsertDelete, true),
            config(JsonUpdateFormat::Snowflake, false),
            config(JsonUpdateFormat::Raw, false),
            config(JsonUpdateFormat::Upsert, false),
        ];
        for format in formats {
            let min = JsonEncoder::new(&format, &view(), limits(usize::MAX))
                .unwrap()
                .min_message_bytes();
            let too_small = JsonEncoder::new(&format, &view(), limits(min - 1));
            assert!(too_small.is_err(), "{format:?}");
            let mut enc = JsonEncoder::new(&format, &view(), limits(min)).unwrap();
            if let Mode::Snowflake(_) = enc.mode {
                // The smallest snowflake message has a one-digit stream id.
                enc.mode = Mode::Snowflake(Snowflake::new(3));
            }
            let (messages, errors) = run(&mut enc, &[(zeros(), 1)]);
            assert!(errors.is_empty(), "{format:?}: {errors:?}");
            assert_eq!(messages.len(), 1, "{format:?}");
        }
    }
}
