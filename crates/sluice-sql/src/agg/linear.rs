//! Aggregates that are sums over rows, kept as running totals.
//!
//! `COUNT(*)`, `COUNT(x)`, and `SUM`/`AVG` of an exact number (integer or DECIMAL) are linear: the value of a
//! group is a function of a few sums over its rows, and each row's share of those sums times its weight is what
//! a change adds or takes away. The engine keeps the sums per group and updates them with each change, so a step
//! costs the size of the change, not of the changed groups (see `sluice-engine`'s circuit). Floating-point sums
//! are not exact under reordering, and MIN, MAX and DISTINCT are not sums, so a group with any of those is
//! rescanned instead ([`super::evaluate`]).
//!
//! The totals use wrapping `i128` arithmetic, exactly as the rescanning path does, so both give the same value
//! for every input, overflow included.

use std::borrow::Cow;

use datafusion::arrow::datatypes::DataType;
use sluice_data::{Decimal, Value};

use super::{AggCall, AggFunc};
use crate::expr::{as_decimal, as_int, float_value, int_value, is_integer};

/// The linear form of a list of aggregate calls: which sums to keep per group and how each call reads them.
///
/// Slot 0 of the sums is the group's number of rows, which is zero exactly when the group is empty; each call
/// has the slots after it that [`Total`] says.
#[derive(Clone, Debug)]
pub struct LinearAggs {
    calls: Vec<(Total, usize)>,
    width: usize,
}

/// What one call sums, and from which argument.
#[derive(Clone, Debug)]
enum Total {
    /// `COUNT(*)`: one slot, the selected rows.
    Rows { filter: Option<usize> },
    /// `COUNT(x)`: one slot, the selected non-NULL values.
    Values { arg: usize, filter: Option<usize> },
    /// `SUM(x)` or `AVG(x)` of an integer: the non-NULL count and the sum.
    Int {
        arg: usize,
        filter: Option<usize>,
        avg: bool,
        out: DataType,
    },
    /// `SUM(x)` or `AVG(x)` of a DECIMAL: the non-NULL count, the sum at the result's `scale`, and how many
    /// values did not fit that scale (any makes the result NULL, as in the rescanning path).
    Decimal {
        arg: usize,
        filter: Option<usize>,
        scale: u8,
        avg: bool,
    },
}

impl Total {
    fn width(&self) -> usize {
        match self {
            // COUNT(*) without a filter is the group's row count, slot 0.
            Total::Rows { filter: None } => 0,
            Total::Rows { .. } | Total::Values { .. } => 1,
            Total::Int { .. } => 2,
            Total::Decimal { .. } => 3,
        }
    }

    fn filter(&self) -> Option<usize> {
        match self {
            Total::Rows { filter }
            | Total::Values { filter, .. }
            | Total::Int { filter, .. }
            | Total::Decimal { filter, .. } => *filter,
        }
    }
}

impl LinearAggs {
    /// The linear form of `aggs`, or `None` if any call is not linear (MIN, MAX, DISTINCT, a float SUM or AVG).
    pub fn plan(aggs: &[AggCall]) -> Option<LinearAggs> {
        let mut calls = Vec::with_capacity(aggs.len());
        let mut width = 1;
        for a in aggs {
            if a.distinct {
                return None;
            }
            let (arg, filter) = (a.arg, a.filter);
            let total = match (a.func, &a.arg_type, &a.data_type) {
                (AggFunc::CountRows, _, _) => Total::Rows { filter },
                (AggFunc::Count, _, _) => Total::Values { arg, filter },
                (AggFunc::Sum, t, out) if is_integer(t) && is_integer(out) => Total::Int {
                    arg,
                    filter,
                    avg: false,
                    out: out.clone(),
                },
                (AggFunc::Avg, t, out @ (DataType::Float32 | DataType::Float64))
                    if is_integer(t) =>
                {
                    Total::Int {
                        arg,
                        filter,
                        avg: true,
                        out: out.clone(),
                    }
                }
                // Summed at the result's scale: exact for every value with no more fractional digits, which is
                // what the rescanning path gets too (its AVG sums at the values' scale, then scales up).
                (
                    AggFunc::Sum | AggFunc::Avg,
                    DataType::Decimal128(..),
                    DataType::Decimal128(_, s),
                ) => Total::Decimal {
                    arg,
                    filter,
                    scale: u8::try_from(*s).ok()?,
                    avg: a.func == AggFunc::Avg,
                },
                _ => return None,
            };
            let w = total.width();
            calls.push((total, width));
            width += w;
        }
        Some(LinearAggs { calls, width })
    }

    /// How many sums a group keeps.
    pub fn width(&self) -> usize {
        self.width
    }

