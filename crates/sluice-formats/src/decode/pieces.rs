//! [`Pieces`]: one long input (an HTTP ingress body of any size) parsed as it arrives, piece by piece, so that what
//! is held is the records and at most a piece of text, not the whole input as well.
//!
//! A piece ends where the format says whole records end ([`Parser::whole_records`]); records and lines are
//! numbered as in the whole input ([`Parser::parse_from`]), so the records and the errors are exactly those of
//! parsing the input in one go. A format that cannot be cut (a JSON array, Avro) is parsed whole at the end.

use sluice_data::Row;

use super::parser::{ParseError, Parser, Position};

/// A parser fed an input in arbitrary slices.
pub struct Pieces {
    parser: Box<dyn Parser>,
    /// Bytes received and not parsed yet: the tail of a record, or everything for a format that cannot be cut.
    pending: Vec<u8>,
    at: Position,
    /// Parse once this many bytes wait (and again only when the waiting bytes doubled, when a record is longer).
    next_try: usize,
    piece_bytes: usize,
}

impl Pieces {
    /// Feeds `parser` in pieces of about `piece_bytes`.
    pub fn new(parser: Box<dyn Parser>, piece_bytes: usize) -> Self {
        Pieces {
            parser,
            pending: Vec::new(),
            at: Position::START,
            next_try: piece_bytes.max(1),
            piece_bytes: piece_bytes.max(1),
        }
    }

    /// Takes the next bytes of the input and parses the whole records waiting, once there are enough of them.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<(Row, i64)>, errors: &mut Vec<ParseError>) {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() < self.next_try {
            return;
        }
        let whole = self.parser.whole_records(&self.pending).unwrap_or(0);
        if whole > 0 {
            let (found, next) = self.parser.parse_from(&self.pending[..whole], self.at, out);
            errors.extend(found);
            self.at = next;
            self.pending.drain(..whole);
        }
        // A record longer than a piece is not looked for again before its bytes doubled: no quadratic rescans.
        self.next_try = self.piece_bytes.max(self.pending.len() * 2);
    }

    /// The input ended: parses what is left.
    pub fn finish(mut self, out: &mut Vec<(Row, i64)>, errors: &mut Vec<ParseError>) {
        if !self.pending.is_empty() {
            let (found, _) = self.parser.parse_from(&self.pending, self.at, out);
            errors.extend(found);
        }
    }

    /// Bytes received and not parsed yet.
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }
}
