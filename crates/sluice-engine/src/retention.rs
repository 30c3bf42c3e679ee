//! Trimming state below the waterlines: the retention policies the circuit gives the traces of aggregates, top-k,
//! window functions and inner joins whose keys `sluice_sql::Anchor`s bound (see `lateness.rs` for the waterlines).

use std::sync::Arc;

use dbsp::dynamic::DynData;
use dbsp::typed_batch::TypedBox;
use dbsp::{RootCircuit, Stream};
use sluice_sql::Anchor;

use crate::lateness::ordinal;
use crate::row::DRow;

/// The waterlines in force at each step (one value per `Program::waterlines` entry, NULL where none is known), in
/// the shape dbsp's retention policies read.
pub type BoundStream = Stream<RootCircuit, TypedBox<DRow, DynData>>;

/// Whether to keep a key (first) under the waterlines (second).
type RetainFn = Arc<dyn Fn(&DRow, &DRow) -> bool + Send + Sync>;

/// The waterlines and the policy that reads them.
pub type Retention = (BoundStream, RetainFn);

/// The retention policy for state keyed by values with these anchors (`(key position, anchor)`): keep a key unless
/// one of its anchored values can no longer come (see [`Anchor::allows`]). `None` when nothing is anchored or the
/// program has no waterline (`bound`).
pub fn retention(bound: &Option<BoundStream>, anchors: Vec<(usize, Anchor)>) -> Option<Retention> {
    if anchors.is_empty() {
        return None;
    }
    let bound = bound.clone()?;
    let anchors: Arc<[(usize, Anchor)]> = anchors.into();
    let retain: RetainFn = Arc::new(move |key: &DRow, waterlines: &DRow| {
        anchors.iter().all(|(at, anchor)| {
            // NULL keys are kept; so is everything while a waterline is not known yet (an unset bound input is an
            // empty row).
            key.values()
                .get(*at)
                .and_then(ordinal)
                .is_none_or(|k| anchor.allows(k, |w| waterlines.values().get(w).and_then(ordinal)))
        })
    });
    Some((bound, retain))
}

/// Trims the state dbsp keeps of `indexed` by key: the stored input of the aggregate or join that reads it, or the
/// stored output of an aggregate (each group's last value, kept to retract it on a change). Both are accumulated
/// traces under the bounds of the unsharded stream, whatever the number of workers.
pub fn retain_keys<V: dbsp::DBData>(
    indexed: &Stream<RootCircuit, dbsp::OrdIndexedZSet<DRow, V>>,
    retention: &Option<Retention>,
) {
    if let Some((bound, retain)) = retention {
        let retain = retain.clone();
        indexed
            .accumulate_integrate_trace_retain_keys(bound, move |k: &DRow, w: &DRow| retain(k, w));
    }
}
