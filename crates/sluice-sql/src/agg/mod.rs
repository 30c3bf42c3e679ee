//! Aggregate functions computed over one group's rows with their weights.
//!
//! The engine hands a group's current contents (each distinct row with its multiplicity) to
//! [`evaluate`] whenever the group changes; the result replaces the group's previous output row.
//! A group whose rows all cancelled never reaches here: it simply disappears from the view.
//! When every call of a GROUP BY is a sum over rows (COUNT, SUM/AVG of exact numbers), the engine keeps running
//! totals instead and reads them through [`LinearAggs`], which gives the same values.

use std::collections::BTreeSet;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::logical_expr::{expr::AggregateFunction, Expr, ExprSchemable};
use sluice_data::{Decimal, Value};

mod linear;

pub use linear::LinearAggs;

use crate::error::{LowerResult, Unsupported};
use crate::expr::{
    as_decimal, as_f64, as_int, compare, compile, float_value as float, int_value as int, Scalar,
};

/// Which aggregate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    /// `COUNT(*)`: the number of rows.
    CountRows,
    /// `COUNT(x)`: the number of non-NULL values.
    Count,
    /// `SUM(x)`.
    Sum,
    /// `AVG(x)`.
    Avg,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
}

/// One aggregate of an `Aggregate` node.
#[derive(Clone, Debug)]
pub struct AggCall {
    /// The function.
    pub func: AggFunc,
    /// Index of the argument in the node's `args` (unused by `COUNT(*)`).
    pub arg: usize,
    /// `DISTINCT`: each distinct non-NULL value counts once.
    pub distinct: bool,
    /// Index of the `FILTER (WHERE …)` condition in the node's `args`.
    pub filter: Option<usize>,
    /// The result type DataFusion gives.
    pub data_type: DataType,
    /// The argument's type (`Null` for `COUNT(*)`), which decides whether a SUM or AVG is exact.
    pub arg_type: DataType,
}

/// The aggregate values of one group: `rows` are the evaluated `args` rows of the group with their
/// (positive) multiplicities.
pub fn evaluate(aggs: &[AggCall], rows: &[(&[Value], i64)]) -> Vec<Value> {
    aggs.iter().map(|a| evaluate_one(a, rows)).collect()
}

/// The aggregate values of an empty input, as a global aggregate reports them (`COUNT` is 0, the rest NULL).
pub fn empty_result(aggs: &[AggCall]) -> Vec<Value> {
    aggs.iter()
        .map(|a| match a.func {
            AggFunc::CountRows | AggFunc::Count => Value::BigInt(0),
            _ => Value::Null,
        })
        .collect()
}

fn evaluate_one(a: &AggCall, rows: &[(&[Value], i64)]) -> Value {
    let selected = rows
        .iter()
        .filter(|(r, _)| a.filter.is_none_or(|f| r[f] == Value::Bool(true)));
    if a.func == AggFunc::CountRows {
        return Value::BigInt(selected.map(|(_, w)| *w).sum());
    }
    let mut values: Vec<(&Value, i64)> = selected
        .map(|(r, w)| (&r[a.arg], *w))
        .filter(|(v, _)| !v.is_null())
        .collect();
    if a.distinct {
        let set: BTreeSet<&Value> = values.iter().map(|(v, _)| *v).collect();
        values = set.into_iter().map(|v| (v, 1)).collect();
    }
    let count: i64 = values.iter().map(|(_, w)| *w).sum();
    match a.func {
        AggFunc::CountRows | AggFunc::Count => Value::BigInt(count),
        _ if count == 0 => Value::Null,
        AggFunc::Min => extreme(&values, std::cmp::Ordering::Less),
        AggFunc::Max => extreme(&values, std::cmp::Ordering::Greater),
        AggFunc::Sum => sum(&values, &a.data_type),
        AggFunc::Avg => avg(&values, count, &a.data_type),
    }
}

fn extreme(values: &[(&Value, i64)], want: std::cmp::Ordering) -> Value {
    let mut best: Option<&Value> = None;
    for (v, _) in values {
        if best.is_none_or(|b| compare(v, b) == Some(want)) {
            best = Some(v);
        }
    }
    best.cloned().unwrap_or(Value::Null)
}

fn sum(values: &[(&Value, i64)], out: &DataType) -> Value {
    match out {
        DataType::Decimal128(_, scale) => {
            let scale = *scale as u8;
            let mut total: i128 = 0;
            for (v, w) in values {
                let Some(d) = as_decimal(v, scale) else {
                    return Value::Null;
                };
                total = total.wrapping_add(d.mantissa().wrapping_mul(i128::from(*w)));
            }
            Decimal::new(total, scale).map_or(Value::Null, Value::Decimal)
        }
        DataType::Float32 | DataType::Float64 => {
            let total: f64 = values
                .iter()
                .filter_map(|(v, w)| Some(as_f64(v)? * *w as f64))
                .sum();
            float(out, total)
        }
        _ => {
            let total = values
                .iter()
                .filter_map(|(v, w)| Some(as_int(v)?.wrapping_mul(i128::from(*w))))
                .fold(0i128, i128::wrapping_add);
            int(out, total)
        }
    }
}

