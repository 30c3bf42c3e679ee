//! Scalar expressions compiled from DataFusion's `Expr` into closures over a row's values.
//!
//! Each [`Scalar`] is built once per view when the program compiles and then called for every row that flows
//! through the circuit. DataFusion has already resolved names, coerced types and folded constants, so the
//! closures only compute; anything not covered here is rejected with an [`Unsupported`] naming it.

mod cast;
mod func;
mod interval;
mod ops;
mod scalar;
mod scalar_fn;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator};
use datafusion::scalar::ScalarValue;
use sluice_data::Value;

pub use cast::{cast, date_of, datetime_of, scalar_value};
use interval::interval_value;
pub(crate) use interval::{fold_constant, interval_micros};
pub(crate) use ops::{as_decimal, as_f64, float_value, int_value, is_integer};
pub use ops::{as_int, compare};
pub use scalar::Scalar;

use scalar::{is_numeric, is_string};

use crate::error::{LowerResult, Unsupported};
use func::{Interval, LikePattern};
use ops::Arith;

/// Compiles `expr`, whose columns refer to `schema`.
pub fn compile(expr: &Expr, schema: &DFSchema) -> LowerResult<Scalar> {
    let out = expr
        .get_type(schema)
        .map_err(|e| Unsupported::new(format!("cannot type expression {expr}: {e}")))?;
    Ok(match expr {
        Expr::Alias(a) => compile(&a.expr, schema)?,
        Expr::Column(c) => {
            let index = schema
                .index_of_column(c)
                .map_err(|e| Unsupported::new(format!("column {c}: {e}")))?;
            Scalar::column(index, out)
        }
        Expr::Literal(s, _) => {
            let v = scalar_value(s)?;
            let literal = Some(v.clone());
            Scalar {
                literal,
                ..Scalar::new(out, move |_| v.clone())
            }
        }
        Expr::BinaryExpr(b) => binary(b, schema, out)?,
        Expr::Not(e) => unary(e, schema, out, ops::not)?,
        Expr::IsNull(e) => unary(e, schema, out, |v| Value::Bool(v.is_null()))?,
        Expr::IsNotNull(e) => unary(e, schema, out, |v| Value::Bool(!v.is_null()))?,
        Expr::IsTrue(e) => unary(e, schema, out, |v| Value::Bool(*v == Value::Bool(true)))?,
        Expr::IsFalse(e) => unary(e, schema, out, |v| Value::Bool(*v == Value::Bool(false)))?,
        Expr::IsNotTrue(e) => unary(e, schema, out, |v| Value::Bool(*v != Value::Bool(true)))?,
        Expr::IsNotFalse(e) => unary(e, schema, out, |v| Value::Bool(*v != Value::Bool(false)))?,
        Expr::IsUnknown(e) => unary(e, schema, out, |v| Value::Bool(v.is_null()))?,
        Expr::IsNotUnknown(e) => unary(e, schema, out, |v| Value::Bool(!v.is_null()))?,
        Expr::Negative(e) => {
            let e = compile(e, schema)?;
            if !is_numeric(&e.data_type) {
                return Err(Unsupported::new(format!(
                    "negation of a {} value",
                    e.data_type
                )));
            }
            let zero = Value::TinyInt(0);
            let t = out.clone();
            Scalar::new(out, move |r| {
                ops::arith(Arith::Sub, &zero, &e.eval_ref(r), &t)
            })
        }
        Expr::Between(b) => {
            let (x, lo, hi) = (
                compile(&b.expr, schema)?,
                compile(&b.low, schema)?,
                compile(&b.high, schema)?,
            );
            let negated = b.negated;
            Scalar::new(out, move |r| {
                let v = x.eval_ref(r);
                let inside = ops::and(
                    &ops::cmp_value(&lo.eval_ref(r), &v, |o| o.is_le()),
                    &ops::cmp_value(&v, &hi.eval_ref(r), |o| o.is_le()),
                );
                if negated {
                    ops::not(&inside)
                } else {
                    inside
                }
            })
        }
        Expr::Like(l) => like(l, schema, out)?,
        Expr::Case(c) => case(c, schema, out)?,
        Expr::Cast(c) => cast_expr(&c.expr, schema, out, "CAST")?,
        Expr::TryCast(c) => cast_expr(&c.expr, schema, out, "TRY_CAST")?,
        Expr::InList(l) => {
            let x = compile(&l.expr, schema)?;
            let list = l
                .list
                .iter()
                .map(|e| compile(e, schema))
                .collect::<LowerResult<Vec<_>>>()?;
            let negated = l.negated;
            Scalar::new(out, move |r| {
                let v = x.eval_ref(r);
                let mut result = Value::Bool(false);
                for item in &list {
                    match ops::compare(&v, &item.eval_ref(r)) {
                        Some(o) if o.is_eq() => {
                            result = Value::Bool(true);
                            break;
                        }
                        None => result = Value::Null,
                        Some(_) => {}
                    }
                }
                if negated {
                    ops::not(&result)
                } else {
                    result
                }
            })
        }
        Expr::ScalarFunction(f) if f.func.name().eq_ignore_ascii_case("date_bin") => {
            date_bin(&f.args, schema, out)?
        }
        Expr::ScalarFunction(f) => {
            let args = f
                .args
                .iter()
                .map(|a| compile(a, schema))
                .collect::<LowerResult<Vec<_>>>()?;
            scalar_fn::function(f, args, out)?
        }
        Expr::AggregateFunction(f) => {
            return Err(Unsupported::at_keyword(
                format!(
                    "aggregate function {} in this position",
                    f.func.name().to_uppercase()
                ),
                f.func.name(),
            ))
        }
        Expr::WindowFunction(w) => {
            return Err(Unsupported::at_keyword(
                format!("window function {} in this position", w.fun),
                "OVER",
            ))
        }
        Expr::ScalarSubquery(_) => {
            return Err(Unsupported::at_keyword("scalar subquery", "SELECT"))
        }
        Expr::Exists(_) | Expr::InSubquery(_) => {
            return Err(Unsupported::at_keyword(
                "EXISTS / IN (subquery) that the planner cannot turn into a join",
                "EXISTS",
            ))
        }
        other => {
            return Err(Unsupported::new(format!(
                "expression {other} ({}) is not supported",
                other.variant_name()
            )))
        }
    })
}

