//! A dbsp aggregator that hands a whole group to a function of `sluice-sql`.
//!
//! Aggregates that are not sums over rows (MIN, MAX, DISTINCT, float sums; the others are running totals, see
//! `sums.rs`), top-k and window functions all have the same shape here: when a group (a partition) changes,
//! dbsp calls [`GroupFn`] with the group's current rows and multiplicities, and the function returns the
//! group's new output, which dbsp diffs against the previous one. This costs a scan of the changed group
//! per step, independent of the number of groups.

use std::sync::Arc;

use dbsp::algebra::UnimplementedSemigroup;
use dbsp::dynamic::{DataTrait, DynUnit, Erase, WeightTrait};
use dbsp::operator::Aggregator;
use dbsp::trace::Cursor;
use dbsp::ZWeight;
use sluice_data::Value;

use crate::row::DRow;

/// A group's rows (values and multiplicity) to its output, packed into one row.
pub type GroupBody = dyn Fn(&[(&[Value], i64)]) -> DRow + Send + Sync;

/// Runs a [`GroupBody`] over each changed group.
#[derive(Clone)]
pub struct GroupFn(pub Arc<GroupBody>);

impl Aggregator<DRow, (), ZWeight> for GroupFn {
    type Accumulator = DRow;
    // Only rolling aggregates combine partial accumulators; plain `aggregate` never does.
    type Semigroup = UnimplementedSemigroup<DRow>;
    type Output = DRow;

    fn aggregate<KTrait, RTrait>(
        &self,
        cursor: &mut dyn Cursor<KTrait, DynUnit, (), RTrait>,
    ) -> Option<DRow>
    where
        KTrait: DataTrait + ?Sized,
        RTrait: WeightTrait + ?Sized,
        DRow: Erase<KTrait>,
        ZWeight: Erase<RTrait>,
    {
        // The group's values go into one flat arena (one allocation per group, not per row): cloning a row's
        // scalars is cheap, allocating a `Vec` for each row of every changed group was not.
        let mut values: Vec<Value> = Vec::new();
        let mut rows: Vec<(usize, usize, i64)> = Vec::new();
        while cursor.key_valid() {
            let mut weight: ZWeight = 0;
            // SAFETY: the cursor iterates a batch whose keys are `DRow` and weights `ZWeight`, as the bounds say.
            cursor.map_times(&mut |_t, w| weight += *unsafe { w.downcast::<ZWeight>() });
            if weight != 0 {
                let row = unsafe { cursor.key().downcast::<DRow>() }.values();
                rows.push((values.len(), row.len(), weight));
                values.extend_from_slice(row);
            }
            cursor.step_key();
        }
        if rows.is_empty() {
            return None;
        }
        let view: Vec<(&[Value], i64)> = rows
            .iter()
            .map(|&(start, len, w)| (&values[start..start + len], w))
            .collect();
        Some((self.0)(&view))
    }

    fn finalize(&self, accumulator: DRow) -> DRow {
        accumulator
    }
}

/// Packs rows with multiplicities into one row (`[[values…, weight], …]`) for [`unpack`].
pub fn pack(rows: Vec<(Vec<Value>, i64)>) -> DRow {
    DRow::of(
        rows.into_iter()
            .map(|(mut r, w)| {
                r.push(Value::BigInt(w));
                Value::Array(r)
            })
            .collect(),
    )
}

/// The rows of a [`pack`]ed group output, each repeated by its multiplicity.
pub fn unpack(packed: &DRow) -> Vec<DRow> {
    let mut out = Vec::new();
    for v in packed.values() {
        if let Value::Array(items) = v {
            if let Some((Value::BigInt(w), row)) = items.split_last() {
                for _ in 0..(*w).max(0) {
                    out.push(DRow::of(row.to_vec()));
                }
            }
        }
    }
    out
}
