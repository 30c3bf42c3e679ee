//! Per-partition computations: top-k (`ORDER BY … LIMIT`) and window functions (`… OVER (PARTITION BY …)`).
//!
//! The engine calls these with a partition's current rows and multiplicities whenever the partition changes and
//! replaces the partition's previous output with the result. A row of multiplicity `n` counts as `n` rows.

use datafusion::logical_expr::{WindowFrameBound, WindowFrameUnits};
use sluice_data::Value;

use crate::agg::{self, AggCall};
use crate::error::{LowerResult, Unsupported};
use crate::expr::Scalar;
use crate::plan::{compare_rows, SortKey};

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

/// Sorts a partition and expands multiplicities: one entry per row copy.
fn sorted_copies<'a>(rows: &[(&'a [Value], i64)], order: &[SortKey]) -> Vec<&'a [Value]> {
    let mut sorted: Vec<(&[Value], i64)> = rows.to_vec();
    sorted.sort_by(|a, b| compare_rows(order, a.0, b.0));
    sorted
        .into_iter()
        .flat_map(|(r, w)| std::iter::repeat_n(r, w.max(0) as usize))
        .collect()
}

/// The rows of a partition in positions `skip .. skip + fetch` of `order`, with multiplicities.
pub fn top_k(
    rows: &[(&[Value], i64)],
    order: &[SortKey],
    skip: usize,
    fetch: usize,
) -> Vec<(Vec<Value>, i64)> {
    let mut out: Vec<(Vec<Value>, i64)> = Vec::new();
    for r in sorted_copies(rows, order)
        .into_iter()
        .skip(skip)
        .take(fetch)
    {
        match out.last_mut() {
            Some((last, w)) if last.as_slice() == r => *w += 1,
            _ => out.push((r.to_vec(), 1)),
        }
    }
    out
}

/// Each row of a partition followed by the values of `calls`, one output row per row copy.
pub fn window(
    rows: &[(&[Value], i64)],
    order: &[SortKey],
    calls: &[WindowCall],
) -> Vec<(Vec<Value>, i64)> {
    let copies = sorted_copies(rows, order);
    let peers = |i: usize, j: usize| {
        order
            .iter()
            .all(|k| k.compare(copies[i], copies[j]).is_eq())
    };
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
                .map(|r| c.args.iter().map(|a| a.eval(r)).collect())
                .collect()
        })
        .collect();
    let mut dense = 0i64;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if first[i] == i {
            dense += 1;
        }
        let mut row = copies[i].to_vec();
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
