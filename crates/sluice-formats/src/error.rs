//! The errors an encoder reports: per-record [`EncodeError`]s, which skip one record and let the batch go on, and
//! the [`SinkError`] that wraps a failure of whoever receives the messages and aborts the batch.

use std::fmt;

use sluice_data::Row;

/// The longest record preview, in characters, that an error carries.
pub const MAX_PREVIEW_CHARS: usize = 4096;

/// The most copies of one record the expanding encoders (JSON) write out.
pub const MAX_WEIGHT: u64 = 1_000_000;

/// Why one record of a batch was not sent. The other records of the batch are still encoded and sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The record alone makes a message larger than the transport accepts.
    #[error(
        "view '{view}': a record needs a {size}-byte message but messages are limited to {limit} bytes, so \
         {copies} cop{} of it {} not sent; raise the transport's message size limit (Kafka: message.max.bytes): {record}",
        if *copies == 1 { "y" } else { "ies" },
        if *copies == 1 { "was" } else { "were" }
    )]
    RecordTooLarge {
        /// The view the record belongs to.
        view: String,
        /// The size of the smallest message (key and value) that would carry the record.
        size: usize,
        /// The largest message size allowed, key and value together.
        limit: usize,
        /// How many copies of the record (its weight's magnitude) were dropped.
        copies: u64,
        /// The encoded record, cut to [`MAX_PREVIEW_CHARS`] characters.
        record: String,
    },
    /// The record's weight asks for more copies than an encoder that writes each copy will write.
    #[error(
        "view '{view}': record {record} has weight {weight}, but at most {MAX_WEIGHT} copies of one record are \
         written out; make the view's rows distinct, e.g. with SELECT DISTINCT or a GROUP BY"
    )]
    WeightTooLarge {
        /// The view the record belongs to.
        view: String,
        /// The record's weight.
        weight: i64,
        /// The record, cut to [`MAX_PREVIEW_CHARS`] characters.
        record: String,
    },
    /// A value does not have the variant its column's type calls for, or is NULL in a NOT NULL column.
    #[error(
        "view '{view}': column '{column}' is {expected} but record {record} holds {found} there"
    )]
    TypeMismatch {
        /// The view the record belongs to.
        view: String,
        /// The column holding the wrong value.
        column: String,
        /// The type the value should have had, e.g. `BIGINT NOT NULL`.
        expected: String,
        /// What was found instead, e.g. `a string`.
        found: String,
        /// The record, cut to [`MAX_PREVIEW_CHARS`] characters.
        record: String,
    },
}

/// A failure of the message sink, e.g. the transport refused a message; it aborts the rest of the batch.
#[derive(Debug)]
pub struct SinkError(pub Box<dyn std::error::Error + Send + Sync>);

impl SinkError {
    /// Wraps any error of the sink.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SinkError(error.into())
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.downcast_ref::<StepRefused>() {
            Some(refused) => write!(f, "{refused}"),
            None => write!(f, "message sink failed: {}", self.0),
        }
    }
}

/// A step the format refuses as a whole, before sending any of its messages: two rows with one key for a keyed
/// format, a delete for plain-row output. It reaches the caller as a [`SinkError`] and stops the connector
/// whatever its `on_encode_error` says: skipping the step would lose changes.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StepRefused(pub String);

impl From<StepRefused> for SinkError {
    fn from(refused: StepRefused) -> Self {
        SinkError::new(refused)
    }
}

impl std::error::Error for SinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// A value that does not fit its type, found while writing it; the encoder adds the view, column and record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mismatch {
    /// The SQL type expected, with ` NOT NULL` when a NULL was found in a NOT NULL position.
    pub expected: String,
    /// What was found.
    pub found: &'static str,
}

/// Builds the errors of one view's encoder.
#[derive(Clone, Debug)]
pub(crate) struct ErrorContext {
    view: String,
}

impl ErrorContext {
    /// Errors about the view called `view`.
    pub fn new(view: &str) -> Self {
        ErrorContext {
            view: view.to_string(),
        }
    }

    /// The view's name.
    pub fn view(&self) -> &str {
        &self.view
    }

    /// Refuses step `step` of a plain-row output (`what` names it) if `delta` deletes anything; `advice` says
    /// what to do instead.
    pub fn refuse_deletes(
        &self,
        delta: &[(Row, i64)],
        step: u64,
        what: &str,
        advice: &str,
    ) -> Result<(), StepRefused> {
        let mut deletes = delta.iter().filter(|(_, w)| *w < 0);
        let Some((row, _)) = deletes.next() else {
            return Ok(());
        };
        Err(StepRefused(format!(
            "view '{}' deleted {} row(s) in step {step} (first: {}), but {what} sends rows, not changes, so a \
             delete cannot be told apart from an insert; nothing of the step was sent. {advice}",
            self.view,
            1 + deletes.count(),
            row_preview(row),
        )))
    }

