//! The [`Encoder`] trait, the messages it produces, and the [`Packer`] that groups encoded records into messages
//! under a record count and a byte limit.

use std::sync::Arc;

use sluice_data::Row;
use sluice_types::ConfigError;

use crate::error::{EncodeError, ErrorContext, SinkError};

/// One message for the transport: an optional key, a payload or none (a tombstone), and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedMessage {
    /// The message key, from `key_fields` (Debezium and upsert key by the whole record without them).
    pub key: Option<Vec<u8>>,
    /// The payload; `None` is a tombstone (upsert deletes, Debezium's message after a delete), which Kafka's log
    /// compaction reads as "forget this key".
    pub value: Option<Vec<u8>>,
    /// Per-message headers (`header_fields`, `system_headers`), in order; static headers are the transport's.
    pub headers: Vec<MessageHeader>,
    /// How many records the message carries (copies of a record each count; a CSV line counts once; a
    /// Debezium tombstone, which repeats the delete before it, counts none).
    pub records: usize,
}

impl EncodedMessage {
    /// The bytes the message takes against the size limit: key, value, and each header's name and value.
    pub fn size(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len)
            + self.value.as_ref().map_or(0, Vec::len)
            + self.headers.iter().map(MessageHeader::size).sum::<usize>()
    }
}

/// One message header: a name and an optional value (a NULL column gives a header without a value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageHeader {
    /// The header's name: a column name, or one of the `sluice.*` system headers.
    pub name: Arc<str>,
    /// The value as text.
    pub value: Option<Vec<u8>>,
}

impl MessageHeader {
    /// What the header takes against the size limit: name, value, and [`HEADER_FRAMING_BYTES`].
    pub fn size(&self) -> usize {
        self.name.len() + self.value.as_ref().map_or(0, Vec::len) + HEADER_FRAMING_BYTES
    }
}

/// The framing of one header in a Kafka record besides its name and value: two length varints at their longest.
/// Counted against the message size limit so that a message with headers never outgrows what the broker takes.
pub const HEADER_FRAMING_BYTES: usize = 10;

/// The transport's limits on one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageLimits {
    /// The most bytes `key.len() + value.len()` (plus per-message headers) may add up to.
    pub max_message_bytes: usize,
}

/// Where the batch comes from, for the formats that say so in every message (Debezium's `source`, the
/// `sluice.step` header).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchInfo<'a> {
    /// The pipeline's name.
    pub pipeline: &'a str,
    /// The pipeline step whose changes the batch holds.
    pub step: u64,
    /// The batch is part of a snapshot (`send_snapshot`): its rows are the view's contents as of `step`, all
    /// inserts, rather than changes (Debezium marks them `op: "r"`).
    pub snapshot: bool,
}

/// The callback that receives each message, in order; its error aborts the batch.
pub(crate) type Sink<'a> = dyn FnMut(EncodedMessage) -> Result<(), SinkError> + 'a;

/// Turns one step's changes of a view into messages.
pub trait Encoder: Send {
    /// Says which step the next [`Encoder::encode`] call holds. Optional: without it the step is 0 and the
    /// pipeline name empty.
    fn begin_batch(&mut self, batch: BatchInfo<'_>) {
        let _ = batch;
    }

    /// Encodes one step's delta of the view. Calls `sink` once per message, in order. Returns the per-record
    /// errors (records that could not be encoded are skipped, reported, and the rest of the batch still goes out).
    /// A sink error aborts encoding and is returned as `Err`; so is a step the format refuses as a whole (two
    /// rows with one key for `upsert`, a delete for plain-row output), before any of its messages is sent.
    ///
    /// Deletions (negative weights) are encoded first, then insertions, each in the order given; weight 0 is
    /// skipped. Formats that group by key send one message per key instead, in the order keys first appear.
    /// Messages never span two calls: whatever is buffered is sent before returning.
    fn encode(
        &mut self,
        delta: &[(Row, i64)],
        sink: &mut dyn FnMut(EncodedMessage) -> Result<(), SinkError>,
    ) -> Result<Vec<EncodeError>, SinkError>;
}

/// Calls `f` with each change of `delta`: all deletions in order, then all insertions in order.
pub(crate) fn for_each_change<'d, E>(
    delta: &'d [(Row, i64)],
    mut f: impl FnMut(&'d Row, i64) -> Result<(), E>,
) -> Result<(), E> {
    let deletes = delta.iter().filter(|(_, w)| *w < 0);
    let inserts = delta.iter().filter(|(_, w)| *w > 0);
    for (row, weight) in deletes.chain(inserts) {
        f(row, *weight)?;
    }
    Ok(())
}

