//! Per-partition computations: top-k (`ORDER BY … LIMIT`) and window functions (`… OVER (PARTITION BY …)`).
//!
//! The engine calls these with a partition's current rows and multiplicities whenever the partition changes and
//! replaces the partition's previous output with the result. A row of multiplicity `n` counts as `n` rows.

use datafusion::logical_expr::{WindowFrameBound, WindowFrameUnits};
use sluice_data::Value;

use crate::agg::{self, AggCall};
use crate::error::{LowerResult, Unsupported};
use crate::expr::Scalar;
use crate::plan::SortKey;

/// A window function.
#[derive(Clone, Debug)]
pub enum WindowFunc {
    /// `ROW_NUMBER()`: 1, 2, 3, … in window order.
    RowNumber,
    /// `RANK()`: 1 + the number of rows ordered strictly before.
    Rank,
    /// `DENSE_RANK()`: 1 + the number of distinct order values before.
    DenseRank,
    /// An aggregate over the frame; its `arg`/`filter` index the call's `args`.
    Aggregate(AggCall),
}

/// One end of a window frame, resolved to a row offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameBound {
    /// The first (start) or last (end) row of the partition.
    Unbounded,
    /// `n` rows before the current one (negative) or after it (positive), for `ROWS` frames.
    Offset(i64),
    /// The current row; in a `RANGE` frame, its first (start) or last (end) peer.
    CurrentRow,
}

/// A window frame: `ROWS` or `RANGE` between two bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// `RANGE` (peers count as the current row) rather than `ROWS`.
    pub range: bool,
    /// Start bound.
    pub start: FrameBound,
    /// End bound.
    pub end: FrameBound,
}

impl Frame {
    /// Lowers DataFusion's frame; `RANGE` frames with a value offset and `GROUPS` frames are rejected.
    pub fn lower(frame: &datafusion::logical_expr::WindowFrame) -> LowerResult<Frame> {
        let range = match frame.units {
            WindowFrameUnits::Rows => false,
            WindowFrameUnits::Range => true,
            WindowFrameUnits::Groups => {
                return Err(Unsupported::at_keyword("GROUPS window frames", "GROUPS"))
            }
        };
        let bound = |b: &WindowFrameBound| -> LowerResult<FrameBound> {
            let v = match b {
                WindowFrameBound::CurrentRow => return Ok(FrameBound::CurrentRow),
                WindowFrameBound::Preceding(v) | WindowFrameBound::Following(v) => v,
            };
            if v.is_null() {
                return Ok(FrameBound::Unbounded);
            }
            if range {
                return Err(Unsupported::at_keyword(
                    "RANGE window frames with an offset (use ROWS)",
                    "RANGE",
                ));
            }
            let n = match crate::expr::scalar_value(v)? {
                Value::BigInt(n) => n,
                other => crate::expr::as_int(&other)
                    .map(|n| n as i64)
                    .ok_or_else(|| Unsupported::new(format!("window frame offset {v}")))?,
            };
            let dir = if matches!(b, WindowFrameBound::Preceding(_)) {
                -1
            } else {
                1
            };
            Ok(FrameBound::Offset(dir * n))
        };
        Ok(Frame {
            range,
            start: bound(&frame.start_bound)?,
            end: bound(&frame.end_bound)?,
        })
    }
}

/// One window function with its arguments and frame.
#[derive(Clone, Debug)]
pub struct WindowCall {
    /// The function.
    pub func: WindowFunc,
    /// Argument expressions over the input row (for aggregates).
    pub args: Vec<Scalar>,
    /// The frame (for aggregates).
    pub frame: Frame,
}

/// A row copy with its evaluated sort keys.
struct Sorted<'a> {
    keys: Vec<Value>,
    row: &'a [Value],
}

/// Sorts a partition (evaluating each row's keys once) and expands multiplicities: one entry per row copy.
fn sorted_copies<'a>(rows: &[(&'a [Value], i64)], order: &[SortKey]) -> Vec<Sorted<'a>> {
    let mut keyed: Vec<(Vec<Value>, &'a [Value], i64)> = rows
        .iter()
        .map(|(r, w)| (order.iter().map(|k| k.expr.eval(r)).collect(), *r, *w))
        .collect();
    keyed.sort_by(|a, b| compare_keys(order, &a.0, &b.0).then_with(|| a.1.cmp(b.1)));
    keyed
        .into_iter()
        .flat_map(|(keys, row, w)| std::iter::repeat_n((keys, row), w.max(0) as usize))
        .map(|(keys, row)| Sorted { keys, row })
        .collect()
}