fn unary(
    e: &Expr,
    schema: &DFSchema,
    out: DataType,
    f: fn(&Value) -> Value,
) -> LowerResult<Scalar> {
    let e = compile(e, schema)?;
    Ok(Scalar::new(out, move |r| f(&e.eval_ref(r))))
}

/// Whether values of the two types compare by value in [`compare`] (DataFusion has coerced operands, so this only
/// guards against a comparison the evaluator would answer with NULL).
fn comparable(a: &DataType, b: &DataType) -> bool {
    a == b
        || *a == DataType::Null
        || *b == DataType::Null
        || (is_numeric(a) && is_numeric(b))
        || (is_string(a) && is_string(b))
        || matches!(
            (a, b),
            (DataType::Timestamp(_, None), DataType::Timestamp(_, None))
        )
        || matches!((a, b), (DataType::Time64(_), DataType::Time64(_)))
        || matches!(
            (a, b),
            (
                DataType::Binary | DataType::BinaryView | DataType::LargeBinary,
                DataType::Binary | DataType::BinaryView | DataType::LargeBinary
            )
        )
}

/// The width in bits of an integer type.
fn int_bits(dt: &DataType) -> i128 {
    match dt {
        DataType::Int8 | DataType::UInt8 => 8,
        DataType::Int16 | DataType::UInt16 => 16,
        DataType::Int32 | DataType::UInt32 => 32,
        _ => 64,
    }
}

