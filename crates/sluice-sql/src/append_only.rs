//! Append-only relations: tables declared `WITH ('append_only' = 'true')` (Feldera's table property), which accept
//! inserts only, and the views that can therefore never delete a row.
//!
//! Knowing it at compile time lets an output connector that sends plain rows (which cannot say "deleted") be
//! checked when the pipeline starts instead of failing at the first deleting step, hours later.

use crate::plan::{JoinKind, Node};

/// Whether a plan can only ever add rows, given which tables and earlier views are append-only.
///
/// Row-wise operators, `UNION ALL`, `DISTINCT` (and a `GROUP BY` without aggregates), inner and semi joins keep an append-only input append-only: a row
/// they output stays justified by input rows that stay. Aggregates, top-k, windows, outer and anti joins replace
/// or retract rows as their inputs grow, so their output is not, whatever the inputs. Constants are inserted once.
pub fn is_append_only(node: &Node, tables: &[bool], views: &[bool]) -> bool {
    let of = |n: &Node| is_append_only(n, tables, views);
    match node {
        Node::Table(i) => tables[*i],
        Node::View(i) => views[*i],
        Node::Constant(_) => true,
        Node::Filter { input, .. } | Node::Map { input, .. } => of(input),
        // DataFusion plans `SELECT DISTINCT` as a GROUP BY without aggregates: a distinct over the keys.
        Node::Distinct(input) => of(input),
        Node::Aggregate { input, aggs, .. } if aggs.is_empty() => of(input),
        Node::UnionAll(inputs) => inputs.iter().all(of),
        Node::Join(j) => match j.kind {
            JoinKind::Inner | JoinKind::LeftSemi | JoinKind::RightSemi => {
                of(&j.left) && of(&j.right)
            }
            JoinKind::Left
            | JoinKind::Right
            | JoinKind::Full
            | JoinKind::LeftAnti
            | JoinKind::RightAnti => false,
        },
        Node::Aggregate { .. } | Node::TopK { .. } | Node::Window { .. } => false,
    }
}
