//! `emit_final` views: each row comes out once, when it can no longer change.
//!
//! A view declared `WITH ('emit_final' = 'column')` is computed like any other; its changes then go into a buffer of
//! the rows that may still change instead of out. After every step, a buffered row whose column value has fallen
//! behind the waterlines it trails (`sluice_sql::Anchor`: no change still to come can reach it) is final: it leaves
//! the buffer and comes out as an insert, with its multiplicity. So the view's output only ever gains rows, each
//! exactly once, and the buffer holds the rows of the open windows only. It is saved with the engine's checkpoint.
//! A row whose column is NULL never becomes final (no waterline passes NULL).

use std::collections::BTreeMap;

use sluice_data::{Delta, Row};
use sluice_sql::EmitFinal;

use crate::lateness::{ordinal, Waterlines};

/// The rows of one `emit_final` view that are not final yet.
#[derive(Clone, Debug)]
pub struct FinalBuffer {
    spec: EmitFinal,
    pending: BTreeMap<Row, i64>,
}

impl FinalBuffer {
    /// An empty buffer, or one holding `rows` (from a checkpoint).
    pub fn new(spec: EmitFinal, rows: impl IntoIterator<Item = (Row, i64)>) -> Self {
        FinalBuffer {
            spec,
            pending: rows.into_iter().collect(),
        }
    }

    /// Takes a step's changes of the view in and returns the rows that became final, each once with its
    /// multiplicity.
    pub fn step(&mut self, changes: Delta, waterlines: &Waterlines) -> Delta {
        for (row, w) in changes {
            let count = self.pending.entry(row).or_insert(0);
            *count += w;
        }
        self.pending.retain(|_, w| *w != 0);
        let column = self.spec.column;
        let anchor = &self.spec.anchor;
        let finished: Vec<Row> = self
            .pending
            .keys()
            .filter(|row| {
                ordinal(&row.0[column])
                    .is_some_and(|v| !anchor.allows(v, |i| waterlines.current(i)))
            })
            .cloned()
            .collect();
        finished
            .into_iter()
            .filter_map(|row| {
                let w = self.pending.remove(&row)?;
                (w > 0).then_some((row, w))
            })
            .collect()
    }

    /// The rows not final yet, for a checkpoint.
    pub fn pending(&self) -> Vec<(Row, i64)> {
        self.pending.iter().map(|(r, w)| (r.clone(), *w)).collect()
    }
}