    /// A value of `row` in `column` that does not fit the column's type.
    pub fn type_mismatch(&self, row: &Row, column: &str, m: Mismatch) -> EncodeError {
        EncodeError::TypeMismatch {
            view: self.view.clone(),
            column: column.to_string(),
            expected: m.expected,
            found: m.found.to_string(),
            record: row_preview(row),
        }
    }

    /// The number of copies of `row` that `weight` asks for, or `None` (with the error in `errors`) when it is
    /// beyond [`MAX_WEIGHT`].
    pub fn copies(&self, row: &Row, weight: i64, errors: &mut Vec<EncodeError>) -> Option<u64> {
        let copies = weight.unsigned_abs();
        if copies > MAX_WEIGHT {
            errors.push(self.weight_too_large(row, weight));
            return None;
        }
        Some(copies)
    }

    /// `row` has a weight beyond [`MAX_WEIGHT`].
    pub fn weight_too_large(&self, row: &Row, weight: i64) -> EncodeError {
        EncodeError::WeightTooLarge {
            view: self.view.clone(),
            weight,
            record: row_preview(row),
        }
    }

    /// `copies` copies of the `encoded` record need a `size`-byte message, above `limit`.
    pub fn too_large(&self, encoded: &[u8], size: usize, limit: usize, copies: u64) -> EncodeError {
        EncodeError::RecordTooLarge {
            view: self.view.clone(),
            size,
            limit,
            copies,
            record: bytes_preview(encoded),
        }
    }
}

/// Cuts `text` to at most [`MAX_PREVIEW_CHARS`] characters, marking a cut with `...`.
pub(crate) fn preview(text: &str) -> String {
    match text.char_indices().nth(MAX_PREVIEW_CHARS) {
        None => text.to_string(),
        Some(_) => {
            let end = text
                .char_indices()
                .nth(MAX_PREVIEW_CHARS - 3)
                .map_or(text.len(), |(i, _)| i);
            format!("{}...", &text[..end])
        }
    }
}

/// The preview of a row, for errors found before it was encoded.
fn row_preview(row: &Row) -> String {
    preview(&row.to_string())
}

/// The preview of encoded bytes (always UTF-8 for the text formats).
fn bytes_preview(bytes: &[u8]) -> String {
    preview(&String::from_utf8_lossy(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_keeps_short_text_and_cuts_long_text_on_a_char_boundary() {
        assert_eq!(preview("abc"), "abc");
        let exact = "é".repeat(MAX_PREVIEW_CHARS);
        assert_eq!(preview(&exact), exact);
        let long = "é".repeat(MAX_PREVIEW_CHARS + 1);
        let cut = preview(&long);
        assert_eq!(cut.chars().count(), MAX_PREVIEW_CHARS);
        assert!(cut.ends_with("é..."));
    }

    #[test]
    fn messages_name_the_view_the_record_and_the_cause() {
        let e = EncodeError::RecordTooLarge {
            view: "v".into(),
            size: 46,
            limit: 32,
            copies: 1,
            record: "{}".into(),
        };
        assert_eq!(
            e.to_string(),
            "view 'v': a record needs a 46-byte message but messages are limited to 32 bytes, so 1 copy of it was \
             not sent; raise the transport's message size limit (Kafka: message.max.bytes): {}"
        );
        let e = EncodeError::WeightTooLarge {
            view: "v".into(),
            weight: -2_000_000,
            record: "(1)".into(),
        };
        assert!(e.to_string().contains("weight -2000000"), "{e}");
        assert!(
            e.to_string().contains("SELECT DISTINCT or a GROUP BY"),
            "{e}"
        );
        let e = EncodeError::TypeMismatch {
            view: "v".into(),
            column: "id".into(),
            expected: "BIGINT NOT NULL".into(),
            found: "NULL".into(),
            record: "(NULL)".into(),
        };
        assert_eq!(
            e.to_string(),
            "view 'v': column 'id' is BIGINT NOT NULL but record (NULL) holds NULL there"
        );
    }

    #[test]
    fn sink_error_wraps_the_cause() {
        let e = SinkError::new("queue full");
        assert_eq!(e.to_string(), "message sink failed: queue full");
        assert!(std::error::Error::source(&e).is_some());
    }
}