fn binary(b: &BinaryExpr, schema: &DFSchema, out: DataType) -> LowerResult<Scalar> {
    if let Some(s) = interval_arith(b, schema, &out)? {
        return Ok(s);
    }
    let (l, r) = (compile(&b.left, schema)?, compile(&b.right, schema)?);
    let cmp = |test: fn(std::cmp::Ordering) -> bool| {
        let (l, r) = (l.clone(), r.clone());
        Scalar::new(out.clone(), move |row| {
            ops::cmp_value(&l.eval_ref(row), &r.eval_ref(row), test)
        })
    };
    let arith = |op: Arith| {
        let (l, r, t) = (l.clone(), r.clone(), out.clone());
        Scalar::new(out.clone(), move |row| {
            ops::arith(op, &l.eval_ref(row), &r.eval_ref(row), &t)
        })
    };
    // Arithmetic is computed only between numbers; anything else (DATE - DATE, …) is rejected rather than
    // evaluated to NULL.
    let numeric = [&out, &l.data_type, &r.data_type]
        .iter()
        .all(|t| is_numeric(t));
    let strings = is_string(&l.data_type) && is_string(&r.data_type);
    let comparison = matches!(
        b.op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    );
    if comparison && !comparable(&l.data_type, &r.data_type) {
        return Err(Unsupported::new(format!(
            "comparison of {} with {}",
            l.data_type, r.data_type
        )));
    }
    Ok(match b.op {
        Operator::Eq => cmp(|o| o.is_eq()),
        Operator::NotEq => cmp(|o| o.is_ne()),
        Operator::Lt => cmp(|o| o.is_lt()),
        Operator::LtEq => cmp(|o| o.is_le()),
        Operator::Gt => cmp(|o| o.is_gt()),
        Operator::GtEq => cmp(|o| o.is_ge()),
        Operator::IsDistinctFrom | Operator::IsNotDistinctFrom => {
            let distinct = b.op == Operator::IsDistinctFrom;
            Scalar::new(out, move |row| {
                let (a, c) = (l.eval_ref(row), r.eval_ref(row));
                let same = match (a.is_null(), c.is_null()) {
                    (true, true) => true,
                    (false, false) => ops::compare(&a, &c).is_some_and(|o| o.is_eq()),
                    _ => false,
                };
                Value::Bool(same != distinct)
            })
        }
        Operator::And => Scalar::new(out, move |row| ops::and(&l.eval_ref(row), &r.eval_ref(row))),
        Operator::Or => Scalar::new(out, move |row| ops::or(&l.eval_ref(row), &r.eval_ref(row))),
        // DATE − DATE: the days between, a BIGINT (DataFusion's type, PostgreSQL's rule).
        Operator::Minus if l.data_type == DataType::Date32 && r.data_type == DataType::Date32 => {
            Scalar::new(out.clone(), move |row| {
                match (&*l.eval_ref(row), &*r.eval_ref(row)) {
                    (Value::Date(a), Value::Date(c)) => {
                        int_value(&out, i128::from(*a) - i128::from(*c))
                    }
                    _ => Value::Null,
                }
            })
        }
        // TIMESTAMP − TIMESTAMP: a duration in the unit DataFusion types it (µs between columns, ns when a side is a
        // literal), held as a count of that unit (timestamps are µs here). A view cannot hold one (`types.rs` says
        // how to turn it into a number); CAST to BIGINT and EXTRACT(EPOCH FROM ...) read it.
        Operator::Minus
            if matches!(l.data_type, DataType::Timestamp(_, None))
                && matches!(r.data_type, DataType::Timestamp(_, None))
                && func::duration_units_per_micro(&out).is_some() =>
        {
            let per_micro = func::duration_units_per_micro(&out).unwrap_or(1);
            Scalar::new(out, move |row| {
                match (&*l.eval_ref(row), &*r.eval_ref(row)) {
                    (Value::Timestamp(a), Value::Timestamp(c)) => a
                        .checked_sub(*c)
                        .and_then(|d| d.checked_mul(per_micro))
                        .map_or(Value::Null, Value::BigInt),
                    _ => Value::Null,
                }
            })
        }
        Operator::Plus if numeric => arith(Arith::Add),
        Operator::Minus if numeric => arith(Arith::Sub),
        Operator::Multiply if numeric => arith(Arith::Mul),
        Operator::Divide if numeric => arith(Arith::Div),
        Operator::Modulo if numeric => arith(Arith::Rem),
        // Bitwise operators on integers (GROUPING() reads the grouping id with `&` and `>>`): computed on the
        // exact value and stored back in the result type, whose range they cannot leave; a shift counts modulo the
        // type's width, as DataFusion's does.
        Operator::BitwiseAnd
        | Operator::BitwiseOr
        | Operator::BitwiseXor
        | Operator::BitwiseShiftRight
            if [&out, &l.data_type, &r.data_type]
                .iter()
                .all(|t| is_integer(t)) =>
        {
            let (op, bits) = (b.op, int_bits(&out));
            Scalar::new(out.clone(), move |row| {
                let (Some(a), Some(c)) = (as_int(&l.eval_ref(row)), as_int(&r.eval_ref(row)))
                else {
                    return Value::Null;
                };
                int_value(
                    &out,
                    match op {
                        Operator::BitwiseAnd => a & c,
                        Operator::BitwiseOr => a | c,
                        Operator::BitwiseXor => a ^ c,
                        _ => a >> c.rem_euclid(bits),
                    },
                )
            })
        }
        Operator::StringConcat if strings => {
            Scalar::new(out, move |row| match (l.eval(row), r.eval(row)) {
                (Value::String(a), Value::String(c)) => Value::String(a + &c),
                _ => Value::Null,
            })
        }
        op => {
            return Err(Unsupported::new(format!(
                "operator {op} on {} and {} is not supported",
                l.data_type, r.data_type
            )))
        }
    })
}

