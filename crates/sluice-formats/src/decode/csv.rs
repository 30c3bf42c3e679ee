//! The CSV parser: RFC 4180 records in column order, optionally followed by a weight.
//!
//! It reads what the CSV encoder writes. A record is one line (`\n` or `\r\n`), longer when a quoted field
//! holds line breaks. Fields are separated by the configured delimiter; a field that starts with `"` is quoted
//! and `""` inside it is one `"`. An unquoted empty field is NULL, while `""` is a present value: the empty
//! string (or empty bytes), so the two stay apart as in the encoder. Unquoted fields are taken verbatim (the
//! encoder quotes text with surrounding blanks); non-string types ignore surrounding blanks.
//!
//! A record has exactly one field per column (an insert, weight 1) or one more, an integer weight, as the
//! encoder writes; any other count is an error. Blank lines are skipped, and with `header: true` the first
//! record of each chunk is skipped as the header (the encoder repeats it in every message).

use sluice_data::{Relation, Row, Value};
use sluice_types::CsvEncoderConfig;

use super::json_value::parse_text;
use super::parser::{ParseError, Parser, Position};
use super::table::Table;
use super::text::{describe, expected, parse_i64, quoted};

/// How CSV spells binary values, for errors.
const BINARY: &str = "hexadecimal digits, two per byte";

/// Parses CSV chunks for one table.
pub(crate) struct CsvParser {
    table: Table,
    delimiter: u8,
    header: bool,
    /// The unquoted bytes of the current record's fields, reused across records.
    buf: Vec<u8>,
    /// Each field of the current record: its range in `buf` and whether it was quoted.
    fields: Vec<(usize, usize, bool)>,
}

/// Where one record ended: the offset after it and the line breaks it spans, with a syntax error if any.
struct Extent {
    next: usize,
    newlines: usize,
    error: Option<String>,
}

impl CsvParser {
    /// A parser for `table`; `config` must have passed `validate` (so the delimiter is ASCII).
    pub fn new(config: &CsvEncoderConfig, table: &Relation) -> Self {
        CsvParser {
            table: Table::new(table),
            delimiter: config.delimiter as u8,
            header: config.header,
            buf: Vec::new(),
            fields: Vec::new(),
        }
    }

    /// Splits the record starting at `pos` into `self.fields`.
    ///
    /// After a character following a closing quote, the rest of the line is skipped; after a quote that is never
    /// closed, the parser resumes at the line after the record's first, since the quote swallowed the chunk.
    fn read_record(&mut self, bytes: &[u8], mut pos: usize) -> Extent {
        self.buf.clear();
        self.fields.clear();
        let line_end = |from: usize| bytes[from..].iter().position(|&b| b == b'\n');
        let record_start = pos;
        let mut newlines = 0;
        loop {
            let start = self.buf.len();
            if bytes.get(pos) != Some(&b'"') {
                let end = bytes[pos..]
                    .iter()
                    .position(|&b| b == self.delimiter || b == b'\n')
                    .map_or(bytes.len(), |n| pos + n);
                let ends_line = bytes.get(end).is_none_or(|&b| b == b'\n');
                let field = &bytes[pos..end];
                let field = match field {
                    [rest @ .., b'\r'] if ends_line => rest,
                    _ => field,
                };
                self.buf.extend_from_slice(field);
                self.fields.push((start, self.buf.len(), false));
                if ends_line {
                    let next = (end + 1).min(bytes.len());
                    return Extent {
                        next,
                        newlines: newlines + usize::from(end < bytes.len()),
                        error: None,
                    };
                }
                pos = end + 1;
                continue;
            }
            pos += 1;
            loop {
                match bytes.get(pos) {
                    None => {
                        let next =
                            line_end(record_start).map_or(bytes.len(), |n| record_start + n + 1);
                        let error =
                            Some("a quoted field is not closed before the end of the input".into());
                        return Extent {
                            next,
                            newlines: 1,
                            error,
                        };
                    }
                    Some(b'"') if bytes.get(pos + 1) == Some(&b'"') => {
                        self.buf.push(b'"');
                        pos += 2;
                    }
                    Some(b'"') => break,
                    Some(&b) => {
                        newlines += usize::from(b == b'\n');
                        self.buf.push(b);
                        pos += 1;
                    }
                }
            }
            pos += 1;
            self.fields.push((start, self.buf.len(), true));
            match bytes.get(pos) {
                None => {
                    return Extent {
                        next: pos,
                        newlines,
                        error: None,
                    }
                }
                Some(&b) if b == self.delimiter => pos += 1,
                Some(b'\n') => {
                    return Extent {
                        next: pos + 1,
                        newlines: newlines + 1,
                        error: None,
                    }
                }
                Some(b'\r') if bytes.get(pos + 1) == Some(&b'\n') => {
                    return Extent {
                        next: pos + 2,
                        newlines: newlines + 1,
                        error: None,
                    }
                }
                Some(&b) => {
                    let error = format!(
                        "field {}: expected a delimiter or the end of the line after the closing quote, found {:?}",
                        self.fields.len(),
                        char::from(b)
                    );
                    let (next, more) = line_end(pos).map_or((bytes.len(), 0), |n| (pos + n + 1, 1));
                    return Extent {
                        next,
                        newlines: newlines + more,
                        error: Some(error),
                    };
                }
            }
        }
    }

