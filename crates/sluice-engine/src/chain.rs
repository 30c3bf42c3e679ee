//! [`RowChain`]: projections and filters stacked on each other, run row by row in one dbsp operator (see
//! `circuit.rs`, which builds the rest of the circuit).

use std::sync::Arc;

use sluice_data::Value;
use sluice_sql::expr::Scalar;
use sluice_sql::plan::{JoinKind, Node};
use smallvec::SmallVec;

use crate::row::DRow;

pub(crate) fn is_inner_join(node: &Node) -> bool {
    matches!(node, Node::Join(j) if j.kind == JoinKind::Inner)
}

/// One row-wise operator of a [`RowChain`].
pub(crate) enum Stage {
    Filter(Scalar),
    Map(Vec<Scalar>),
}

/// Projections and filters stacked directly on each other, run row by row in one dbsp operator.
///
/// A query as plain as `SELECT id, x * 2 FROM t WHERE x > 0` plans as three row-wise nodes: the scan's column
/// pruning, the filter and the projection. As separate operators each would sort and store a whole batch only
/// for the next to read it once; fused, a row passes all stages on the stack and only the result is stored.
#[derive(Clone)]
pub(crate) struct RowChain {
    /// In the order they apply (innermost first).
    pub(crate) stages: Arc<[Stage]>,
}

/// Intermediate rows of a chain live on the stack up to this width.
type Scratch = SmallVec<[Value; 8]>;

impl RowChain {
    /// The row-wise nodes at the top of `node` and the node they read. A projection over an inner join is
    /// left to the join, which fuses it itself.
    pub(crate) fn under(node: &Node) -> (&Node, RowChain) {
        let mut stages = Vec::new();
        let mut node = node;
        loop {
            match node {
                Node::Filter { input, predicate } => {
                    stages.push(Stage::Filter(predicate.clone()));
                    node = input;
                }
                Node::Map { input, exprs } if !is_inner_join(input) => {
                    stages.push(Stage::Map(exprs.clone()));
                    node = input;
                }
                _ => break,
            }
        }
        stages.reverse();
        let chain = RowChain {
            stages: stages.into(),
        };
        (node, chain)
    }

    /// The row that comes out of the chain for `row`, or `None` when a filter drops it.
    ///
    /// Intermediate rows are written into two stack buffers in turn (a projection reads one and fills the
    /// other), so no row is moved or allocated between stages; the last projection builds the stored row.
    pub(crate) fn apply(&self, row: &DRow) -> Option<DRow> {
        let mut buffers: [Scratch; 2] = Default::default();
        // Which buffer holds the current row; `None` while it is still the input row.
        let mut current: Option<usize> = None;
        let last = self.stages.len().saturating_sub(1);
        for (i, stage) in self.stages.iter().enumerate() {
            let [a, b] = &mut buffers;
            let (from, to, written) = match current {
                Some(0) => (a.as_slice(), b, 1),
                Some(_) => (b.as_slice(), a, 0),
                None => (row.values(), a, 0),
            };
            match stage {
                Stage::Filter(p) => {
                    if !p.test(from) {
                        return None;
                    }
                }
                Stage::Map(exprs) if i == last => {
                    return Some(exprs.iter().map(|e| value_of(e, from)).collect());
                }
                Stage::Map(exprs) => {
                    to.clear();
                    to.extend(exprs.iter().map(|e| value_of(e, from)));
                    current = Some(written);
                }
            }
        }
        Some(match current {
            Some(i) => buffers[i].drain(..).collect(),
            None => row.clone(),
        })
    }
}

/// `e` over `row`, copying the value directly when `e` only reads a column or is a literal.
pub(crate) fn value_of(e: &Scalar, row: &[Value]) -> Value {
    e.eval_ref(row).into_owned()
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::DataType;

    use super::*;

    fn col(i: usize) -> Scalar {
        Scalar::column(i, DataType::Boolean)
    }

    fn chain(stages: Vec<Stage>) -> RowChain {
        RowChain {
            stages: stages.into(),
        }
    }

    fn row(values: &[Value]) -> DRow {
        values.iter().cloned().collect()
    }

    /// Every shape of chain gives what applying its stages one at a time gives: projections in a row (which
    /// take turns between the two buffers), a filter after projections, filters alone and no stage at all.
    #[test]
    fn a_chain_applies_its_stages_in_order() {
        let (t, f, one) = (Value::Bool(true), Value::Bool(false), Value::Int(1));
        let input = row(&[one.clone(), t.clone(), f.clone()]);
        let map = |cols: &[usize]| Stage::Map(cols.iter().map(|&c| col(c)).collect());
        // [1, T, F] → [F, T, 1] → [T, 1, F] → keeps (first is true) → [F, T]
        let three = chain(vec![
            map(&[2, 1, 0]),
            map(&[1, 2, 0]),
            Stage::Filter(col(0)),
            map(&[2, 0]),
        ]);
        assert_eq!(three.apply(&input), Some(row(&[f.clone(), t.clone()])));
        // A filter last reads the second buffer's row and returns it.
        let filter_last = chain(vec![
            map(&[2, 1, 0]),
            map(&[1, 2, 0]),
            Stage::Filter(col(0)),
        ]);
        assert_eq!(
            filter_last.apply(&input),
            Some(row(&[t.clone(), one.clone(), f.clone()]))
        );
        // Three projections: the third writes back into the first buffer.
        let back = chain(vec![
            map(&[2, 1, 0]),
            map(&[1, 2, 0]),
            map(&[1, 2, 0]),
            Stage::Filter(col(2)),
        ]);
        assert_eq!(
            back.apply(&input),
            Some(row(&[one.clone(), f.clone(), t.clone()]))
        );
        // Dropped by a filter over a projected row.
        let dropped = chain(vec![map(&[2, 1, 0]), Stage::Filter(col(0)), map(&[0])]);
        assert_eq!(dropped.apply(&input), None);
        // Filters alone return the input row; so does an empty chain.
        assert_eq!(
            chain(vec![Stage::Filter(col(1))]).apply(&input),
            Some(input.clone())
        );
        assert_eq!(chain(vec![Stage::Filter(col(2))]).apply(&input), None);
        assert_eq!(chain(vec![]).apply(&input), Some(input.clone()));
        // Rows wider than the stack buffers still come through whole.
        let wide: Vec<usize> = (0..12).map(|i| i % 3).collect();
        let widened = chain(vec![map(&wide), Stage::Filter(col(1)), map(&wide)]);
        let expected: Vec<Value> = (0..12).map(|i| input.values()[i % 3].clone()).collect();
        assert_eq!(widened.apply(&input), Some(row(&expected)));
    }
}