fn compare_keys(order: &[SortKey], a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    order
        .iter()
        .zip(a.iter().zip(b))
        .map(|(k, (x, y))| k.compare_values(x, y))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// The rows of a partition in positions `skip .. skip + fetch` of `order`, with multiplicities.
pub fn top_k(
    rows: &[(&[Value], i64)],
    order: &[SortKey],
    skip: usize,
    fetch: usize,
) -> Vec<(Vec<Value>, i64)> {
    let mut out: Vec<(Vec<Value>, i64)> = Vec::new();
    for s in sorted_copies(rows, order)
        .into_iter()
        .skip(skip)
        .take(fetch)
    {
        match out.last_mut() {
            Some((last, w)) if last.as_slice() == s.row => *w += 1,
            _ => out.push((s.row.to_vec(), 1)),
        }
    }
    out
}

/// Each row of a partition followed by the values of `calls`, one output row per row copy.
///
/// With `rank_limit`, `calls` is a single ranking function and only rows whose rank is at most the limit are
/// output (the `WHERE rn <= k` the view applies next), so a partition's output stays small.
pub fn window(
    rows: &[(&[Value], i64)],
    order: &[SortKey],
    calls: &[WindowCall],
    rank_limit: Option<i64>,
) -> Vec<(Vec<Value>, i64)> {
    let copies = sorted_copies(rows, order);
    let peers = |i: usize, j: usize| compare_keys(order, &copies[i].keys, &copies[j].keys).is_eq();
    // Peer-group boundaries: first[i] and last[i] are the first and last index of row i's peers.
    let n = copies.len();
    let mut first = vec![0; n];
    let mut last = vec![0; n];
    for i in 1..n {
        first[i] = if peers(i - 1, i) { first[i - 1] } else { i };
    }
    for i in (0..n).rev() {
        last[i] = if i + 1 < n && peers(i, i + 1) {
            last[i + 1]
        } else {
            i
        };
    }
    let args: Vec<Vec<Vec<Value>>> = calls
        .iter()
        .map(|c| {
            copies
                .iter()
                .map(|s| c.args.iter().map(|a| a.eval(s.row)).collect())
                .collect()
        })
        .collect();
    let mut dense = 0i64;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if first[i] == i {
            dense += 1;
        }
        let mut row = copies[i].row.to_vec();
        for (c, call) in calls.iter().enumerate() {
            row.push(match &call.func {
                WindowFunc::RowNumber => Value::BigInt(i as i64 + 1),
                WindowFunc::Rank => Value::BigInt(first[i] as i64 + 1),
                WindowFunc::DenseRank => Value::BigInt(dense),
                WindowFunc::Aggregate(a) => {
                    let (lo, hi) = frame_bounds(call.frame, i, n, first[i], last[i]);
                    let frame: Vec<(&[Value], i64)> = if lo <= hi {
                        args[c][lo..=hi].iter().map(|r| (r.as_slice(), 1)).collect()
                    } else {
                        Vec::new()
                    };
                    if frame.is_empty() {
                        agg::empty_result(std::slice::from_ref(a)).remove(0)
                    } else {
                        agg::evaluate(std::slice::from_ref(a), &frame).remove(0)
                    }
                }
            });
        }
        if let (Some(limit), Some(Value::BigInt(rank))) = (rank_limit, row.last()) {
            if *rank > limit {
                // Ranks only grow along the sorted partition.
                break;
            }
        }
        out.push((row, 1));
    }
    out
}

/// The inclusive index range of row `i`'s frame (empty when `lo > hi`).
fn frame_bounds(frame: Frame, i: usize, n: usize, first: usize, last: usize) -> (usize, usize) {
    let resolve = |b: FrameBound, is_start: bool| -> i64 {
        match b {
            FrameBound::Unbounded => {
                if is_start {
                    0
                } else {
                    n as i64 - 1
                }
            }
            FrameBound::CurrentRow if frame.range => {
                if is_start {
                    first as i64
                } else {
                    last as i64
                }
            }
            FrameBound::CurrentRow => i as i64,
            FrameBound::Offset(k) => i as i64 + k,
        }
    };
    let lo = resolve(frame.start, true).max(0);
    let hi = resolve(frame.end, false).min(n as i64 - 1);
    if lo > hi {
        (1, 0)
    } else {
        (lo as usize, hi as usize)
    }
}
