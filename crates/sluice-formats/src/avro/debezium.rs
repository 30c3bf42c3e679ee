//! Debezium's envelope in Avro: `{before, after, source, op, ts_ms}` (see `schema::envelope`), written field by
//! field around the row records. `source` is the same for a whole batch and is encoded once per batch.

use sluice_data::Row;

use super::schema::Shape;
use super::write::{write_bytes, write_long, write_record};
use crate::error::Mismatch;
use crate::time::now_ms;

/// What a Debezium message says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Create,
    Update,
    Delete,
    /// A row of a snapshot.
    Read,
}

impl Op {
    fn code(self) -> &'static [u8] {
        match self {
            Op::Create => b"c",
            Op::Update => b"u",
            Op::Delete => b"d",
            Op::Read => b"r",
        }
    }
}

/// The batch's encoded `source` and time.
pub(crate) struct Envelope {
    table: String,
    source: Vec<u8>,
    ts_ms: i64,
    snapshot: bool,
}

impl Envelope {
    /// The envelope of the view called `table`.
    pub fn new(table: &str) -> Self {
        Envelope {
            table: table.to_string(),
            source: Vec::new(),
            ts_ms: 0,
            snapshot: false,
        }
    }

    /// Encodes the `source` record of a batch of step `step` of `pipeline` (`snapshot`: of a snapshot's batch).
    pub fn begin_batch(&mut self, pipeline: &str, step: u64, snapshot: bool) {
        self.ts_ms = now_ms();
        self.snapshot = snapshot;
        let s = &mut self.source;
        s.clear();
        write_bytes(env!("CARGO_PKG_VERSION").as_bytes(), s);
        write_bytes(b"sluice", s);
        write_bytes(pipeline.as_bytes(), s);
        write_long(self.ts_ms, s);
        write_bytes(if snapshot { b"true" } else { b"false" }, s);
        write_bytes(pipeline.as_bytes(), s);
        write_bytes(self.table.as_bytes(), s);
        write_long(step as i64, s);
    }

    /// The op of an inserted row: `r` in a snapshot, `c` otherwise.
    pub fn insert_op(&self) -> Op {
        if self.snapshot {
            Op::Read
        } else {
            Op::Create
        }
    }

    /// Appends the envelope of a change to `out` (which holds the Confluent header already): the images that
    /// exist, in the row record's `shapes`.
    pub fn write(
        &self,
        shapes: &[Shape],
        before: Option<&Row>,
        after: Option<&Row>,
        op: Op,
        out: &mut Vec<u8>,
    ) -> Result<(), (usize, Mismatch)> {
        for image in [before, after] {
            match image {
                None => write_long(0, out),
                Some(row) => {
                    write_long(1, out);
                    write_record(shapes, row, None, out)?;
                }
            }
        }
        out.extend_from_slice(&self.source);
        write_bytes(op.code(), out);
        write_long(1, out);
        write_long(self.ts_ms, out);
        Ok(())
    }
}
