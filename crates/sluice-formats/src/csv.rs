//! The CSV encoder: one line per distinct record, its fields in column order and then its weight.
//!
//! Weights are not expanded: `(r, -2)` is one line ending in `,-2`. Lines end with `\n`. A field is quoted (RFC
//! 4180, quotes doubled) when it holds the delimiter, `"`, CR or LF, or starts or ends with a space or tab. NULL
//! is an empty field and the empty string is `""`, so the two stay apart. Values are spelled as in the JSON
//! `default` flavor without the JSON quotes, except: DECIMAL keeps all its declared fractional digits (`10.50`),
//! floats that are not finite are `NaN`, `inf` and `-inf`, and binary is lowercase hex. ARRAY and MAP values are
//! their `default`-flavor JSON text. With `header`, every message starts with a line of the column names and
//! `__weight`.

use sluice_data::{Field, Relation, Row};
use sluice_types::{ConfigError, CsvEncoderConfig, DeletePolicy, JsonFlavor};

use crate::encoder::{
    check_limit, for_each_change, BatchInfo, Encoder, Framing, MessageLimits, Output, Packer, Sink,
};
use crate::error::{EncodeError, ErrorContext, SinkError, MAX_WEIGHT};
use crate::json::values::JsonWriter;
use crate::keys::{Decor, Headers, Keys, Op, Record};
use crate::plain::CsvWriter;
use crate::text::write_int;
use crate::visit::{check_arity, write_column};

/// Quotes the field `out[start..]` in place when it needs it.
struct Quoter {
    /// The bytes that force quoting: the delimiter, `"`, CR and LF.
    special: [bool; 256],
    scratch: Vec<u8>,
}

impl Quoter {
    fn new(delimiter: u8) -> Self {
        let mut special = [false; 256];
        for b in [delimiter, b'"', b'\r', b'\n'] {
            special[usize::from(b)] = true;
        }
        Quoter {
            special,
            scratch: Vec::new(),
        }
    }

