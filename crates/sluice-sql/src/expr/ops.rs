//! Arithmetic, comparison and three-valued logic over dynamic values, with DataFusion's result types.
//!
//! DataFusion has already coerced both operands and tells us the result type; these functions compute the
//! value in that type. Integer overflow wraps (as Arrow's default kernels do) and division by zero yields NULL
//! where DataFusion would fail the query: a streaming view cannot fail one row, see the crate README.

use std::cmp::Ordering;

use datafusion::arrow::datatypes::DataType;
use sluice_data::{Decimal, Value, F32, F64};

/// The value of an integer `v` in integer type `dt`, wrapping like Arrow's kernels. Unsigned types (only
/// ranks and row numbers produce them) are held as BIGINT.
pub fn int_value(dt: &DataType, v: i128) -> Value {
    match dt {
        DataType::Int8 => Value::TinyInt(v as i8),
        DataType::Int16 => Value::SmallInt(v as i16),
        DataType::Int32 => Value::Int(v as i32),
        _ => Value::BigInt(v as i64),
    }
}

/// The smallest and largest value of an integer type, as [`int_value`] stores it.
pub fn int_range(dt: &DataType) -> (i128, i128) {
    match dt {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    }
}

/// Whether `dt` is an integer type (unsigned ones come from ROW_NUMBER and RANK).
pub fn is_integer(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// An integer value as `i128`.
pub fn as_int(v: &Value) -> Option<i128> {
    Some(match v {
        Value::TinyInt(x) => i128::from(*x),
        Value::SmallInt(x) => i128::from(*x),
        Value::Int(x) => i128::from(*x),
        Value::BigInt(x) => i128::from(*x),
        _ => return None,
    })
}

/// Any numeric value as `f64`.
pub fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Real(x) => Some(f64::from(x.0)),
        Value::Double(x) => Some(x.0),
        Value::Decimal(d) => Some(d.to_f64()),
        other => as_int(other).map(|i| i as f64),
    }
}

/// An integer or decimal value as a decimal with `scale` fractional digits.
pub fn as_decimal(v: &Value, scale: u8) -> Option<Decimal> {
    match v {
        Value::Decimal(d) => d.rescale(scale),
        other => {
            let i = as_int(other)?;
            Decimal::new(i.checked_mul(10i128.checked_pow(u32::from(scale))?)?, scale).ok()
        }
    }
}

/// A float value in float type `dt`.
pub fn float_value(dt: &DataType, v: f64) -> Value {
    match dt {
        DataType::Float32 => Value::Real(F32(v as f32)),
        _ => Value::Double(F64(v)),
    }
}

/// SQL comparison: `None` when either side is NULL. Numbers of different types compare by value.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if a.is_null() || b.is_null() {
        return None;
    }
    if std::mem::discriminant(a) == std::mem::discriminant(b) {
        return Some(a.cmp(b));
    }
    match (a, b) {
        (Value::Decimal(_), _) | (_, Value::Decimal(_))
            if !matches!(a, Value::Real(_) | Value::Double(_))
                && !matches!(b, Value::Real(_) | Value::Double(_)) =>
        {
            let scale = decimal_scale(a).max(decimal_scale(b));
            Some(as_decimal(a, scale)?.cmp(&as_decimal(b, scale)?))
        }
        _ => match (as_int(a), as_int(b)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => Some(F64(as_f64(a)?).cmp(&F64(as_f64(b)?))),
        },
    }
}

fn decimal_scale(v: &Value) -> u8 {
    match v {
        Value::Decimal(d) => d.scale(),
        _ => 0,
    }
}

/// The arithmetic operators the evaluator implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

/// `a op b` in result type `out`; NULL when either side is NULL, on division by zero, or when a decimal result
/// does not fit.
pub fn arith(op: Arith, a: &Value, b: &Value, out: &DataType) -> Value {
    if a.is_null() || b.is_null() {
        return Value::Null;
    }
    let result = match out {
        t if is_integer(t) => int_arith(op, as_int(a), as_int(b)).map(|v| int_value(out, v)),
        DataType::Float32 => match (as_f64(a), as_f64(b)) {
            (Some(x), Some(y)) => Some(Value::Real(F32(f32_arith(op, x as f32, y as f32)))),
            _ => None,
        },
        DataType::Float64 => float_arith(op, as_f64(a), as_f64(b)).map(|v| Value::Double(F64(v))),
        DataType::Decimal128(_, scale) => decimal_arith(op, a, b, *scale as u8).map(Value::Decimal),
        _ => None,
    };
    result.unwrap_or(Value::Null)
}

