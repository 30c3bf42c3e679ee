//! Per-partition computations: top-k (`ORDER BY … LIMIT`) and window functions (`… OVER (PARTITION BY …)`).
//!
//! The engine calls these with a partition's current rows and multiplicities whenever the partition changes and
//! replaces the partition's previous output with the result. A row of multiplicity `n` counts as `n` rows.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::logical_expr::expr::NullTreatment;
use datafusion::logical_expr::{Expr, ExprSchemable, WindowFrameBound, WindowFrameUnits};
use sluice_data::Value;

use crate::agg::{self, AggCall};
use crate::error::{LowerResult, Unsupported};
use crate::expr::Scalar;
use crate::sort::SortKey;

/// A window function.
#[derive(Clone, Debug)]
pub enum WindowFunc {
    /// `ROW_NUMBER()`: 1, 2, 3, … in window order.
    RowNumber,
    /// `RANK()`: 1 + the number of rows ordered strictly before.
    Rank,
    /// `DENSE_RANK()`: 1 + the number of distinct order values before.
    DenseRank,
    /// `LAG(x, n, default)` (`offset` = −n) and `LEAD(x, n, default)` (`offset` = n): `x` (`args[0]`) of the row
    /// `offset` rows away in window order, or `default` (NULL when not given) past the partition's ends.
    Shift {
        /// Rows after the current one (negative: before).
        offset: i64,
        /// The value past the ends, already of `x`'s type.
        default: Value,
    },
    /// `FIRST_VALUE(x)`: `x` (`args[0]`) of the frame's first row, NULL for an empty frame.
    FirstValue,
    /// `LAST_VALUE(x)`: `x` (`args[0]`) of the frame's last row, NULL for an empty frame.
    LastValue,
    /// `NTILE(buckets)`: which of `buckets` nearly equal groups, in window order, the row falls in (1-based; the
    /// first `rows % buckets` groups have one row more).
    Ntile(u64),
    /// An aggregate over the frame; its `arg`/`filter` index the call's `args`.
    Aggregate(AggCall),
}

/// One end of a window frame.
#[derive(Clone, Debug)]
pub enum FrameBound {
    /// The first (start) or last (end) row of the partition.
    Unbounded,
    /// `n` rows before the current one (negative) or after it (positive), for `ROWS` frames.
    Offset(i64),
    /// The current row; in a `RANGE` frame, its first (start) or last (end) peer.
    CurrentRow,
    /// `RANGE … n PRECEDING/FOLLOWING`: the first (start) or last (end) row whose order value is not beyond the
    /// current row's value shifted by `shift` (over the one-value row `[value]`). `later` says whether the bound
    /// lies after the current row in window order (FOLLOWING), which is where an out-of-range shift points.
    Range {
        /// The current row's order value to the bound's value.
        shift: Scalar,
        /// FOLLOWING rather than PRECEDING.
        later: bool,
    },
}

/// A window frame: `ROWS` or `RANGE` between two bounds.
#[derive(Clone, Debug)]
pub struct Frame {
    /// `RANGE` (peers count as the current row) rather than `ROWS`.
    pub range: bool,
    /// Start bound.
    pub start: FrameBound,
    /// End bound.
    pub end: FrameBound,
}