/// Where the copies of one encoded change go: the packer, the sink, and the batch's errors.
pub(crate) struct Output<'a, 's> {
    /// Packs unkeyed records and checks sizes.
    pub packer: &'a mut Packer,
    /// Receives the messages.
    pub sink: &'a mut Sink<'s>,
    /// The batch's per-record errors.
    pub errors: &'a mut Vec<EncodeError>,
    /// Names the view in errors.
    pub context: &'a ErrorContext,
}

impl Output<'_, '_> {
    /// Reports that `copies` copies of `encoded` need a `size`-byte message.
    pub fn too_large(&mut self, encoded: &[u8], size: usize, copies: u64) {
        let limit = self.packer.limit();
        self.errors
            .push(self.context.too_large(encoded, size, limit, copies));
    }

    /// Packs `copies` copies of an unkeyed record, or reports it when it cannot fit in any message.
    pub fn push_copies(&mut self, record: &[u8], copies: u64) -> Result<(), SinkError> {
        if let Err(size) = self.packer.fits_alone(record.len()) {
            self.too_large(record, size, copies);
            return Ok(());
        }
        for _ in 0..copies {
            self.packer.push(record, self.sink)?;
        }
        Ok(())
    }

    /// Sends `copies` messages of one record each, with `key` and `headers` (`value` `None`: tombstones), or
    /// reports the record (`shown`, for the error) when such a message is over the limit. `records` is what each
    /// message counts (1, or 0 for a tombstone that repeats a delete).
    pub fn send_each(
        &mut self,
        message: Message<'_>,
        copies: u64,
        shown: &[u8],
    ) -> Result<(), SinkError> {
        let size = message.size();
        if size > self.packer.limit() {
            self.too_large(shown, size, copies);
            return Ok(());
        }
        for _ in 0..copies {
            (self.sink)(message.to_owned())?;
        }
        Ok(())
    }
}

/// A message of one record, borrowed from the encoder's buffers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Message<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [MessageHeader],
    pub records: usize,
}

impl Message<'_> {
    fn size(&self) -> usize {
        self.key.map_or(0, <[u8]>::len)
            + self.value.map_or(0, <[u8]>::len)
            + self.headers.iter().map(MessageHeader::size).sum::<usize>()
    }

    fn to_owned(self) -> EncodedMessage {
        EncodedMessage {
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            headers: self.headers.to_vec(),
            records: self.records,
        }
    }
}

/// Refuses a message size limit below `min_bytes`, the smallest message an encoder of `view` can produce.
pub(crate) fn check_limit(
    view: &str,
    limits: MessageLimits,
    min_bytes: usize,
) -> Result<(), ConfigError> {
    if limits.max_message_bytes >= min_bytes {
        return Ok(());
    }
    Err(ConfigError::new(
        "transport.config",
        format!(
            "messages are limited to {} bytes, but every message this format writes for view '{view}' needs at \
             least {min_bytes} bytes; raise the transport's message size limit (Kafka: message.max.bytes)",
            limits.max_message_bytes
        ),
    ))
}

/// How records are laid out in a message that can carry several.
#[derive(Clone, Debug, Default)]
pub(crate) struct Framing {
    /// Written once at the start of every message (`[`, a CSV header line).
    pub prefix: Vec<u8>,
    /// Written between two records (`\n`, `,`).
    pub separator: &'static [u8],
    /// Written once at the end of every message (`]`).
    pub suffix: &'static [u8],
}

/// Groups encoded records into messages of at most `max_records` records and `limit` bytes.
///
/// A message is sent as soon as it holds `max_records` records, when the next record would not fit, and at the
/// end of each batch ([`Packer::flush`]).
pub(crate) struct Packer {
    framing: Framing,
    max_records: usize,
    limit: usize,
    buf: Vec<u8>,
    records: usize,
}

impl Packer {
    /// A packer; `max_records` is at least 1.
    pub fn new(framing: Framing, max_records: usize, limits: MessageLimits) -> Self {
        Packer {
            framing,
            max_records: max_records.max(1),
            limit: limits.max_message_bytes,
            buf: Vec::new(),
            records: 0,
        }
    }

    /// The byte limit on a message.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The bytes the framing adds to a message of one record.
    pub fn framing_len(&self) -> usize {
        self.framing.prefix.len() + self.framing.suffix.len()
    }