fn avg(values: &[(&Value, i64)], count: i64, out: &DataType) -> Value {
    match out {
        DataType::Decimal128(_, scale) => {
            // Sum exactly at the input scale, then divide with the result scale, truncating like Arrow.
            let in_scale = values
                .iter()
                .map(|(v, _)| match v {
                    Value::Decimal(d) => d.scale(),
                    _ => 0,
                })
                .max()
                .unwrap_or(0);
            let mut total: i128 = 0;
            for (v, w) in values {
                let Some(d) = as_decimal(v, in_scale) else {
                    return Value::Null;
                };
                total = total.wrapping_add(d.mantissa().wrapping_mul(i128::from(*w)));
            }
            let shift = u32::from((*scale as u8).saturating_sub(in_scale));
            let Some(num) = 10i128.checked_pow(shift).and_then(|p| total.checked_mul(p)) else {
                return Value::Null;
            };
            Decimal::new(num / i128::from(count), *scale as u8).map_or(Value::Null, Value::Decimal)
        }
        // Integers are summed exactly and divided once, as the running totals of `linear` do: summing them as
        // floats would round differently depending on the order of the rows.
        _ if values.iter().all(|(v, _)| as_int(v).is_some()) => {
            let total = values
                .iter()
                .filter_map(|(v, w)| Some(as_int(v)?.wrapping_mul(i128::from(*w))))
                .fold(0i128, i128::wrapping_add);
            float(out, total as f64 / count as f64)
        }
        _ => {
            let total: f64 = values
                .iter()
                .filter_map(|(v, w)| Some(as_f64(v)? * *w as f64))
                .sum();
            float(out, total / count as f64)
        }
    }
}

/// Lowers one aggregate call, appending the expressions it reads to `args`.
pub(crate) fn lower_call(
    f: &AggregateFunction,
    schema: &DFSchema,
    data_type: datafusion::arrow::datatypes::DataType,
    args: &mut Vec<Scalar>,
) -> LowerResult<AggCall> {
    let name = f.func.name().to_ascii_lowercase();
    let p = &f.params;
    if !p.order_by.is_empty() {
        return Err(Unsupported::at_keyword(
            format!("ORDER BY inside aggregate {}", name.to_uppercase()),
            name,
        ));
    }
    let filter = match &p.filter {
        Some(e) => {
            args.push(compile(e, schema)?);
            Some(args.len() - 1)
        }
        None => None,
    };
    let count_star = name == "count"
        && !p.distinct
        && matches!(p.args.as_slice(), [Expr::Literal(s, _)] if !s.is_null())
        || (name == "count" && p.args.is_empty());
    let func = match name.as_str() {
        "count" if count_star => AggFunc::CountRows,
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "avg" | "mean" => AggFunc::Avg,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        other => {
            return Err(Unsupported::at_keyword(
                format!("aggregate function {}", other.to_uppercase()),
                other.to_string(),
            ))
        }
    };
    let (arg, arg_type) = match (func, p.args.as_slice()) {
        (AggFunc::CountRows, _) => (0, DataType::Null),
        (_, [a]) => {
            // DataFusion averages integers as floats (`AVG(CAST(x AS DOUBLE))`); the integers themselves are
            // summed exactly instead, which also lets the engine keep them as running totals (`linear`).
            let a = match a {
                Expr::Cast(c)
                    if func == AggFunc::Avg
                        && matches!(c.field.data_type(), DataType::Float64)
                        && c.expr
                            .get_type(schema)
                            .is_ok_and(|t| crate::expr::is_integer(&t)) =>
                {
                    c.expr.as_ref()
                }
                other => other,
            };
            let arg_type = a
                .get_type(schema)
                .map_err(|err| Unsupported::new(format!("cannot type {a}: {err}")))?;
            args.push(compile(a, schema)?);
            (args.len() - 1, arg_type)
        }
        _ => {
            return Err(Unsupported::at_keyword(
                format!(
                    "aggregate {} with {} arguments",
                    name.to_uppercase(),
                    p.args.len()
                ),
                name,
            ))
        }
    };
    Ok(AggCall {
        func,
        arg,
        distinct: p.distinct,
        filter,
        data_type,
        arg_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(func: AggFunc, distinct: bool, data_type: DataType) -> AggCall {
        AggCall {
            func,
            arg: 0,
            distinct,
            filter: None,
            arg_type: data_type.clone(),
            data_type,
        }
    }

    #[test]
    fn weights_count_as_copies_and_nulls_are_skipped() {
        let (a, b, n) = ([Value::BigInt(2)], [Value::BigInt(5)], [Value::Null]);
        let rows: Vec<(&[Value], i64)> = vec![(&a, 3), (&b, 1), (&n, 2)];
        let aggs = [
            call(AggFunc::CountRows, false, DataType::Int64),
            call(AggFunc::Count, false, DataType::Int64),
            call(AggFunc::Count, true, DataType::Int64),
            call(AggFunc::Sum, false, DataType::Int64),
            call(AggFunc::Min, false, DataType::Int64),
            call(AggFunc::Max, false, DataType::Int64),
            call(AggFunc::Avg, false, DataType::Float64),
        ];
        assert_eq!(
            evaluate(&aggs, &rows),
            vec![
                Value::BigInt(6),
                Value::BigInt(4),
                Value::BigInt(2),
                Value::BigInt(11),
                Value::BigInt(2),
                Value::BigInt(5),
                Value::from(2.75),
            ]
        );
    }

    #[test]
    fn all_null_input_sums_to_null_and_counts_zero() {
        let n = [Value::Null];
        let rows: Vec<(&[Value], i64)> = vec![(&n, 1)];
        let aggs = [
            call(AggFunc::Sum, false, DataType::Int64),
            call(AggFunc::Count, false, DataType::Int64),
        ];
        assert_eq!(evaluate(&aggs, &rows), vec![Value::Null, Value::BigInt(0)]);
    }
}
