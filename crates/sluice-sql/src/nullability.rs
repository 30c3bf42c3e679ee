//! Which view columns can hold NULL although DataFusion types them NOT NULL.
//!
//! DataFusion types `a / b` over NOT NULL inputs as NOT NULL because it fails the whole query on a zero divisor.
//! A streaming view cannot fail one row, so the evaluator yields NULL there instead, and likewise for a CAST
//! that cannot convert and a DECIMAL result out of range (docs/sql.md). A view's schema must hold for every row
//! it ever emits (encoders reject a NULL in a NOT NULL column, and consumers rely on the schema), so this pass
//! finds the output columns such a NULL can reach, and the program marks them nullable.
//!
//! The pass over-approximates: a column is flagged when any expression that feeds it contains such an
//! operation, even under a `COALESCE`. A nullable column that never holds NULL costs a consumer a check; a NOT
//! NULL column that holds NULL loses rows.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Distinct, Expr, ExprSchemable, JoinType, LogicalPlan, Operator};

/// For each output column of `plan`, whether it can be NULL where DataFusion says it cannot.
pub(crate) fn extra_nulls(plan: &LogicalPlan) -> Vec<bool> {
    let width = plan.schema().fields().len();
    let flags = match plan {
        LogicalPlan::Projection(p) => exprs(&p.expr, &p.input),
        LogicalPlan::Aggregate(a) => {
            let mut flags = exprs(&a.group_expr, &a.input);
            // A count is never NULL, whatever it counts; other aggregates follow their argument.
            let counts = a.aggr_expr.iter().map(|e| {
                matches!(strip_alias(e), Expr::AggregateFunction(f) if f.func.name() == "count")
            });
            flags.extend(
                exprs(&a.aggr_expr, &a.input)
                    .into_iter()
                    .zip(counts)
                    .map(|(flag, count)| flag && !count),
            );
            flags
        }
        LogicalPlan::Window(w) => {
            let mut flags = extra_nulls(&w.input);
            flags.extend(exprs(&w.window_expr, &w.input));
            flags
        }
        LogicalPlan::Join(j) => {
            let (left, right) = (extra_nulls(&j.left), extra_nulls(&j.right));
            match j.join_type {
                JoinType::LeftSemi | JoinType::LeftAnti => left,
                JoinType::RightSemi | JoinType::RightAnti => right,
                _ => left.into_iter().chain(right).collect(),
            }
        }
        LogicalPlan::Union(u) => {
            u.inputs
                .iter()
                .map(|i| extra_nulls(i))
                .fold(vec![false; width], |acc, f| {
                    acc.iter()
                        .zip(f.iter().chain(std::iter::repeat(&true)))
                        .map(|(a, b)| *a || *b)
                        .collect()
                })
        }
        LogicalPlan::Filter(f) => extra_nulls(&f.input),
        LogicalPlan::Sort(s) => extra_nulls(&s.input),
        LogicalPlan::Limit(l) => extra_nulls(&l.input),
        LogicalPlan::SubqueryAlias(a) => extra_nulls(&a.input),
        LogicalPlan::Distinct(Distinct::All(input)) => extra_nulls(input),
        // Scans, constants and whatever lowering rejects anyway.
        _ => vec![false; width],
    };
    if flags.len() == width {
        flags
    } else {
        // A plan shape this pass does not follow: claim nothing is NOT NULL rather than guess.
        vec![true; width]
    }
}

fn strip_alias(e: &Expr) -> &Expr {
    match e {
        Expr::Alias(a) => strip_alias(&a.expr),
        other => other,
    }
}

/// The flags of expressions evaluated over `input`'s rows.
fn exprs(exprs: &[Expr], input: &LogicalPlan) -> Vec<bool> {
    let input_flags = extra_nulls(input);
    exprs
        .iter()
        .map(|e| expr_extra_null(e, input.schema(), &input_flags))
        .collect()
}

/// Whether `expr` can yield NULL where DataFusion would fail: it contains a division, a modulo, decimal
/// arithmetic or a CAST that can fail, or reads a column that is itself flagged.
fn expr_extra_null(expr: &Expr, schema: &DFSchema, input_flags: &[bool]) -> bool {
    let mut found = false;
    let _ = expr.apply(|e| {
        found = match e {
            Expr::Column(c) => schema
                .index_of_column(c)
                .map_or(true, |i| input_flags.get(i).copied().unwrap_or(true)),
            Expr::BinaryExpr(b) => match b.op {
                Operator::Divide | Operator::Modulo => true,
                Operator::Plus | Operator::Minus | Operator::Multiply => matches!(
                    e.get_type(schema),
                    Ok(DataType::Decimal128(..) | DataType::Decimal256(..))
                ),
                _ => false,
            },
            Expr::Cast(c) => c
                .expr
                .get_type(schema)
                .map_or(true, |from| cast_can_fail(&from, c.field.data_type())),
            _ => false,
        };
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

/// Whether a CAST from `from` to `to` can fail on a non-NULL value (and so yield NULL).
fn cast_can_fail(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let int_digits = |t: &DataType| match t {
        Int8 => Some(3),
        Int16 => Some(5),
        Int32 => Some(10),
        Int64 => Some(19),
        _ => None,
    };
    if from == to || matches!(to, Utf8 | LargeUtf8 | Utf8View) {
        return false;
    }
    match (from, to) {
        (Null, _) | (Float32, Float64) | (Date32, Timestamp(..)) => false,
        (Int8 | Int16 | Int32 | Int64, Float32 | Float64) => false,
        (Decimal128(..), Float64) => false,
        (Decimal128(p1, s1), Decimal128(p2, s2)) => {
            // Safe only when no integer digit is lost and nothing is rounded (rounding 9.99 up can add a digit).
            s2 < s1 || i16::from(*p2) - i16::from(*s2) < i16::from(*p1) - i16::from(*s1)
        }
        (f, Decimal128(p, s)) => match int_digits(f) {
            Some(d) => i16::from(*p) - i16::from(*s) < d,
            None => true,
        },
        (f, t) => match (int_digits(f), int_digits(t)) {
            (Some(a), Some(b)) => b < a,
            _ => true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_casts_cannot_fail_and_narrowing_ones_can() {
        use DataType::*;
        assert!(!cast_can_fail(&Int32, &Int64));
        assert!(!cast_can_fail(&Int64, &Float64));
        assert!(!cast_can_fail(&Int32, &Decimal128(12, 2)));
        assert!(!cast_can_fail(&Decimal128(10, 2), &Decimal128(12, 3)));
        assert!(!cast_can_fail(&Int64, &Utf8));
        assert!(cast_can_fail(&Int64, &Int32));
        assert!(cast_can_fail(&Utf8, &Int32));
        assert!(cast_can_fail(&Float64, &Int64));
        assert!(cast_can_fail(&Int32, &Decimal128(5, 2)));
        assert!(cast_can_fail(&Decimal128(10, 2), &Decimal128(10, 4)));
        assert!(cast_can_fail(&Decimal128(3, 2), &Decimal128(3, 1)));
    }
}