    /// One row's share of the sums (for weight 1), written into `sums` (of length [`Self::width`], zeroed).
    /// `arg(i)` is the row's value of the aggregate node's `i`-th argument, computed only when a call reads it.
    pub fn contribute<'v>(&self, arg: impl Fn(usize) -> Cow<'v, Value>, sums: &mut [i128]) {
        sums[0] = 1;
        for (total, at) in &self.calls {
            if total.filter().is_some_and(|f| *arg(f) != Value::Bool(true)) {
                continue;
            }
            let slots = &mut sums[*at..*at + total.width()];
            match total {
                Total::Rows { filter: None } => {}
                Total::Rows { .. } => slots[0] = 1,
                Total::Values { arg: i, .. } => slots[0] = i128::from(!arg(*i).is_null()),
                Total::Int { arg: i, .. } => {
                    let v = arg(*i);
                    if !v.is_null() {
                        slots[0] = 1;
                        slots[1] = as_int(&v).unwrap_or(0);
                    }
                }
                Total::Decimal { arg: i, scale, .. } => {
                    let v = arg(*i);
                    if !v.is_null() {
                        slots[0] = 1;
                        match as_decimal(&v, *scale) {
                            Some(d) => slots[1] = d.mantissa(),
                            None => slots[2] = 1,
                        }
                    }
                }
            }
        }
    }

    /// The aggregate values of a group from its sums.
    pub fn finish(&self, sums: &[i128]) -> Vec<Value> {
        self.calls
            .iter()
            .map(|(total, at)| {
                let s = match total {
                    Total::Rows { filter: None } => &sums[..1],
                    _ => &sums[*at..*at + total.width()],
                };
                let count = s[0] as i64;
                match total {
                    Total::Rows { .. } | Total::Values { .. } => Value::BigInt(count),
                    _ if count == 0 => Value::Null,
                    Total::Int {
                        avg: false, out, ..
                    } => int_value(out, s[1]),
                    Total::Int { avg: true, out, .. } => {
                        float_value(out, s[1] as f64 / count as f64)
                    }
                    Total::Decimal { .. } if s[2] != 0 => Value::Null,
                    Total::Decimal {
                        scale, avg: false, ..
                    } => Decimal::new(s[1], *scale).map_or(Value::Null, Value::Decimal),
                    // Truncating, like the rescanning path (and Arrow).
                    Total::Decimal {
                        scale, avg: true, ..
                    } => Decimal::new(s[1] / i128::from(count), *scale)
                        .map_or(Value::Null, Value::Decimal),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::agg::evaluate;

    fn call(func: AggFunc, arg: usize, arg_type: DataType, data_type: DataType) -> AggCall {
        AggCall {
            func,
            arg,
            distinct: false,
            filter: Some(3),
            data_type,
            arg_type,
        }
    }

    /// Columns: 0 BIGINT, 1 DECIMAL(12,2), 2 SMALLINT, 3 BOOLEAN (the filter).
    fn calls() -> Vec<AggCall> {
        use AggFunc::*;
        use DataType::*;
        let dec = Decimal128(12, 2);
        let mut calls = vec![
            call(CountRows, 0, Null, Int64),
            call(Count, 1, dec.clone(), Int64),
            call(Sum, 0, Int64, Int64),
            call(Avg, 0, Int64, Float64),
            call(Sum, 1, dec.clone(), Decimal128(22, 2)),
            call(Avg, 1, dec, Decimal128(16, 6)),
            call(Sum, 2, Int16, Int64),
        ];
        let unfiltered: Vec<AggCall> = calls
            .iter()
            .map(|c| AggCall {
                filter: None,
                ..c.clone()
            })
            .collect();
        calls.extend(unfiltered);
        calls
    }

    fn value() -> impl Strategy<Value = Vec<Value>> {
        let big = prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::BigInt),
            (-50i64..50).prop_map(Value::BigInt),
        ];
        let dec = prop_oneof![
            Just(Value::Null),
            (-100_000i128..100_000).prop_map(|m| Value::Decimal(Decimal::new(m, 2).unwrap())),
            // A value with more fractional digits than the column: the rescanning path gives NULL for the group.
            (-1000i128..1000).prop_map(|m| Value::Decimal(Decimal::new(m * 10 + 1, 3).unwrap())),
        ];
        let small = prop_oneof![Just(Value::Null), any::<i16>().prop_map(Value::SmallInt)];
        let flag = prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool)];
        (big, dec, small, flag).prop_map(|(a, b, c, d)| vec![a, b, c, d])
    }

    proptest! {
        /// Summing each row's share times its weight gives what rescanning the group gives, for every kind of
        /// call, NULLs, filters, overflow and values the decimal scale cannot hold.
        #[test]
        fn running_totals_equal_a_rescan(rows in prop::collection::vec((value(), 1i64..4), 1..12)) {
            let aggs = calls();
            let linear = LinearAggs::plan(&aggs).expect("every call here is linear");
            let mut totals = vec![0i128; linear.width()];
            let mut share = vec![0i128; linear.width()];
            for (row, w) in &rows {
                share.iter_mut().for_each(|s| *s = 0);
                linear.contribute(|i| Cow::Borrowed(&row[i]), &mut share);
                for (t, s) in totals.iter_mut().zip(&share) {
                    *t = t.wrapping_add(s.wrapping_mul(i128::from(*w)));
                }
            }
            let rescan: Vec<(&[Value], i64)> = rows.iter().map(|(r, w)| (r.as_slice(), *w)).collect();
            prop_assert_eq!(linear.finish(&totals), evaluate(&aggs, &rescan));
            prop_assert_eq!(totals[0], rows.iter().map(|(_, w)| i128::from(*w)).sum::<i128>());
        }
    }

    #[test]
    fn only_exact_counts_and_sums_are_linear() {
        use AggFunc::*;
        use DataType::*;
        assert!(LinearAggs::plan(&calls()).is_some());
        let not_linear = [
            call(Min, 0, Int64, Int64),
            call(Max, 0, Int64, Int64),
            call(Sum, 0, Float64, Float64),
            call(Avg, 0, Float64, Float64),
            AggCall {
                distinct: true,
                ..call(Sum, 0, Int64, Int64)
            },
        ];
        for c in not_linear {
            let mut aggs = calls();
            aggs.push(c.clone());
            assert!(LinearAggs::plan(&aggs).is_none(), "{c:?}");
        }
    }
}