    /// Whether the record just read is a blank line.
    fn is_blank(&self) -> bool {
        matches!(self.fields.as_slice(), [(0, 0, false)])
    }

    /// The text of field `i`.
    fn text(&self, i: usize) -> Result<&str, String> {
        let (start, end, _) = self.fields[i];
        std::str::from_utf8(&self.buf[start..end])
            .map_err(|_| format!("field {} is not valid UTF-8", i + 1))
    }

    /// The change the record just read stands for; `None` for weight 0.
    fn change(&self) -> Result<Option<(Row, i64)>, String> {
        let columns = self.table.fields().len();
        let weight = match self.fields.len() {
            n if n == columns => 1,
            n if n == columns + 1 => {
                let text = self.text(columns)?;
                parse_i64(text.trim()).map_err(|what| {
                    format!(
                        "weight (field {}): {}",
                        columns + 1,
                        expected(&what, &quoted(text))
                    )
                })?
            }
            n => {
                return Err(format!(
                    "expected {columns} fields (or {} with a weight last), found {n}",
                    columns + 1
                ))
            }
        };
        let mut values = Vec::with_capacity(columns);
        for (i, field) in self.table.fields().iter().enumerate() {
            let text = self.text(i)?;
            let value = if text.is_empty() && !self.fields[i].2 {
                if !field.nullable {
                    let what = describe(&field.sql_type, BINARY);
                    return Err(self
                        .table
                        .column_error(i, &expected(&what, "an empty field (NULL)")));
                }
                Value::Null
            } else {
                parse_text(&field.sql_type, text).map_err(|e| self.table.column_error(i, &e))?
            };
            values.push(value);
        }
        Ok((weight != 0).then_some((Row(values), weight)))
    }
}

impl Parser for CsvParser {
    fn parse(&mut self, bytes: &[u8], out: &mut Vec<(Row, i64)>) -> Vec<ParseError> {
        self.parse_from(bytes, Position::START, out).0
    }

    /// Records end at a line break outside quotes: the cut is after the last one. A quote opens only at the start
    /// of a field, as in [`CsvParser::read_record`]; a quote still open at the end of `bytes`, or closed on its
    /// last byte (a `""` may follow), leaves its record for the next piece.
    fn whole_records(&self, bytes: &[u8]) -> Option<usize> {
        let (mut pos, mut field_start, mut whole) = (0, true, 0);
        while pos < bytes.len() {
            let b = bytes[pos];
            if field_start && b == b'"' {
                pos += 1;
                loop {
                    let Some(n) = bytes[pos..].iter().position(|&c| c == b'"') else {
                        return Some(whole);
                    };
                    pos += n + 1;
                    match bytes.get(pos) {
                        Some(b'"') => pos += 1,
                        Some(_) => break,
                        None => return Some(whole),
                    }
                }
                field_start = false;
                continue;
            }
            if b == b'\n' {
                whole = pos + 1;
            }
            field_start = b == b'\n' || b == self.delimiter;
            pos += 1;
        }
        Some(whole)
    }

    /// Only the start of the input has the header (with `header: true`).
    fn parse_from(
        &mut self,
        bytes: &[u8],
        at: Position,
        out: &mut Vec<(Row, i64)>,
    ) -> (Vec<ParseError>, Position) {
        let mut errors = Vec::new();
        let (mut pos, mut line, mut index) = (0, at.lines + 1, at.records);
        let mut header = self.header && at == Position::START;
        while pos < bytes.len() {
            let start_line = line;
            let extent = self.read_record(bytes, pos);
            (pos, line) = (extent.next, line + extent.newlines);
            if std::mem::take(&mut header) || (extent.error.is_none() && self.is_blank()) {
                continue;
            }
            let change = match extent.error {
                Some(error) => Err(error),
                None => self.change(),
            };
            match change {
                Ok(Some(change)) => out.push(change),
                Ok(None) => {}
                Err(detail) => errors.push(self.table.error(index, start_line, &detail)),
            }
            index += 1;
        }
        let next = Position {
            records: index,
            lines: line - 1,
        };
        (errors, next)
    }
}