/// `date_or_timestamp ± INTERVAL '...'` with a constant interval.
/// A constant interval of any of DataFusion's interval types; `None` for anything else.
/// `DATE_BIN(stride, ts [, origin])`: the start of the `stride`-wide bin, counted from `origin` (the Unix epoch when
/// not given), that holds the TIMESTAMP `ts`; what TUMBLE and HOP windows are made of. The stride must be a
/// constant interval of days and time (months have no fixed width) and the origin a constant.
fn date_bin(args: &[Expr], schema: &DFSchema, out: DataType) -> LowerResult<Scalar> {
    let refuse = |what: &str| Unsupported::at_keyword(format!("DATE_BIN {what}"), "date_bin");
    let stride = match args.first() {
        Some(Expr::Literal(s, _)) => interval_micros(s),
        _ => None,
    }
    .filter(|micros| *micros > 0)
    .ok_or_else(|| refuse("needs a positive constant interval of days and time as its stride"))?;
    let ts = compile(
        args.get(1).ok_or_else(|| refuse("needs a timestamp"))?,
        schema,
    )?;
    if !matches!(ts.data_type, DataType::Timestamp(_, None)) {
        return Err(refuse(&format!(
            "of {}: only TIMESTAMP is supported",
            ts.data_type
        )));
    }
    let origin = match args.get(2) {
        None => 0,
        Some(Expr::Literal(s, _)) => match scalar_value(s)? {
            Value::Timestamp(micros) => micros,
            _ => return Err(refuse("needs a TIMESTAMP origin")),
        },
        Some(_) => return Err(refuse("needs a constant origin")),
    };
    // The bin's start is at most `stride` below the timestamp.
    let trail = ts
        .trail()
        .map(|(c, slack)| (c, slack.saturating_add(stride)));
    Ok(
        Scalar::new(out, move |row| match ts.eval_ref(row).as_ref() {
            Value::Timestamp(t) => t
                .checked_sub(origin)
                .and_then(|d| d.div_euclid(stride).checked_mul(stride))
                .and_then(|d| d.checked_add(origin))
                .map_or(Value::Null, Value::Timestamp),
            _ => Value::Null,
        })
        .trailing(trail),
    )
}