fn int_arith(op: Arith, a: Option<i128>, b: Option<i128>) -> Option<i128> {
    let (a, b) = (a?, b?);
    match op {
        Arith::Add => Some(a.wrapping_add(b)),
        Arith::Sub => Some(a.wrapping_sub(b)),
        Arith::Mul => Some(a.wrapping_mul(b)),
        Arith::Div => a.checked_div(b),
        Arith::Rem => a.checked_rem(b),
    }
}

fn float_arith(op: Arith, a: Option<f64>, b: Option<f64>) -> Option<f64> {
    let (a, b) = (a?, b?);
    Some(match op {
        Arith::Add => a + b,
        Arith::Sub => a - b,
        Arith::Mul => a * b,
        Arith::Div => a / b,
        Arith::Rem => a % b,
    })
}

fn f32_arith(op: Arith, a: f32, b: f32) -> f32 {
    match op {
        Arith::Add => a + b,
        Arith::Sub => a - b,
        Arith::Mul => a * b,
        Arith::Div => a / b,
        Arith::Rem => a % b,
    }
}

fn decimal_arith(op: Arith, a: &Value, b: &Value, out_scale: u8) -> Option<Decimal> {
    let (sa, sb) = (decimal_scale(a), decimal_scale(b));
    match op {
        Arith::Add | Arith::Sub | Arith::Rem => {
            let s = sa.max(sb);
            let (x, y) = (as_decimal(a, s)?.mantissa(), as_decimal(b, s)?.mantissa());
            let m = match op {
                Arith::Add => x.checked_add(y)?,
                Arith::Sub => x.checked_sub(y)?,
                _ => x.checked_rem(y)?,
            };
            Decimal::new(m, s).ok()?.rescale(out_scale)
        }
        Arith::Mul => {
            let (x, y) = (as_decimal(a, sa)?.mantissa(), as_decimal(b, sb)?.mantissa());
            Decimal::new(x.checked_mul(y)?, sa.checked_add(sb)?)
                .ok()?
                .rescale(out_scale)
        }
        Arith::Div => {
            // Arrow divides the mantissas after scaling the dividend so that the quotient has the result scale,
            // truncating toward zero.
            let (x, y) = (as_decimal(a, sa)?.mantissa(), as_decimal(b, sb)?.mantissa());
            let shift = i32::from(out_scale) - i32::from(sa) + i32::from(sb);
            let num = if shift >= 0 {
                x.checked_mul(10i128.checked_pow(shift as u32)?)?
            } else {
                x / 10i128.checked_pow((-shift) as u32)?
            };
            Decimal::new(num.checked_div(y)?, out_scale).ok()
        }
    }
}

/// SQL `AND` with NULL as unknown.
pub fn and(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
        (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
        _ => Value::Null,
    }
}

/// SQL `OR` with NULL as unknown.
pub fn or(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Bool(true), _) | (_, Value::Bool(true)) => Value::Bool(true),
        (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
        _ => Value::Null,
    }
}

/// SQL `NOT`.
pub fn not(a: &Value) -> Value {
    match a {
        Value::Bool(b) => Value::Bool(!b),
        _ => Value::Null,
    }
}

/// A comparison result as a SQL boolean.
pub fn cmp_value(a: &Value, b: &Value, test: fn(Ordering) -> bool) -> Value {
    compare(a, b).map_or(Value::Null, |o| Value::Bool(test(o)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Value {
        Value::Decimal(s.parse().unwrap())
    }

    #[test]
    fn decimal_arithmetic_keeps_the_result_scale() {
        let out = DataType::Decimal128(12, 2);
        assert_eq!(arith(Arith::Add, &d("1.25"), &d("2.5"), &out), d("3.75"));
        let out = DataType::Decimal128(20, 4);
        assert_eq!(arith(Arith::Mul, &d("1.25"), &d("2.50"), &out), d("3.1250"));
    }

    #[test]
    fn null_and_false_is_false_and_null_or_true_is_true() {
        assert_eq!(and(&Value::Null, &Value::Bool(false)), Value::Bool(false));
        assert_eq!(or(&Value::Null, &Value::Bool(true)), Value::Bool(true));
        assert_eq!(and(&Value::Null, &Value::Bool(true)), Value::Null);
    }

    #[test]
    fn integer_division_by_zero_is_null() {
        let out = DataType::Int32;
        assert_eq!(
            arith(Arith::Div, &Value::Int(1), &Value::Int(0), &out),
            Value::Null
        );
    }

    #[test]
    fn numbers_of_different_types_compare_by_value() {
        assert_eq!(
            compare(&Value::Int(2), &Value::BigInt(10)),
            Some(Ordering::Less)
        );
        assert_eq!(compare(&d("1.50"), &Value::Int(1)), Some(Ordering::Greater));
        assert_eq!(compare(&Value::Null, &Value::Int(1)), None);
    }
}
