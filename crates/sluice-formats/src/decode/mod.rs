//! Input parsers: bytes a user sends (an HTTP ingress body, one Kafka message) become changes to a table.
//!
//! [`build_parser`] checks a [`FormatConfig`] for input and returns a boxed [`Parser`] for one table. Each
//! [`Parser::parse`] call takes one chunk and appends `(row, weight)` pairs; a bad record is reported as a
//! [`ParseError`] with its position and does not stop the records after it. Parsers keep no state between
//! chunks, so a record never spans two chunks.
//!
//! Modules: `json` (chunk framing and update formats), `json_value` (one JSON value, or one value's text, to a SQL
//! value), `csv` (RFC 4180 records), `text` (scalar value text shared by both formats), `temporal` (dates and
//! times), `table` (column lookup and error wording).

mod csv;
mod json;
mod json_value;
mod table;
mod temporal;
mod text;

use sluice_data::{Relation, Row};
use sluice_types::{ConfigError, FormatConfig};

/// Turns chunks of input bytes into changes for one table.
pub trait Parser: Send {
    /// Parses one chunk (an HTTP body or one Kafka message). Good records are appended to `out` as (row, weight);
    /// bad ones are reported with their position and reason and do not stop the rest.
    ///
    /// Records with weight 0 (a `weighted` JSON item or a CSV line whose weight is 0) are checked but not
    /// appended: they change nothing.
    fn parse(&mut self, bytes: &[u8], out: &mut Vec<(Row, i64)>) -> Vec<ParseError>;
}

/// One record of a chunk that could not be parsed.
///
/// `message` is the whole story for a user: `table 'sales', record 3 at line 4: column 'qty' (BIGINT NOT
/// NULL): expected an integer, found "ten"`. Record numbers in messages count from 1, like line numbers;
/// `index` counts from 0 for code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// 0-based index of the record within the chunk (a malformed stretch of input counts as one record; a CSV
    /// header does not count).
    pub index: usize,
    /// 1-based line on which the record starts, when the format has lines.
    pub line: Option<usize>,
    /// What is wrong, naming the table, the record, the column and the offending value where there is one.
    pub message: String,
}

/// Builds the parser of `format` for `table`.
///
/// Fails when the format's settings are not valid for input (field paths start with `format.config`): JSON
/// input supports the `insert_delete`, `weighted` and `raw` update formats in the `default` flavor.
pub fn build_parser(
    format: &FormatConfig,
    table: &Relation,
) -> Result<Box<dyn Parser>, ConfigError> {
    let within = |e: ConfigError| e.within("format.config");
    Ok(match format {
        FormatConfig::Json(config) => {
            config.validate_for_input().map_err(within)?;
            Box::new(json::JsonParser::new(config, table))
        }
        FormatConfig::Csv(config) => {
            config.validate().map_err(within)?;
            Box::new(csv::CsvParser::new(config, table))
        }
    })
}