/// The order value a `RANGE` frame bound `offset` away from the current row's value `v`: `v + sign·offset` in the
/// order key's type, as a [`Scalar`] over the one-value row `[v]`. NULL when the result leaves the type's range.
/// Numbers take a numeric offset; dates and timestamps an interval.
pub(crate) fn range_shift(
    offset: &ScalarValue,
    sign: i32,
    key_type: &DataType,
) -> LowerResult<Scalar> {
    let interval = interval_value(offset);
    let t = key_type.clone();
    match (interval, key_type) {
        (Some(iv), DataType::Date32 | DataType::Timestamp(..)) => {
            Ok(Scalar::new(t.clone(), move |r| {
                func::add_interval(&r[0], iv, sign, &t)
            }))
        }
        (None, _) if is_numeric(key_type) => {
            let step = scalar_value(offset)?;
            if ops::compare(&step, &Value::TinyInt(0)).is_none_or(|o| o.is_lt()) {
                return Err(Unsupported::at_keyword(
                    format!("a RANGE frame offset of {offset}: it must be a number of at least 0"),
                    "RANGE",
                ));
            }
            if ops::is_integer(key_type) {
                // Integer arithmetic in SQL expressions wraps; a frame bound must not: a value past the type's
                // range is "beyond every row" (NULL), not a value on the other side.
                let Some(step) = as_int(&step) else {
                    return Err(Unsupported::at_keyword(
                        format!("a RANGE frame offset of {offset} over an integer ORDER BY value"),
                        "RANGE",
                    ));
                };
                let step = step * i128::from(sign);
                let (min, max) = ops::int_range(key_type);
                return Ok(Scalar::new(t.clone(), move |r| {
                    match as_int(&r[0]).map(|v| v + step) {
                        Some(v) if (min..=max).contains(&v) => int_value(&t, v),
                        _ => Value::Null,
                    }
                }));
            }
            let op = if sign < 0 { Arith::Sub } else { Arith::Add };
            Ok(Scalar::new(t.clone(), move |r| {
                ops::arith(op, &r[0], &step, &t)
            }))
        }
        _ => Err(Unsupported::at_keyword(
            format!("a RANGE frame offset of {offset} over an ORDER BY value of type {key_type}"),
            "RANGE",
        )),
    }
}

fn interval_arith(
    b: &BinaryExpr,
    schema: &DFSchema,
    out: &DataType,
) -> LowerResult<Option<Scalar>> {
    let sign = match b.op {
        Operator::Plus => 1,
        Operator::Minus => -1,
        _ => return Ok(None),
    };
    let interval_of = |e: &Expr| match e {
        Expr::Literal(s, _) => interval_value(s),
        _ => None,
    };
    let (value, iv): (&Expr, Interval) = match (interval_of(&b.left), interval_of(&b.right)) {
        (None, Some(iv)) => (&b.left, iv),
        (Some(iv), None) if sign == 1 => (&b.right, iv),
        (None, None) => {
            let involves_interval = [&b.left, &b.right].iter().any(|e| {
                matches!(
                    e.get_type(schema),
                    Ok(DataType::Interval(_) | DataType::Duration(_))
                )
            });
            if involves_interval {
                return Err(Unsupported::at_keyword(
                    "interval arithmetic with a non-constant interval",
                    "INTERVAL",
                ));
            }
            return Ok(None);
        }
        _ => {
            return Err(Unsupported::at_keyword(
                "this interval arithmetic",
                "INTERVAL",
            ))
        }
    };
    if !matches!(out, DataType::Date32 | DataType::Timestamp(_, None)) {
        return Err(Unsupported::at_keyword(
            format!("interval arithmetic giving {out}"),
            "INTERVAL",
        ));
    }
    let v = compile(value, schema)?;
    // A fixed shift (no months) moves the trail by as much: `v + d` trails what `v` trails by `slack - d`.
    let shift = match out {
        _ if iv.months != 0 => None,
        DataType::Timestamp(_, None) => {
            Some(i64::from(iv.days) * 86_400_000_000 + iv.nanos.div_euclid(1_000))
        }
        DataType::Date32 if iv.nanos == 0 => Some(i64::from(iv.days)),
        _ => None,
    };
    let trail = v
        .trail()
        .zip(shift)
        .map(|((c, slack), d)| (c, slack.saturating_sub(i64::from(sign) * d)));
    let t = out.clone();
    Ok(Some(
        Scalar::new(out.clone(), move |r| {
            func::add_interval(&v.eval_ref(r), iv, sign, &t)
        })
        .trailing(trail),
    ))
}

