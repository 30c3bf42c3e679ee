//! The JSON encoder: `insert_delete`, `snowflake` and `debezium` update formats.
//!
//! Each copy of a record (a weight `w` gives `|w|` copies) is one JSON value. `insert_delete` packs up to
//! `buffer_size_records` of them per message, newline-separated or as one array; `snowflake` and `debezium`
//! write one per message, `debezium` with a key. Value spelling per flavor is in [`values`], the object of a row
//! in [`record`], the two record-per-message formats in [`snowflake`] and [`debezium`], and Kafka Connect
//! schemas in [`schema`].

mod debezium;
mod record;
mod schema;
mod snowflake;
pub(crate) mod values;

use sluice_data::{Relation, Row};
use sluice_types::{ConfigError, JsonEncoderConfig, JsonUpdateFormat};

use crate::encoder::{check_limit, ChangeEncoder, Framing, MessageLimits, Output, Packer, Sink};
use crate::error::{EncodeError, ErrorContext, SinkError, MAX_WEIGHT};
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
    /// A keyed Kafka Connect envelope per record.
    Debezium(Debezium),
}

/// Encodes a view's changes as JSON.
pub(crate) struct JsonEncoder {
    context: ErrorContext,
    columns: usize,
    record: ObjectWriter,
    mode: Mode,
    packer: Packer,
    /// The record object, reused across records.
    rec: Vec<u8>,
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
        let mode = match config.update_format {
            JsonUpdateFormat::Snowflake => {
                Mode::Snowflake(Snowflake::new(rand::random::<u64>() >> 1))
            }
            JsonUpdateFormat::Debezium => Mode::Debezium(Debezium::new(config, view, writer)?),
            _ => Mode::InsertDelete,
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
            rec: Vec::new(),
            value: Vec::new(),
        };
        check_limit(&view.name, limits, encoder.min_message_bytes())?;
        Ok(encoder)
    }

    /// A lower bound on the size of any message: the fixed text plus one byte per value.
    fn min_message_bytes(&self) -> usize {
        let record = self.record.min_len();
        let framing = self.packer.framing_len();
        match &self.mode {
            Mode::InsertDelete => framing + br#"{"insert":}"#.len() + record,
            Mode::Snowflake(snowflake) => framing + snowflake.min_len(record),
            Mode::Debezium(debezium) => debezium.min_len(record),
        }
    }

    /// Writes the record object (left open for snowflake) into `self.rec`.
    fn write_record(&mut self, row: &Row) -> Result<(), EncodeError> {
        let context = &self.context;
        check_arity(row, self.columns)
            .map_err(|(column, m)| context.type_mismatch(row, &column, m))?;
        self.rec.clear();
        let written = if matches!(self.mode, Mode::Snowflake(_)) {
            self.record.write_open(&mut self.rec, row)
        } else {
            self.record.write(&mut self.rec, row)
        };
        written.map_err(|(column, m)| context.type_mismatch(row, column, m))
    }
}

impl ChangeEncoder for JsonEncoder {
    fn packer(&mut self) -> &mut Packer {
        &mut self.packer
    }

    fn encode_change(
        &mut self,
        row: &Row,
        weight: i64,
        sink: &mut Sink<'_>,
        errors: &mut Vec<EncodeError>,
    ) -> Result<(), SinkError> {
        let copies = weight.unsigned_abs();
        if copies > MAX_WEIGHT {
            errors.push(self.context.weight_too_large(row, weight));
            return Ok(());
        }
        if let Err(e) = self.write_record(row) {
            errors.push(e);
            return Ok(());
        }
        let insert = weight > 0;
        let mut out = Output {
            packer: &mut self.packer,
            sink,
            errors,
            context: &self.context,
        };
        match &mut self.mode {
            Mode::InsertDelete => {
                self.value.clear();
                self.value
                    .extend_from_slice([br#"{"insert":"#, br#"{"delete":"#][polarity(insert)]);
                self.value.extend_from_slice(&self.rec);
                self.value.push(b'}');
                out.push_copies(&self.value, copies)
            }
            Mode::Snowflake(snowflake) => snowflake.send(&mut self.rec, insert, copies, &mut out),
            Mode::Debezium(debezium) => debezium.send(row, &self.rec, insert, copies, &mut out),
        }
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
                out.push(String::from_utf8(m.value).unwrap());
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
            config(JsonUpdateFormat::Debezium, false),
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
