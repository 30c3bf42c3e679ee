//! Keys the plan proves unique: columns that no two rows of a view can share.
//!
//! An output connector that sends one message per key (upsert, keyed Debezium) needs a key that names at most one
//! row. Some keys are unique by construction, and then nothing has to be checked at run time: the grouping columns
//! of a GROUP BY, a table's primary key carried through filters and projections, either side's key of a join whose
//! other side is joined on its own unique key. The proof is conservative: `false` means "not proven", not "not
//! unique".

use crate::plan::{JoinKind, Node};
use crate::program::Program;

/// Whether no two rows of view number `view` can have equal values in `columns` (positions in the view's row).
pub fn proves_unique(program: &Program, view: usize, columns: &[usize]) -> bool {
    unique(program, &program.views[view].plan, columns)
}

fn unique(program: &Program, node: &Node, columns: &[usize]) -> bool {
    match node {
        Node::Table(t) => {
            let key = &program.tables[*t].primary_key;
            !key.is_empty() && key.iter().all(|c| columns.contains(c))
        }
        Node::View(v) => unique(program, &program.views[*v].plan, columns),
        Node::Filter { input, .. } | Node::TopK { input, .. } => unique(program, input, columns),
        // A projection keeps one output row per input row: the key is unique if the input columns it copies are.
        Node::Map { input, exprs } => {
            let copied: Vec<usize> = columns
                .iter()
                .filter_map(|&c| exprs.get(c).and_then(|e| e.as_column()))
                .collect();
            unique(program, input, &copied)
        }
        // One row per group: the grouping columns (the first ones) are a key; a global aggregate has one row.
        Node::Aggregate { keys, .. } => (0..keys.len()).all(|k| columns.contains(&k)),
        Node::Join(j) => {
            let left: Vec<usize> = columns
                .iter()
                .filter(|&&c| c < j.left_width)
                .copied()
                .collect();
            let right: Vec<usize> = columns
                .iter()
                .filter(|&&c| c >= j.left_width)
                .map(|&c| c - j.left_width)
                .collect();
            let on = |keys: &[crate::expr::Scalar]| -> Option<Vec<usize>> {
                keys.iter().map(|k| k.as_column()).collect()
            };
            // A side joined on its own unique key matches each row of the other side at most once.
            let right_at_most_once =
                on(&j.right_keys).is_some_and(|k| unique(program, &j.right, &k));
            let left_at_most_once = on(&j.left_keys).is_some_and(|k| unique(program, &j.left, &k));
            match j.kind {
                JoinKind::Inner => {
                    (unique(program, &j.left, &left) && unique(program, &j.right, &right))
                        || (right_at_most_once && unique(program, &j.left, &left))
                        || (left_at_most_once && unique(program, &j.right, &right))
                }
                JoinKind::Left => right_at_most_once && unique(program, &j.left, &left),
                JoinKind::Right => left_at_most_once && unique(program, &j.right, &right),
                // Semi and anti joins output rows of one side (each at most once per its own multiplicity).
                JoinKind::LeftSemi | JoinKind::LeftAnti => unique(program, &j.left, columns),
                JoinKind::RightSemi | JoinKind::RightAnti => unique(program, &j.right, columns),
                JoinKind::Full => false,
            }
        }
        Node::Constant(_) | Node::Distinct(_) | Node::UnionAll(_) | Node::Window { .. } => false,
    }
}