    /// Checks that a record of `len` bytes fits in a message on its own; `Err` holds the size of that message.
    pub fn fits_alone(&self, len: usize) -> Result<(), usize> {
        let size = self.framing_len() + len;
        if size > self.limit {
            Err(size)
        } else {
            Ok(())
        }
    }

    /// Drops whatever a batch aborted by a sink error left buffered.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.records = 0;
    }

    /// Adds a record, which must pass [`Packer::fits_alone`], sending messages as they fill up.
    pub fn push(&mut self, record: &[u8], sink: &mut Sink<'_>) -> Result<(), SinkError> {
        debug_assert!(self.fits_alone(record.len()).is_ok());
        if self.records > 0 {
            let grown = self.buf.len()
                + self.framing.separator.len()
                + record.len()
                + self.framing.suffix.len();
            if grown > self.limit {
                self.flush(sink)?;
            }
        }
        if self.records == 0 {
            self.buf.extend_from_slice(&self.framing.prefix);
        } else {
            self.buf.extend_from_slice(self.framing.separator);
        }
        self.buf.extend_from_slice(record);
        self.records += 1;
        if self.records >= self.max_records {
            self.flush(sink)?;
        }
        Ok(())
    }

    /// Sends the buffered records, if any, as one message.
    pub fn flush(&mut self, sink: &mut Sink<'_>) -> Result<(), SinkError> {
        if self.records == 0 {
            return Ok(());
        }
        self.buf.extend_from_slice(self.framing.suffix);
        // One exact-size allocation per message; the buffer itself is kept for the next one.
        let message = EncodedMessage {
            key: None,
            value: Some(self.buf.clone()),
            headers: Vec::new(),
            records: self.records,
        };
        self.reset();
        sink(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(packer: &mut Packer, records: &[&str]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut sink = |m: EncodedMessage| {
            out.push((String::from_utf8(m.value.unwrap()).unwrap(), m.records));
            Ok(())
        };
        for r in records {
            if packer.fits_alone(r.len()).is_ok() {
                packer.push(r.as_bytes(), &mut sink).unwrap();
            }
        }
        packer.flush(&mut sink).unwrap();
        out
    }

    fn ndjson(max_records: usize, limit: usize) -> Packer {
        let framing = Framing {
            separator: b"\n",
            ..Framing::default()
        };
        Packer::new(
            framing,
            max_records,
            MessageLimits {
                max_message_bytes: limit,
            },
        )
    }

    #[test]
    fn cuts_by_count_and_by_size_without_blank_lines() {
        let got = run(&mut ndjson(3, 100), &["a", "b", "c", "d"]);
        assert_eq!(got, vec![("a\nb\nc".into(), 3), ("d".into(), 1)]);
        // "aaa\nbbb" is 7 bytes; a third record would make 11 > 10.
        let got = run(&mut ndjson(10, 10), &["aaa", "bbb", "ccc"]);
        assert_eq!(got, vec![("aaa\nbbb".into(), 2), ("ccc".into(), 1)]);
        // A record that fills the limit exactly still fits.
        let got = run(&mut ndjson(10, 3), &["aaa", "bbbb", "c"]);
        assert_eq!(got, vec![("aaa".into(), 1), ("c".into(), 1)]);
    }

    #[test]
    fn array_framing_counts_brackets_toward_the_limit() {
        let framing = Framing {
            prefix: b"[".to_vec(),
            separator: b",",
            suffix: b"]",
        };
        let mut packer = Packer::new(
            framing,
            10,
            MessageLimits {
                max_message_bytes: 7,
            },
        );
        assert_eq!(packer.fits_alone(6), Err(8));
        let got = run(&mut packer, &["ab", "cd", "ef"]);
        assert_eq!(got, vec![("[ab,cd]".into(), 2), ("[ef]".into(), 1)]);
    }

    #[test]
    fn deletes_come_first_and_zero_weights_are_skipped() {
        let row = |n: i64| Row(vec![n.into()]);
        let delta = vec![
            (row(1), 1),
            (row(2), -1),
            (row(3), 0),
            (row(4), 2),
            (row(5), -3),
        ];
        let mut seen = Vec::new();
        for_each_change::<()>(&delta, |r, w| {
            seen.push((r.clone(), w));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![(row(2), -1), (row(5), -3), (row(1), 1), (row(4), 2)]
        );
    }
}
