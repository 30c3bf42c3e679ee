//! [`Parser`] and [`ParseError`]: what every input parser is and how it reports a bad record. A leaf of `decode`,
//! so that the parsers (`csv`, `json`) and the error wording (`table`) name these without importing `decode`'s
//! root, which builds the parsers.

use sluice_data::Row;

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