    /// Quotes `out[start..]` if it holds a special byte or starts or ends with blank space; an empty field is
    /// quoted when `empty_is_value` (an empty string, not NULL).
    fn finish_field(&mut self, out: &mut Vec<u8>, start: usize, empty_is_value: bool) {
        let field = &out[start..];
        let blank = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
        let needs_quotes = match field {
            [] => empty_is_value,
            _ => {
                blank(field.first())
                    || blank(field.last())
                    || field.iter().any(|&b| self.special[usize::from(b)])
            }
        };
        if !needs_quotes {
            return;
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(field);
        out.truncate(start);
        out.push(b'"');
        for &b in &self.scratch {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    }
}

/// Encodes a view's changes as CSV lines.
pub(crate) struct CsvEncoder {
    context: ErrorContext,
    fields: Vec<Field>,
    delimiter: u8,
    quoter: Quoter,
    packer: Packer,
    /// `None`: each line ends with the weight; otherwise plain rows, and what a delete does.
    plain: Option<DeletePolicy>,
    decor: Decor,
    step: u64,
    line: Vec<u8>,
}

impl CsvEncoder {
    /// An encoder for `view`, after checking `config` and `limits`.
    pub fn new(
        config: &CsvEncoderConfig,
        view: &Relation,
        limits: MessageLimits,
    ) -> Result<Self, ConfigError> {
        config
            .validate_for_output()
            .map_err(|e| e.within("format.config"))?;
        // `validate` guarantees an ASCII delimiter.
        let delimiter = config.delimiter as u8;
        let mut quoter = Quoter::new(delimiter);
        let mut header = Vec::new();
        if config.header {
            for f in &view.fields {
                let start = header.len();
                header.extend_from_slice(f.name.as_bytes());
                quoter.finish_field(&mut header, start, true);
                header.push(delimiter);
            }
            if config.weight_column {
                header.extend_from_slice(b"__weight\n");
            } else {
                // The last column name ends the line, not a delimiter.
                header.pop();
                header.push(b'\n');
            }
        }
        let plain = (!config.weight_column).then(|| config.delete_policy());
        let options = config.message_options();
        let json = JsonWriter::new(JsonFlavor::Default);
        let decor = Decor {
            keys: Keys::new(&options, view, json, false)?,
            headers: Headers::new(&options, view, plain == Some(DeletePolicy::OpHeader))?,
        };
        // The smallest line: every field empty, a one-digit weight, the newline (or one delimiter fewer).
        let line = if plain.is_some() {
            view.fields.len().max(1)
        } else {
            view.fields.len() + 2
        };
        let key = decor.keys.as_ref().map_or(0, Keys::min_len);
        let min_bytes = key + header.len() + line;
        let framing = Framing {
            prefix: header,
            ..Framing::default()
        };
        check_limit(&view.name, limits, min_bytes)?;
        Ok(CsvEncoder {
            context: ErrorContext::new(&view.name),
            fields: view.fields.clone(),
            delimiter,
            quoter,
            packer: Packer::new(framing, config.buffer_size_records, limits),
            plain,
            decor,
            step: 0,
            line: Vec::new(),
        })
    }

    /// Writes the line of `row` (with `weight` unless the output is plain rows) into `self.line`.
    fn write_line(&mut self, row: &Row, weight: i64) -> Result<(), EncodeError> {
        let (fields, context) = (&self.fields, &self.context);
        check_arity(row, fields.len())
            .map_err(|(column, m)| context.type_mismatch(row, &column, m))?;
        self.line.clear();
        for (i, field) in fields.iter().enumerate() {
            let start = self.line.len();
            write_column(&CsvWriter, &mut self.line, row, i, field)
                .map_err(|m| context.type_mismatch(row, &field.name, m))?;
            let is_null = row.values()[i].is_null();
            self.quoter.finish_field(&mut self.line, start, !is_null);
            self.line.push(self.delimiter);
        }
        if self.plain.is_some() {
            self.line.pop();
        } else {
            write_int(&mut self.line, weight);
        }
        self.line.push(b'\n');
        Ok(())
    }

    /// Encodes one change: one line with its weight, or (plain rows) one line per copy.
    fn encode_change(
        &mut self,
        row: &Row,
        weight: i64,
        sink: &mut Sink<'_>,
        errors: &mut Vec<EncodeError>,
    ) -> Result<(), SinkError> {
        let insert = weight > 0;
        let copies = match self.plain {
            None => 1,
            Some(DeletePolicy::Drop) if !insert => return Ok(()),
            Some(_) if weight.unsigned_abs() > MAX_WEIGHT => {
                errors.push(self.context.weight_too_large(row, weight));
                return Ok(());
            }
            Some(_) => weight.unsigned_abs(),
        };
        if let Err(e) = self.write_line(row, weight) {
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
            record: &self.line,
            value: Some(&self.line),
            op: Op::of(insert),
            records: 1,
        };
        self.decor.send(&mut out, record, copies)
    }
}

impl Encoder for CsvEncoder {
    fn begin_batch(&mut self, batch: BatchInfo<'_>) {
        self.step = batch.step;
        self.decor.headers.set_step(batch.step);
    }

    fn encode(
        &mut self,
        delta: &[(Row, i64)],
        sink: &mut dyn FnMut(crate::EncodedMessage) -> Result<(), SinkError>,
    ) -> Result<Vec<EncodeError>, SinkError> {
        self.packer.reset();
        if self.plain == Some(DeletePolicy::Fail) {
            self.context.refuse_deletes(
                delta,
                self.step,
                "CSV without the weight column",
                "Keep weight_column for views that can shrink, or set on_delete to 'op_header' or 'drop'",
            )?;
        }
        let mut errors = Vec::new();
        for_each_change(delta, |row, weight| {
            self.encode_change(row, weight, sink, &mut errors)
        })?;
        self.packer.flush(sink)?;
        Ok(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visit::ValueWriter;

    fn finish(field: &str, delimiter: u8, empty_is_value: bool) -> String {
        let mut out = b"x|".to_vec();
        out.extend_from_slice(field.as_bytes());
        Quoter::new(delimiter).finish_field(&mut out, 2, empty_is_value);
        String::from_utf8(out[2..].to_vec()).unwrap()
    }

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(finish("plain", b',', true), "plain");
        assert_eq!(finish("a,b", b',', true), "\"a,b\"");
        assert_eq!(finish("a,b", b';', true), "a,b");
        assert_eq!(finish("a;b", b';', true), "\"a;b\"");
        assert_eq!(finish("q\"q", b',', true), "\"q\"\"q\"");
        assert_eq!(finish("\r\n", b',', true), "\"\r\n\"");
        assert_eq!(finish(" x", b',', true), "\" x\"");
        assert_eq!(finish("x\t", b',', true), "\"x\t\"");
        assert_eq!(finish("in side", b',', true), "in side");
        assert_eq!(finish("", b',', true), "\"\"");
        assert_eq!(finish("", b',', false), "");
    }

    #[test]
    fn non_finite_floats_have_names() {
        let text = |f: f64| {
            let mut out = Vec::new();
            CsvWriter.double(&mut out, f);
            CsvWriter.real(&mut out, f as f32);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(f64::NAN), "NaNNaN");
        assert_eq!(text(f64::INFINITY), "infinf");
        assert_eq!(text(f64::NEG_INFINITY), "-inf-inf");
        assert_eq!(text(2.5), "2.52.5");
    }
}