fn like(
    l: &datafusion::logical_expr::Like,
    schema: &DFSchema,
    out: DataType,
) -> LowerResult<Scalar> {
    let x = compile(&l.expr, schema)?;
    // Without ESCAPE, a backslash escapes the next character, as in DataFusion (and PostgreSQL).
    let (negated, escape, ci) = (l.negated, l.escape_char.or(Some('\\')), l.case_insensitive);
    let apply = move |m: bool| Value::Bool(m != negated);
    if let Expr::Literal(s, _) = l.pattern.as_ref() {
        let Value::String(p) = scalar_value(s)? else {
            return Ok(Scalar::new(out, |_| Value::Null));
        };
        let pattern = LikePattern::new(&p, escape, ci);
        return Ok(Scalar::new(out, move |r| match &*x.eval_ref(r) {
            Value::String(s) => apply(pattern.matches(s)),
            _ => Value::Null,
        }));
    }
    let p = compile(&l.pattern, schema)?;
    Ok(Scalar::new(out, move |r| {
        match (&*x.eval_ref(r), &*p.eval_ref(r)) {
            (Value::String(s), Value::String(p)) => {
                apply(LikePattern::new(p, escape, ci).matches(s))
            }
            _ => Value::Null,
        }
    }))
}

fn case(
    c: &datafusion::logical_expr::expr::Case,
    schema: &DFSchema,
    out: DataType,
) -> LowerResult<Scalar> {
    let operand = c.expr.as_ref().map(|e| compile(e, schema)).transpose()?;
    let arms = c
        .when_then_expr
        .iter()
        .map(|(w, t)| Ok((compile(w, schema)?, compile(t, schema)?)))
        .collect::<LowerResult<Vec<_>>>()?;
    let otherwise = c
        .else_expr
        .as_ref()
        .map(|e| compile(e, schema))
        .transpose()?;
    Ok(Scalar::new(out, move |r| {
        let subject = operand.as_ref().map(|o| o.eval_ref(r));
        for (when, then) in &arms {
            let hit = match &subject {
                Some(s) => ops::compare(s, &when.eval_ref(r)).is_some_and(|o| o.is_eq()),
                None => when.test(r),
            };
            if hit {
                return then.eval(r);
            }
        }
        otherwise.as_ref().map_or(Value::Null, |e| e.eval(r))
    }))
}

fn cast_expr(e: &Expr, schema: &DFSchema, out: DataType, name: &str) -> LowerResult<Scalar> {
    let x = compile(e, schema)?;
    if !cast::can_cast(&x.data_type, &out) {
        return Err(Unsupported::at_keyword(
            format!("{name} from {} to {out} is not supported", x.data_type),
            name,
        ));
    }
    let t = out.clone();
    Ok(Scalar::new(out, move |r| cast::cast(&x.eval_ref(r), &t)))
}
