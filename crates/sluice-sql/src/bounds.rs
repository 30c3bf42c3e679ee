//! Which values of a plan can no longer change once a waterline has passed them: what lets the engine trim state.
//!
//! A table column with a `LATENESS` has a waterline (its largest value so far minus the lateness); no record below
//! it gets in any more. A value computed from such a column *trails* it when it is never more than a fixed slack
//! below it ([`crate::expr::Scalar::trail`]): the column itself, `DATE_BIN` of it (a TUMBLE's `window_start`),
//! that plus or minus a fixed interval (`window_end`). Such values are [`Anchor`]ed to the waterline: any row still
//! to come has `value + slack >= waterline`. So a group of an aggregate, top-k or window function keyed by an
//! anchored value `k` with `k + slack < waterline` gets no more rows, and neither does a join key on the other side
//! of a join; the engine drops their stored rows. This file finds the anchors, column by column, through the plan.

use crate::expr::Scalar;
use crate::plan::{JoinKind, Node};
use crate::Program;

/// What a column's values still to come are known to satisfy: `value + slack >= waterline` for at least one of
/// the bounds (a windowed join's key comes from either side, each with its own waterline). Never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor(pub Vec<Bound>);

/// One waterline a column trails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    /// The waterline, an index into [`Program::waterlines`].
    pub waterline: usize,
    /// How far below the waterline a value still to come can be, in the column's unit.
    pub slack: i64,
}

impl Anchor {
    /// Whether a value can still come: it is at most `slack` below one of its waterlines. `waterlines` holds the
    /// waterlines in force (`None` where none is known yet, which allows everything).
    pub fn allows(&self, value: i64, waterlines: impl Fn(usize) -> Option<i64>) -> bool {
        self.0
            .iter()
            .any(|b| waterlines(b.waterline).is_none_or(|w| value.saturating_add(b.slack) >= w))
    }

    fn shifted(&self, by: i64) -> Option<Anchor> {
        let bounds = self
            .0
            .iter()
            .map(|b| {
                Some(Bound {
                    waterline: b.waterline,
                    slack: b.slack.checked_add(by)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Anchor(bounds))
    }

    /// Values that come from either of two anchored sources (of one waterline, the larger slack allows both).
    fn either(&self, other: &Anchor) -> Anchor {
        let mut bounds = self.0.clone();
        for b in &other.0 {
            match bounds.iter_mut().find(|x| x.waterline == b.waterline) {
                Some(x) => x.slack = x.slack.max(b.slack),
                None => bounds.push(*b),
            }
        }
        Anchor(bounds)
    }
}

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