impl Frame {
    /// Lowers DataFusion's frame over a window ordered by `order`. A `RANGE` frame with an offset needs exactly
    /// one ORDER BY key, of a numeric type (with a numeric offset) or a date or timestamp (with an interval);
    /// `GROUPS` frames are rejected.
    pub fn lower(
        frame: &datafusion::logical_expr::WindowFrame,
        order: &[(DataType, bool)],
    ) -> LowerResult<Frame> {
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
            let later = matches!(b, WindowFrameBound::Following(_));
            if range {
                let [(key_type, descending)] = order else {
                    return Err(Unsupported::at_keyword(
                        "a RANGE frame with an offset needs exactly one ORDER BY expression",
                        "RANGE",
                    ));
                };
                // Later in a descending order means a smaller value.
                let sign = if later != *descending { 1 } else { -1 };
                return Ok(FrameBound::Range {
                    shift: crate::expr::range_shift(v, sign, key_type)?,
                    later,
                });
            }
            let n = match crate::expr::scalar_value(v)? {
                Value::BigInt(n) => n,
                other => crate::expr::as_int(&other)
                    .map(|n| n as i64)
                    .ok_or_else(|| Unsupported::new(format!("window frame offset {v}")))?,
            };
            Ok(FrameBound::Offset(if later { n } else { -n }))
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

/// Lowers `LAG`, `LEAD`, `FIRST_VALUE`, `LAST_VALUE` and `NTILE` (`name` in lower case): the value argument is
/// compiled into `args`; offsets, defaults and bucket counts must be constants, as in DataFusion.
pub(crate) fn lower_value_function(
    name: &str,
    call_args: &[Expr],
    null_treatment: Option<NullTreatment>,
    schema: &DFSchema,
    args: &mut Vec<Scalar>,
) -> LowerResult<WindowFunc> {
    let upper = name.to_uppercase();
    if matches!(null_treatment, Some(NullTreatment::IgnoreNulls)) {
        return Err(Unsupported::at_keyword(
            format!("IGNORE NULLS in {upper}"),
            "IGNORE",
        ));
    }
    let constant = |e: &Expr, what: &str| -> LowerResult<Value> {
        match e {
            Expr::Literal(v, _) => crate::expr::scalar_value(v),
            Expr::Cast(c) => match c.expr.as_ref() {
                Expr::Literal(v, _) => Ok(crate::expr::cast(
                    &crate::expr::scalar_value(v)?,
                    c.field.data_type(),
                )),
                _ => Err(Unsupported::at_keyword(
                    format!("{upper} with a {what} that is not a constant"),
                    name.to_string(),
                )),
            },
            _ => Err(Unsupported::at_keyword(
                format!("{upper} with a {what} that is not a constant"),
                name.to_string(),
            )),
        }
    };
    let integer = |e: &Expr, what: &str| -> LowerResult<i64> {
        match constant(e, what)? {
            Value::BigInt(n) => Ok(n),
            other => crate::expr::as_int(&other)
                .and_then(|n| i64::try_from(n).ok())
                .ok_or_else(|| {
                    Unsupported::at_keyword(
                        format!("{upper} with a {what} of {other:?}"),
                        name.to_string(),
                    )
                }),
        }
    };
    if name == "ntile" {
        let [buckets] = call_args else {
            return Err(Unsupported::at_keyword("NTILE takes one argument", "ntile"));
        };
        let buckets = integer(buckets, "bucket count")?;
        return match u64::try_from(buckets) {
            Ok(b) if b > 0 => Ok(WindowFunc::Ntile(b)),
            _ => Err(Unsupported::at_keyword(
                format!("NTILE({buckets}): the bucket count must be positive"),
                "ntile",
            )),
        };
    }
    let Some(value) = call_args.first() else {
        return Err(Unsupported::at_keyword(
            format!("{upper} without an argument"),
            name.to_string(),
        ));
    };
    let value_type = value
        .get_type(schema)
        .map_err(|e| Unsupported::new(format!("cannot type {value}: {e}")))?;
    args.push(crate::expr::compile(value, schema)?);
    Ok(match name {
        "first_value" | "last_value" if call_args.len() > 1 => {
            return Err(Unsupported::at_keyword(
                format!("{upper} takes one argument"),
                name.to_string(),
            ))
        }
        "first_value" => WindowFunc::FirstValue,
        "last_value" => WindowFunc::LastValue,
        _ => {
            let n = match call_args.get(1) {
                Some(n) => integer(n, "offset")?,
                None => 1,
            };
            let default = match call_args.get(2) {
                Some(d) => match constant(d, "default")? {
                    Value::Null => Value::Null,
                    v => crate::expr::cast(&v, &value_type),
                },
                None => Value::Null,
            };
            let offset = if name == "lag" {
                n.checked_neg()
            } else {
                Some(n)
            }
            .ok_or_else(|| {
                Unsupported::at_keyword(format!("{upper} offset {n}"), name.to_string())
            })?;
            WindowFunc::Shift { offset, default }
        }
    })
}

/// A partition in window order, one entry per row copy, with each row's sort keys evaluated once into one flat
/// vector (no allocation per row).
struct SortedPartition<'a> {
    keys: Vec<Value>,
    width: usize,
    /// (index of the row's keys, the row), one per copy.
    copies: Vec<(usize, &'a [Value])>,
}

impl<'a> SortedPartition<'a> {
    fn len(&self) -> usize {
        self.copies.len()
    }

    fn keys(&self, i: usize) -> &[Value] {
        let k = self.copies[i].0 * self.width;
        &self.keys[k..k + self.width]
    }

    fn row(&self, i: usize) -> &'a [Value] {
        self.copies[i].1
    }
}

/// Sorts a partition and expands multiplicities. With `limit`, only the first `limit` copies are kept, and only
/// the rows that can be among them are sorted (a selection first: top-k and `ROW_NUMBER() … <= k` over large
/// partitions cost O(n + k log k) instead of O(n log n)). Ties on the keys are broken by the whole row, so the
/// order is total and the same on every worker.
fn sorted_copies<'a>(
    rows: &[(&'a [Value], i64)],
    order: &[SortKey],
    limit: Option<usize>,
) -> SortedPartition<'a> {
    let width = order.len();
    let mut keys = Vec::with_capacity(rows.len() * width);
    for (r, _) in rows {
        keys.extend(order.iter().map(|k| k.expr.eval(r)));
    }
    let mut index: Vec<usize> = (0..rows.len()).collect();
    {
        let key = |i: usize| &keys[i * width..(i + 1) * width];
        let cmp = |a: &usize, b: &usize| {
            compare_keys(order, key(*a), key(*b)).then_with(|| rows[*a].0.cmp(rows[*b].0))
        };
        match limit {
            // The first `m` copies come from at most `m` distinct rows.
            Some(m) if m < index.len() => {
                if m > 0 {
                    index.select_nth_unstable_by(m - 1, cmp);
                }
                index.truncate(m);
                index.sort_unstable_by(cmp);
            }
            _ => index.sort_unstable_by(cmp),
        }
    }
    let mut copies = Vec::new();
    'rows: for i in index {
        for _ in 0..rows[i].1.max(0) {
            if limit.is_some_and(|m| copies.len() >= m) {
                break 'rows;
            }
            copies.push((i, rows[i].0));
        }
    }
    SortedPartition {
        keys,
        width,
        copies,
    }
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
    let sorted = sorted_copies(rows, order, Some(skip.saturating_add(fetch)));
    for i in skip..sorted.len() {
        let row = sorted.row(i);
        match out.last_mut() {
            Some((last, w)) if last.as_slice() == row => *w += 1,
            _ => out.push((row.to_vec(), 1)),
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
    // `ROW_NUMBER() … <= k` alone needs only the first k copies; ranks with ties and aggregates need them all.
    let limit = match rank_limit {
        Some(k)
            if calls
                .iter()
                .all(|c| matches!(c.func, WindowFunc::RowNumber)) =>
        {
            Some(usize::try_from(k.max(0)).unwrap_or(usize::MAX))
        }
        _ => None,
    };
    let copies = sorted_copies(rows, order, limit);
    let peers = |i: usize, j: usize| compare_keys(order, copies.keys(i), copies.keys(j)).is_eq();
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
                .copies
                .iter()
                .map(|(_, row)| c.args.iter().map(|a| a.eval(row)).collect())
                .collect()
        })
        .collect();
    let mut dense = 0i64;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if first[i] == i {
            dense += 1;
        }
        let mut row = copies.row(i).to_vec();
        for (c, call) in calls.iter().enumerate() {
            row.push(match &call.func {
                WindowFunc::RowNumber => Value::BigInt(i as i64 + 1),
                WindowFunc::Rank => Value::BigInt(first[i] as i64 + 1),
                WindowFunc::DenseRank => Value::BigInt(dense),
                WindowFunc::Shift { offset, default } => {
                    match usize::try_from((i as i64).saturating_add(*offset))
                        .ok()
                        .filter(|j| *j < n)
                    {
                        Some(j) => args[c][j][0].clone(),
                        None => default.clone(),
                    }
                }
                WindowFunc::FirstValue | WindowFunc::LastValue => {
                    let (lo, hi) = frame_bounds(&call.frame, &copies, order, i, first[i], last[i]);
                    match (lo <= hi, &call.func) {
                        (false, _) => Value::Null,
                        (true, WindowFunc::FirstValue) => args[c][lo][0].clone(),
                        (true, _) => args[c][hi][0].clone(),
                    }
                }
                WindowFunc::Ntile(buckets) => Value::BigInt(ntile(i as u64, n as u64, *buckets)),
                WindowFunc::Aggregate(a) => {
                    let (lo, hi) = frame_bounds(&call.frame, &copies, order, i, first[i], last[i]);
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

/// The 1-based bucket of row `i` (0-based) of `n` split into `buckets` groups in order: each group has ⌊n/buckets⌋
/// rows and the first `n % buckets` one more (with more buckets than rows, each row is a group of its own).
fn ntile(i: u64, n: u64, buckets: u64) -> i64 {
    let (size, larger) = (n / buckets, n % buckets);
    let in_larger = larger * (size + 1);
    let bucket = if i < in_larger {
        i / (size + 1)
    } else {
        larger + (i - in_larger) / size
    };
    bucket as i64 + 1
}

/// The inclusive index range of row `i`'s frame (empty when `lo > hi`), with `first`/`last` its peer group.
fn frame_bounds(
    frame: &Frame,
    copies: &SortedPartition<'_>,
    order: &[SortKey],
    i: usize,
    first: usize,
    last: usize,
) -> (usize, usize) {
    let n = copies.len();
    let resolve = |b: &FrameBound, is_start: bool| -> i64 {
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
            FrameBound::Range { shift, later } => {
                range_bound(copies, &order[0], shift, *later, is_start, i, first, last)
            }
        }
    };
    let lo = resolve(&frame.start, true).max(0);
    let hi = resolve(&frame.end, false).min(n as i64 - 1);
    if lo > hi {
        (1, 0)
    } else {
        (lo as usize, hi as usize)
    }
}

/// Where a `RANGE … PRECEDING/FOLLOWING` bound falls for row `i`: the first row (start) or the last row (end)
/// whose order value is not beyond the current value shifted. The partition is sorted by this one key, so it is
/// a binary search.
#[allow(clippy::too_many_arguments)]
fn range_bound(
    copies: &SortedPartition<'_>,
    key: &SortKey,
    shift: &Scalar,
    later: bool,
    is_start: bool,
    i: usize,
    first: usize,
    last: usize,
) -> i64 {
    let n = copies.len();
    let value = &copies.keys(i)[0];
    // A NULL order value has no distance to anything: its frame is its peers, the other NULLs.
    if value.is_null() {
        return if is_start { first as i64 } else { last as i64 };
    }
    let target = shift.eval(std::slice::from_ref(value));
    if target.is_null() {
        // The shift left the type's range: the bound lies beyond every row on its side.
        return match (later, is_start) {
            (false, true) => 0,
            (false, false) => -1,
            (true, true) => n as i64,
            (true, false) => n as i64 - 1,
        };
    }
    // The number of leading rows for which `pred` holds of (row value vs target); it holds for a prefix.
    let position = |pred: &dyn Fn(std::cmp::Ordering) -> bool| {
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(key.compare_values(&copies.keys(mid)[0], &target)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    };
    if is_start {
        position(&|o| o.is_lt()) as i64
    } else {
        position(&|o| o.is_le()) as i64 - 1
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ntile_splits_rows_into_nearly_equal_ordered_groups() {
        let split = |n: u64, buckets: u64| -> Vec<i64> {
            (0..n).map(|i| super::ntile(i, n, buckets)).collect()
        };
        assert_eq!(split(7, 3), [1, 1, 1, 2, 2, 3, 3]);
        assert_eq!(split(6, 3), [1, 1, 2, 2, 3, 3]);
        assert_eq!(split(2, 4), [1, 2]);
        assert_eq!(split(5, 1), [1; 5]);
    }
}
