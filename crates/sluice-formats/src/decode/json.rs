//! The JSON parser: how a chunk is split into items, and how each update format turns an item into changes.
//!
//! Framing: with `array: false` a chunk holds JSON values separated by whitespace, normally one per line
//! (NDJSON); blank lines are skipped. After malformed JSON the parser reports it and resumes at the next line,
//! so one bad line costs one record (a value spread over several lines that is malformed may cost more). With
//! `array: true` a chunk is one JSON array of items; the items before a syntax error are still used, nothing
//! after it can be.
//!
//! Update formats: `insert_delete` items are `{"insert": record}` (weight 1) or `{"delete": record}` (weight
//! −1); an item with both is a delete then an insert; `{"update": ...}` is refused, as it needs a table with a
//! primary key. `raw` items are the bare record (weight 1). `weighted` items are `{"weight": w, "data": record}`
//! with an integer `w`.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;
use sluice_data::{Relation, Row};
use sluice_types::{JsonEncoderConfig, JsonUpdateFormat};

use super::json_value::members;
use super::parser::{ParseError, Parser, Position};
use super::table::Table;
use super::text::{clip, expected, parse_i64};

/// Parses JSON chunks for one table.
pub(crate) struct JsonParser {
    table: Table,
    update_format: JsonUpdateFormat,
    array: bool,
}

impl JsonParser {
    /// A parser for `table`; `config` must have passed `validate_for_input`.
    pub fn new(config: &JsonEncoderConfig, table: &Relation) -> Self {
        JsonParser {
            table: Table::new(table),
            update_format: config.update_format,
            array: config.array,
        }
    }

    /// Adds the changes of one item, or reports why it has none.
    fn item(
        &self,
        raw: &str,
        index: usize,
        line: usize,
        out: &mut Vec<(Row, i64)>,
        errors: &mut Vec<ParseError>,
    ) {
        let start = out.len();
        if let Err(detail) = self.changes(raw, out) {
            out.truncate(start);
            errors.push(self.table.error(index, line, &detail));
        }
    }

    /// Appends the changes `raw` stands for in the configured update format.
    fn changes(&self, raw: &str, out: &mut Vec<(Row, i64)>) -> Result<(), String> {
        match self.update_format {
            JsonUpdateFormat::InsertDelete => self.insert_delete(raw, out),
            JsonUpdateFormat::Weighted => self.weighted(raw, out),
            _ => {
                out.push((self.table.json_row(raw)?, 1));
                Ok(())
            }
        }
    }

