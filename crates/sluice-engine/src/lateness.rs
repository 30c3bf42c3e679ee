//! Waterlines and late records: what the engine does with the `LATENESS` of table columns.
//!
//! For every column with a lateness the engine keeps the largest value it has admitted. After each step the
//! column's waterline becomes that value minus the lateness, and it never goes back. A change (insert or delete) of
//! a row whose value is below the waterline in force is late: it is dropped before it reaches the circuit and
//! counted per table ([`Waterlines::late_records`]). Every row that reaches the circuit is therefore at or above the
//! waterline of its step, which is what makes trimming state below the waterline safe: the circuit gets the
//! waterlines as an input at every step (`circuit.rs` applies them to the operators `sluice_sql`'s anchors allow).
//!
//! The waterlines live here, beside the keyed tables, rather than inside the circuit, so that the late-record
//! check happens where rows are validated, and both are saved in the engine's checkpoint.

use serde::{Deserialize, Serialize};
use sluice_data::Value;
use sluice_sql::Program;

use crate::row::DRow;

/// The waterlines of a program and the late records of each table.
#[derive(Clone, Debug)]
pub struct Waterlines {
    /// Per waterline (in [`Program::waterlines`] order): table, column, lateness.
    decls: Vec<(usize, usize, i64)>,
    /// Per waterline: the largest value admitted so far.
    max: Vec<Option<i64>>,
    /// Per waterline: the waterline in force, set from `max` at each step.
    current: Vec<Option<i64>>,
    /// Per table: late changes dropped so far.
    late: Vec<u64>,
}

/// What a checkpoint keeps of the waterlines: the largest values (the waterlines follow from them) and the counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedWaterlines {
    /// Per waterline, in program order.
    pub max: Vec<Option<i64>>,
    /// Per table, in program order.
    pub late: Vec<u64>,
}

impl Waterlines {
    /// No value seen yet: nothing is late.
    pub fn new(program: &Program) -> Self {
        let decls = program.waterlines();
        Waterlines {
            max: vec![None; decls.len()],
            current: vec![None; decls.len()],
            late: vec![0; program.tables.len()],
            decls,
        }
    }

    /// Continues from a checkpoint's state (ignored when it does not fit the program, e.g. one saved before the
    /// program had waterlines).
    pub fn restore(program: &Program, saved: &SavedWaterlines) -> Self {
        let mut w = Waterlines::new(program);
        if saved.max.len() == w.max.len() {
            w.max = saved.max.clone();
            w.advance();
        }
        if saved.late.len() == w.late.len() {
            w.late = saved.late.clone();
        }
        w
    }

    /// The state a checkpoint keeps.
    pub fn save(&self) -> SavedWaterlines {
        SavedWaterlines {
            max: self.max.clone(),
            late: self.late.clone(),
        }
    }

    /// Whether the program has any waterline.
    pub fn any(&self) -> bool {
        !self.decls.is_empty()
    }

    /// Whether `table` has a lateness column.
    pub fn has_table(&self, table: usize) -> bool {
        self.decls.iter().any(|d| d.0 == table)
    }

    /// Whether a change of `row` (the values of a row of `table`) is late: one of its lateness columns is below the
    /// waterline in force. NULL is never late.
    pub fn is_late(&self, table: usize, row: &[Value]) -> bool {
        self.decls.iter().enumerate().any(|(i, &(t, column, _))| {
            t == table
                && matches!((self.current[i], ordinal(&row[column])), (Some(w), Some(v)) if v < w)
        })
    }

    /// Counts one late change of `table`.
    pub fn count_late(&mut self, table: usize) {
        self.late[table] += 1;
    }

    /// Takes an admitted change into account: an insert raises the largest values of its lateness columns.
    pub fn observe(&mut self, table: usize, row: &[Value], weight: i64) {
        if weight <= 0 {
            return;
        }
        for (i, &(t, column, _)) in self.decls.iter().enumerate() {
            if let (true, Some(v)) = (t == table, ordinal(&row[column])) {
                self.max[i] = Some(self.max[i].map_or(v, |m| m.max(v)));
            }
        }
    }

