//! GROUP BY with running totals (COUNT, SUM and AVG of exact numbers) from one stored trace.
//!
//! dbsp's `aggregate_linear` keeps two traces per GROUP BY: the groups' summed inputs, and its last output row per
//! group, which an `upsert` reads to retract the old row when the group changes. For sums the old total needs no
//! copy: it is the new total minus the step's change, and the new total is what the integrated inputs hold for the
//! group. So this operator integrates the summed inputs once and, for each group a step changes, reads its total
//! there and emits the retraction and the new row itself. In the book fair benchmark (every group changed at
//! every step) the upsert and the second aggregate pass were over a third of the process's CPU time.
//!
//! The trace is dbsp's per-step integral (`integrate_trace`), so a change and the total it is read against are
//! always of the same step, however dbsp spreads a transaction's changes over its steps.

use dbsp::algebra::{AddByRef, HasZero, NegByRef};
use dbsp::dynamic::{DowncastTrait, DynWeight};
use dbsp::trace::{BatchReader as _, Cursor as _};
use dbsp::typed_batch::{BatchReader as _, OrdWSet, Spine};
use dbsp::utils::Tup2;
use dbsp::{OrdIndexedZSet, OrdZSet, RootCircuit, Stream};

use crate::retention::Retention;
use crate::row::DRow;
use crate::sums::Sums;

/// Each group's summed changes in a step, and their integral.
type GroupSums = OrdWSet<DRow, Sums, DynWeight>;

/// The rows of a GROUP BY whose aggregates are running totals: `shares` holds each input row's group key and its
/// share of the sums (times the row's weight when summed), `row_of` makes the output row of a group from its key
/// and its totals. A group whose totals are all zero has no row (no input row is left in it: one slot counts rows).
pub fn running_totals(
    shares: &Stream<RootCircuit, OrdIndexedZSet<DRow, Sums>>,
    retention: &Option<Retention>,
    row_of: impl Fn(&DRow, &Sums) -> DRow + 'static,
) -> Stream<RootCircuit, OrdZSet<DRow>> {
    let changes = shares
        .weigh(|_key: &DRow, share: &Sums| share.clone())
        .shard();
    if let Some((bound, retain)) = retention {
        let retain = retain.clone();
        changes.integrate_trace_retain_keys(bound, move |k: &DRow, w: &DRow| retain(k, w));
    }
    let totals = changes.integrate_trace();
    changes.apply2(
        &totals,
        move |changes: &GroupSums, totals: &Spine<GroupSums>| {
            let mut rows = Vec::with_capacity(2 * changes.inner().len());
            let mut change = changes.inner().cursor();
            let mut total = totals.inner().cursor();
            while change.key_valid() {
                if change.val_valid() {
                    // SAFETY: both batches are weighted sets of `DRow` keys with `Sums` weights.
                    let delta = unsafe { change.weight().downcast::<Sums>() }.clone();
                    let key = unsafe { change.key().downcast::<DRow>() };
                    // The integral includes this step's change: it is the new total.
                    let new = if total.seek_key_exact(change.key(), None) && total.val_valid() {
                        unsafe { total.weight().downcast::<Sums>() }.clone()
                    } else {
                        Sums::zero()
                    };
                    let old = new.add_by_ref(&delta.neg_by_ref());
                    if !old.is_zero() {
                        rows.push(Tup2(row_of(key, &old), -1));
                    }
                    if !new.is_zero() {
                        rows.push(Tup2(row_of(key, &new), 1));
                    }
                }
                change.step_key();
            }
            OrdZSet::from_keys((), rows)
        },
    )
}
