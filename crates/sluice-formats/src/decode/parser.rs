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

    /// How many leading bytes of `bytes` hold whole records only, so that a long input can be parsed piece by
    /// piece ([`Parser::parse_from`]); `None` when this format cannot be cut (the input must be parsed whole).
    fn whole_records(&self, _bytes: &[u8]) -> Option<usize> {
        None
    }

    /// Parses a piece of a longer input that starts `at` (records and lines before it), numbering records and
    /// lines in errors as in the whole input; returns the errors and where the next piece starts. Only formats
    /// that answer [`Parser::whole_records`] continue; the others parse the piece as a chunk of its own.
    fn parse_from(
        &mut self,
        bytes: &[u8],
        at: Position,
        out: &mut Vec<(Row, i64)>,
    ) -> (Vec<ParseError>, Position) {
        (self.parse(bytes, out), at)
    }
}

/// Where a piece of a longer input starts: how many records (good or bad) and line breaks came before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Records before the piece, good or bad (a CSV header does not count).
    pub records: usize,
    /// Line breaks before the piece.
    pub lines: usize,
}

impl Position {
    /// The start of an input.
    pub const START: Position = Position {
        records: 0,
        lines: 0,
    };
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
