//! Which values of a plan can no longer change once a waterline has passed them: what lets the engine trim state.
//!
//! A table column with a `LATENESS` has a waterline (its largest value so far minus the lateness); no record below
//! it gets in any more. A value computed from such a column *trails* it when it is never more than a fixed slack
//! below it ([`crate::expr::Scalar::trail`]): the column itself, `DATE_BIN` of it (a TUMBLE's `window_start`),
//! that plus or minus a fixed interval (`window_end`). Such values are [`Anchor`]ed to the waterline: any row still
//! to come has `value + slack >= waterline`. So a group of an aggregate, top-k or window function keyed by an
//! anchored value `k` with `k + slack < waterline` gets no more rows, and neither does a join key on the other side
//! of a join; the engine drops their stored rows. This file finds the anchors, column by column, through the plan.

use crate::anchor::{Anchor, Bound, EmitFinal};
use crate::error::Unsupported;
use crate::expr::Scalar;
use crate::plan::{JoinKind, Node};
use crate::Program;

impl Program {
    /// Every waterline of the program, in table then column order: `(table index, column index, lateness)`. The
    /// engine keeps one value per entry.
    pub fn waterlines(&self) -> Vec<(usize, usize, i64)> {
        self.tables
            .iter()
            .enumerate()
            .flat_map(|(t, def)| def.lateness.iter().map(move |l| (t, l.column, l.amount)))
            .collect()
    }

    /// The anchor of each output column of `node` (`None` where nothing bounds a column's values still to come).
    pub fn anchors(&self, node: &Node) -> Vec<Option<Anchor>> {
        anchors(self, node)
    }

    /// Checks a view's `emit_final` column: one of its columns whose values trail a waterline.
    pub(crate) fn emit_final(
        &self,
        view: &str,
        fields: &[sluice_data::Field],
        node: &Node,
        column: &str,
        materialized: bool,
    ) -> Result<EmitFinal, Unsupported> {
        let refuse = |why: String| {
            Unsupported::at_keyword(format!("view {view}: 'emit_final': {why}"), "emit_final")
        };
        if materialized {
            return Err(refuse(
                "a MATERIALIZED view keeps every row as it changes, not only final ones; drop one of the two".into(),
            ));
        }
        let index = fields
            .iter()
            .position(|f| f.name == column || f.name == column.to_lowercase())
            .ok_or_else(|| refuse(format!("{column} is not a column of the view")))?;
        let anchor = self.anchors(node)[index].clone().ok_or_else(|| {
            refuse(format!(
                "column {column} does not follow a LATENESS column (it must be one, or a TUMBLE/HOP window_start or \
                 window_end over one, grouped by or passed through unchanged), so its rows would never be final"
            ))
        })?;
        Ok(EmitFinal {
            column: index,
            anchor,
        })
    }

    /// The anchored values among `keys` (expressions over the rows of `input`): `(key position, anchor)`.
    pub fn key_anchors(&self, input: &Node, keys: &[Scalar]) -> Vec<(usize, Anchor)> {
        let columns = anchors(self, input);
        keys.iter()
            .enumerate()
            .filter_map(|(i, k)| through(k, &columns).map(|a| (i, a)))
            .collect()
    }
}

/// `expr`'s anchor, given its input columns' anchors.
fn through(expr: &Scalar, columns: &[Option<Anchor>]) -> Option<Anchor> {
    let (c, slack) = expr.trail()?;
    columns.get(c)?.as_ref()?.shifted(slack)
}

/// Only the columns that `keys` read unchanged keep their anchors: the rows of a group (a partition) change only
/// when a row with the group's key comes, but the group's other values may be as old as its oldest row.
fn keep_keys(mut columns: Vec<Option<Anchor>>, keys: &[Scalar]) -> Vec<Option<Anchor>> {
    for (c, a) in columns.iter_mut().enumerate() {
        if !keys.iter().any(|k| k.as_column() == Some(c)) {
            *a = None;
        }
    }
    columns
}

fn anchors(program: &Program, node: &Node) -> Vec<Option<Anchor>> {
    match node {
        Node::Table(t) => {
            let waterlines = program.waterlines();
            let width = program.tables[*t].relation.fields.len();
            (0..width)
                .map(|c| {
                    waterlines
                        .iter()
                        .position(|&(wt, wc, _)| wt == *t && wc == c)
                        .map(|waterline| {
                            Anchor(vec![Bound {
                                waterline,
                                slack: 0,
                            }])
                        })
                })
                .collect()
        }
        Node::View(v) => anchors(program, &program.views[*v].plan),
        Node::Constant(rows) => vec![None; rows.first().map_or(0, |r| r.0.len())],
        // A row comes out of these only when the same row (or the row it is made from) comes in.
        Node::Filter { input, .. } | Node::Distinct(input) => anchors(program, input),
        Node::Map { input, exprs } => {
            let columns = anchors(program, input);
            exprs.iter().map(|e| through(e, &columns)).collect()
        }
        Node::Join(j) => {
            let width = j.left_width + j.right_width;
            let mut out = vec![None; width];
            if j.kind != JoinKind::Inner {
                // A row of one side can come out (or go, padded) again when the other side changes: nothing is
                // bounded. The narrower kinds output one side only.
                out.truncate(match j.kind {
                    JoinKind::LeftSemi | JoinKind::LeftAnti => j.left_width,
                    JoinKind::RightSemi | JoinKind::RightAnti => j.right_width,
                    _ => width,
                });
                return out;
            }
            // A new row of either side pairs with old rows of the other: only a key both sides trail is bounded in
            // the pairs still to come (by one side's waterline or the other's).
            let (left, right) = (anchors(program, &j.left), anchors(program, &j.right));
            for (l, r) in j.left_keys.iter().zip(&j.right_keys) {
                if let (Some(lc), Some(rc), Some(la), Some(ra)) = (
                    l.as_column(),
                    r.as_column(),
                    through(l, &left),
                    through(r, &right),
                ) {
                    let both = la.either(&ra);
                    out[lc] = Some(both.clone());
                    out[j.left_width + rc] = Some(both);
                }
            }
            out
        }
        Node::Aggregate {
            input, keys, aggs, ..
        } => {
            let columns = anchors(program, input);
            keys.iter()
                .map(|k| through(k, &columns))
                .chain(aggs.iter().map(|_| None))
                .collect()
        }
        Node::UnionAll(inputs) => {
            let all: Vec<Vec<Option<Anchor>>> =
                inputs.iter().map(|i| anchors(program, i)).collect();
            let width = all.first().map_or(0, Vec::len);
            (0..width)
                .map(|c| {
                    let first = all[0][c].clone()?;
                    all[1..]
                        .iter()
                        .try_fold(first, |acc, cols| Some(acc.either(cols.get(c)?.as_ref()?)))
                })
                .collect()
        }
        Node::TopK {
            input, partition, ..
        } => keep_keys(anchors(program, input), partition),
        Node::Window {
            input,
            partition,
            calls,
            ..
        } => keep_keys(anchors(program, input), partition)
            .into_iter()
            .chain(calls.iter().map(|_| None))
            .collect(),
    }
}