    /// [`Waterlines::is_late`], counted, or else [`Waterlines::observe`]d: whether the change gets in.
    pub fn admit(&mut self, table: usize, row: &[Value], weight: i64) -> bool {
        if self.is_late(table, row) {
            self.count_late(table);
            return false;
        }
        self.observe(table, row, weight);
        true
    }

    /// Takes the changes admitted since the last step into account: called once per step, after the step's input
    /// was admitted, so that the waterlines apply from the next step on.
    pub fn advance(&mut self) {
        for (i, &(_, _, lateness)) in self.decls.iter().enumerate() {
            if let Some(m) = self.max[i] {
                let w = m.saturating_sub(lateness);
                self.current[i] = Some(self.current[i].map_or(w, |c| c.max(w)));
            }
        }
    }

    /// The waterlines in force, as the circuit's bound input: one value per waterline, NULL where none is known yet.
    pub fn bound(&self) -> DRow {
        DRow::of(
            self.current
                .iter()
                .map(|w| w.map_or(Value::Null, Value::BigInt))
                .collect(),
        )
    }

    /// Late changes dropped so far, per table in program order.
    pub fn late_records(&self) -> &[u64] {
        &self.late
    }

    /// The waterline in force with this index (in [`Program::waterlines`] order), if it has one yet.
    pub fn current(&self, waterline: usize) -> Option<i64> {
        self.current.get(waterline).copied().flatten()
    }

    /// The waterline in force for `column` of `table`, in the column's type, if it has one yet.
    pub fn waterline(&self, table: usize, column: usize) -> Option<i64> {
        let i = self
            .decls
            .iter()
            .position(|&(t, c, _)| t == table && c == column)?;
        self.current[i]
    }
}

/// A lateness column's value as a number in its own unit (microseconds, days, the integer), the way waterlines and
/// anchored keys are compared; `None` for NULL.
pub fn ordinal(v: &Value) -> Option<i64> {
    match v {
        Value::Timestamp(x) | Value::BigInt(x) => Some(*x),
        Value::Date(x) | Value::Int(x) => Some(i64::from(*x)),
        Value::SmallInt(x) => Some(i64::from(*x)),
        Value::TinyInt(x) => Some(i64::from(*x)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> Program {
        Program::compile(
            "CREATE TABLE t (id INT, ts TIMESTAMP LATENESS INTERVAL '10' SECONDS, n BIGINT LATENESS 5);\n\
             CREATE TABLE u (x INT)",
        )
        .unwrap()
    }

    fn row_values(ts: Option<i64>, n: i64) -> Vec<Value> {
        vec![
            Value::Int(1),
            ts.map_or(Value::Null, Value::Timestamp),
            Value::BigInt(n),
        ]
    }

    #[test]
    fn a_change_below_a_waterline_of_the_step_before_is_late_and_counted() {
        let p = program();
        let mut w = Waterlines::new(&p);
        let s = 1_000_000;
        // Nothing is late before the first step, however old.
        assert!(w.admit(0, &row_values(Some(100 * s), 100), 1));
        assert!(w.admit(0, &row_values(Some(0), 0), 1));
        assert_eq!(w.bound(), DRow::of(vec![Value::Null, Value::Null]));
        w.advance();
        assert_eq!(
            w.bound(),
            DRow::of(vec![Value::BigInt(90 * s), Value::BigInt(95)])
        );
        // At the waterline is on time; below either waterline is late, deletes included; NULL is never late.
        assert!(w.admit(0, &row_values(Some(90 * s), 95), 1));
        assert!(!w.admit(0, &row_values(Some(90 * s - 1), 99), 1));
        assert!(!w.admit(0, &row_values(Some(95 * s), 94), -1));
        assert!(w.admit(0, &row_values(None, 96), 1));
        assert_eq!(w.late_records(), &[2, 0]);
        // Only admitted inserts raise the waterline, and it never goes back.
        assert!(w.admit(0, &row_values(Some(200 * s), 200), -1));
        w.advance();
        assert_eq!(w.waterline(0, 1), Some(90 * s));
        let saved = w.save();
        let back = Waterlines::restore(&p, &saved);
        assert_eq!(back.bound(), w.bound());
        assert_eq!(back.late_records(), &[2, 0]);
    }
}
