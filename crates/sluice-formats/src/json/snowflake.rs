//! The `snowflake` update format: the record's members, then `"__action":"insert"|"delete"`, a `__stream_id`
//! fixed per encoder, and a `__seq_number` counting the records sent from 0, across batches.

use sluice_data::Row;

use crate::encoder::Output;
use crate::error::SinkError;
use crate::keys::{Decor, Op, Record};
use crate::text::write_int;

use super::record::polarity;

/// The trailers and the sequence counter of one snowflake encoder.
pub(super) struct Snowflake {
    /// `,"__action":"insert","__stream_id":<id>,"__seq_number":` and the `delete` form.
    trailers: [Vec<u8>; 2],
    /// The sequence number of the next record sent.
    seq: u64,
    /// How many digits the stream id has.
    id_digits: usize,
}

impl Snowflake {
    /// A stream `stream_id` whose first record gets sequence number 0.
    pub fn new(stream_id: u64) -> Self {
        let trailers = ["insert", "delete"].map(|action| {
            let mut t = format!(r#","__action":"{action}","__stream_id":"#).into_bytes();
            write_int(&mut t, stream_id);
            t.extend_from_slice(br#","__seq_number":"#);
            t
        });
        Snowflake {
            trailers,
            seq: 0,
            id_digits: itoa::Buffer::new().format(stream_id).len(),
        }
    }

    /// The smallest record of any snowflake encoder, given the smallest record object: the trailer with a
    /// one-digit stream id and a one-digit sequence number. It does not depend on this encoder's random stream id,
    /// so that whether a message size limit is accepted does not either.
    pub fn min_len(&self, object_min: usize) -> usize {
        object_min + self.trailers[0].len() - self.id_digits + 1 + 1
    }

    /// Sends `copies` copies of the record whose object `open_record` holds without its closing brace. A copy too
    /// large to send is reported and uses up no sequence number.
    pub fn send(
        &mut self,
        row: &Row,
        open_record: &mut Vec<u8>,
        insert: bool,
        copies: u64,
        out: &mut Output<'_, '_>,
        decor: &mut Decor,
    ) -> Result<(), SinkError> {
        let open_len = open_record.len();
        let (mut dropped, mut size) = (0, 0);
        for _ in 0..copies {
            open_record.truncate(open_len);
            open_record.extend_from_slice(&self.trailers[polarity(insert)]);
            write_int(open_record, self.seq);
            open_record.push(b'}');
            if !decor.is_plain() {
                // Keyed or with headers: one message per copy; a copy too large is reported by `send`.
                let errors = out.errors.len();
                let bytes: &[u8] = open_record;
                let record = Record {
                    row,
                    record: bytes,
                    value: Some(bytes),
                    op: Op::of(insert),
                    records: 1,
                };
                decor.send(out, record, 1)?;
                if out.errors.len() == errors {
                    self.seq += 1;
                }
                continue;
            }
            match out.packer.fits_alone(open_record.len()) {
                Ok(()) => {
                    out.packer.push(open_record, out.sink)?;
                    self.seq += 1;
                }
                Err(needed) => (dropped, size) = (dropped + 1, needed),
            }
        }
        if dropped > 0 {
            out.too_large(open_record, size, dropped);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::{Framing, Packer};
    use crate::json::tests::{config, limits, run, view, zeros};
    use crate::json::{JsonEncoder, Mode};
    use sluice_data::{Row, Value};
    use sluice_types::JsonUpdateFormat;

    #[test]
    fn sequence_numbers_continue_across_batches_and_skip_dropped_records() {
        let format = config(JsonUpdateFormat::Snowflake, false);
        let mut enc = JsonEncoder::new(&format, &view(), limits(1000)).unwrap();
        enc.mode = Mode::Snowflake(Snowflake::new(42));
        let framing = Framing {
            separator: b"\n",
            ..Framing::default()
        };
        enc.packer = Packer::new(framing, 1, limits(70));
        let (messages, _) = run(&mut enc, &[(zeros(), -2)]);
        assert_eq!(
            messages,
            vec![
                r#"{"a":0,"b":0,"__action":"delete","__stream_id":42,"__seq_number":0}"#,
                r#"{"a":0,"b":0,"__action":"delete","__stream_id":42,"__seq_number":1}"#,
            ]
        );
        // This record needs 71 bytes: it is dropped without using up a sequence number.
        let long = Row(vec![Value::BigInt(10_000), Value::BigInt(0)]);
        let (messages, errors) = run(&mut enc, &[(long, 1), (zeros(), 1)]);
        assert!(matches!(
            &errors[..],
            [crate::EncodeError::RecordTooLarge {
                size: 71,
                copies: 1,
                ..
            }]
        ));
        assert_eq!(
            messages,
            vec![r#"{"a":0,"b":0,"__action":"insert","__stream_id":42,"__seq_number":2}"#]
        );
    }

    #[test]
    fn the_minimum_size_does_not_depend_on_the_stream_id() {
        assert_eq!(
            Snowflake::new(0).min_len(10),
            Snowflake::new(u64::MAX >> 1).min_len(10)
        );
        let smallest = r#"{"a":0,"b":0,"__action":"insert","__stream_id":0,"__seq_number":0}"#;
        assert_eq!(
            Snowflake::new(7).min_len(r#"{"a":0,"b":0}"#.len()),
            smallest.len()
        );
    }

    #[test]
    fn stream_ids_are_below_2_to_the_63() {
        let format = config(JsonUpdateFormat::Snowflake, false);
        for _ in 0..64 {
            let enc = JsonEncoder::new(&format, &view(), limits(1000)).unwrap();
            let Mode::Snowflake(snowflake) = &enc.mode else {
                unreachable!()
            };
            let text = String::from_utf8(snowflake.trailers[0].clone()).unwrap();
            let id = text.split(':').nth(2).unwrap().split(',').next().unwrap();
            assert!(id.parse::<u64>().unwrap() < 1 << 63, "{id}");
        }
    }
}