    fn insert_delete(&self, raw: &str, out: &mut Vec<(Row, i64)>) -> Result<(), String> {
        let shape = || {
            expected(
                r#"{"insert": {...}} or {"delete": {...}} (update_format 'insert_delete')"#,
                &format!(
                    "{}; to send bare records use update_format 'raw'",
                    clip(raw)
                ),
            )
        };
        let members = members(raw, r#"{"insert": {...}} or {"delete": {...}}"#)?;
        let (mut insert, mut delete) = (None, None);
        for (key, value) in &members.0 {
            match key.as_ref() {
                "insert" => insert = Some(value.get()),
                "delete" => delete = Some(value.get()),
                "update" => {
                    return Err("an 'update' needs a table with a PRIMARY KEY, and this table has none; \
                                send a 'delete' of the old row and an 'insert' of the new one instead"
                        .into())
                }
                _ => return Err(shape()),
            }
        }
        if insert.is_none() && delete.is_none() {
            return Err(shape());
        }
        if let Some(record) = delete {
            let row = self.table.json_row(record)?;
            out.push((row, -1));
        }
        if let Some(record) = insert {
            out.push((self.table.json_row(record)?, 1));
        }
        Ok(())
    }

    fn weighted(&self, raw: &str, out: &mut Vec<(Row, i64)>) -> Result<(), String> {
        let shape = r#"{"weight": w, "data": {...}} (update_format 'weighted')"#;
        let members = members(raw, shape)?;
        let (mut weight, mut data) = (None, None);
        for (key, value) in &members.0 {
            match key.as_ref() {
                "weight" => weight = Some(value.get()),
                "data" => data = Some(value.get()),
                other => return Err(expected(shape, &format!("a member {other:?}"))),
            }
        }
        let (Some(weight), Some(data)) = (weight, data) else {
            return Err(expected(shape, &clip(raw)));
        };
        let weight = parse_i64(weight)
            .map_err(|what| format!("weight: {}", expected(&what, &clip(weight))))?;
        let row = self.table.json_row(data)?;
        if weight != 0 {
            out.push((row, weight));
        }
        Ok(())
    }

    /// NDJSON or whitespace-separated values, resuming after malformed JSON at the next line.
    /// Records and lines are numbered from `at`; returns where a piece after this one starts.
    fn parse_values(
        &self,
        bytes: &[u8],
        at: Position,
        out: &mut Vec<(Row, i64)>,
        errors: &mut Vec<ParseError>,
    ) -> Position {
        let mut lines = Lines::new(bytes);
        let (mut pos, mut index) = (0, at.records);
        loop {
            pos += bytes[pos..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            if pos >= bytes.len() {
                break;
            }
            let line = at.lines + lines.at(pos);
            let mut values =
                serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<&RawValue>();
            match values.next() {
                Some(Ok(raw)) => {
                    self.item(raw.get(), index, line, out, errors);
                    pos += values.byte_offset();
                }
                Some(Err(e)) => {
                    let (l, c) = (line + e.line().saturating_sub(1), e.column());
                    let c = if e.line() <= 1 {
                        lines.column(pos) + c.saturating_sub(1)
                    } else {
                        c
                    };
                    errors.push(self.table.error(index, line, &json_error(&e, l, c)));
                    pos = bytes[pos..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(bytes.len(), |n| pos + n + 1);
                }
                None => break,
            }
            index += 1;
        }
        Position {
            records: index,
            lines: at.lines + bytes.iter().filter(|&&b| b == b'\n').count(),
        }
    }

    /// One JSON array of items; the items before a syntax error still count.
    fn parse_array(&self, bytes: &[u8], out: &mut Vec<(Row, i64)>, errors: &mut Vec<ParseError>) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let mut items = Vec::new();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let result = Collect(&mut items)
            .deserialize(&mut de)
            .and_then(|()| de.end());
        let mut lines = Lines::new(bytes);
        for (index, raw) in items.iter().enumerate() {
            let line = lines.at(raw.get().as_ptr() as usize - bytes.as_ptr() as usize);
            self.item(raw.get(), index, line, out, errors);
        }
        if let Err(e) = result {
            let detail = json_error(&e, e.line(), e.column());
            errors.push(self.table.error(items.len(), e.line(), &detail));
        }
    }
}

impl Parser for JsonParser {
    fn parse(&mut self, bytes: &[u8], out: &mut Vec<(Row, i64)>) -> Vec<ParseError> {
        self.parse_from(bytes, Position::START, out).0
    }

    /// Values are cut after the last one known whole: an object, array or string ends itself, and is followed by
    /// whitespace; a value cut at the end of `bytes` waits for the next piece. Malformed JSON is skipped up to the
    /// next line, as [`JsonParser::parse_values`] does, once that line has come. An array is one value: never cut.
    fn whole_records(&self, bytes: &[u8]) -> Option<usize> {
        if self.array {
            return None;
        }
        let (mut pos, mut whole) = (0, 0);
        loop {
            pos += bytes[pos..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            let mut values =
                serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<&RawValue>();
            match values.next() {
                Some(Ok(_)) => {
                    let end = pos + values.byte_offset();
                    if !bytes.get(end).is_some_and(u8::is_ascii_whitespace) {
                        return Some(whole);
                    }
                    (pos, whole) = (end, end);
                }
                Some(Err(e)) if !e.is_eof() => {
                    match bytes[pos..].iter().position(|&b| b == b'\n') {
                        Some(n) => (pos, whole) = (pos + n + 1, pos + n + 1),
                        None => return Some(whole),
                    }
                }
                _ => return Some(whole),
            }
        }
    }

    fn parse_from(
        &mut self,
        bytes: &[u8],
        at: Position,
        out: &mut Vec<(Row, i64)>,
    ) -> (Vec<ParseError>, Position) {
        let mut errors = Vec::new();
        let next = if self.array {
            self.parse_array(bytes, out, &mut errors);
            at
        } else {
            self.parse_values(bytes, at, out, &mut errors)
        };
        (errors, next)
    }
}

/// The detail of a serde_json error at the chunk's `line` and `column`, without serde_json's own position
/// (which is relative to where the parser started reading).
fn json_error(e: &serde_json::Error, line: usize, column: usize) -> String {
    let text = e.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(what, _)| what);
    let kind = if e.is_data() {
        "unexpected JSON"
    } else {
        "malformed JSON"
    };
    // serde_json reports column 0 for some errors found before reading a character of the line.
    format!("{kind} at line {line} column {}: {what}", column.max(1))
}

/// 1-based line and column numbers of increasing byte offsets in a chunk, counted incrementally.
struct Lines<'a> {
    bytes: &'a [u8],
    counted_to: usize,
    line: usize,
    line_start: usize,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Lines {
            bytes,
            counted_to: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// The line of `offset`, which must not be below any offset asked before.
    fn at(&mut self, offset: usize) -> usize {
        for (i, &b) in self.bytes[self.counted_to..offset].iter().enumerate() {
            if b == b'\n' {
                self.line += 1;
                self.line_start = self.counted_to + i + 1;
            }
        }
        self.counted_to = offset;
        self.line
    }

    /// The column of `offset`, after [`Lines::at`] was asked about it.
    fn column(&self, offset: usize) -> usize {
        offset - self.line_start + 1
    }
}

/// Collects the elements of a JSON array as raw text, keeping those read before an error.
struct Collect<'v, 'de>(&'v mut Vec<&'de RawValue>);

impl<'de> DeserializeSeed<'de> for Collect<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Collect<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records (the format has array: true)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            self.0.push(item);
        }
        Ok(())
    }
}
