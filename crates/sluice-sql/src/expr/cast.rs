//! Literals and casts: DataFusion's `ScalarValue` to [`Value`], and `CAST(v AS t)` between supported types.
//!
//! A cast that fails at run time (a string that is not a number) yields NULL; DataFusion fails the query
//! instead (`TRY_CAST` yields NULL in both).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use datafusion::arrow::datatypes::DataType;
use datafusion::scalar::ScalarValue;
use sluice_data::{Decimal, Value, F32, F64};

use super::ops::{as_decimal, as_f64, as_int, float_value, int_value, is_integer};
use crate::error::{LowerResult, Unsupported};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The epoch as a date, the origin of DATE values.
pub fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// A DATE value as a calendar date.
pub fn date_of(days: i32) -> Option<NaiveDate> {
    epoch().checked_add_signed(chrono::Duration::days(i64::from(days)))
}

/// A TIMESTAMP value (microseconds) as a date-time.
pub fn datetime_of(micros: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc())
}

/// A date-time as a TIMESTAMP value.
pub fn micros_of(t: &NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

/// A calendar date as a DATE value.
pub fn days_of(d: &NaiveDate) -> i32 {
    d.num_days_from_ce() - epoch().num_days_from_ce()
}

/// The value of a literal, with TIME in nanoseconds and TIMESTAMP in microseconds whatever its Arrow unit.
pub fn scalar_value(s: &ScalarValue) -> LowerResult<Value> {
    if s.is_null() {
        return Ok(Value::Null);
    }
    let v = match s {
        ScalarValue::Boolean(Some(b)) => Value::Bool(*b),
        ScalarValue::Int8(Some(x)) => Value::TinyInt(*x),
        ScalarValue::Int16(Some(x)) => Value::SmallInt(*x),
        ScalarValue::Int32(Some(x)) => Value::Int(*x),
        ScalarValue::Int64(Some(x)) => Value::BigInt(*x),
        ScalarValue::UInt8(Some(x)) => Value::BigInt(i64::from(*x)),
        ScalarValue::UInt16(Some(x)) => Value::BigInt(i64::from(*x)),
        ScalarValue::UInt32(Some(x)) => Value::BigInt(i64::from(*x)),
        ScalarValue::UInt64(Some(x)) if i64::try_from(*x).is_ok() => Value::BigInt(*x as i64),
        ScalarValue::Float32(Some(x)) => Value::Real(F32(*x)),
        ScalarValue::Float64(Some(x)) => Value::Double(F64(*x)),
        ScalarValue::Decimal128(Some(m), _, scale) if *scale >= 0 => Value::Decimal(
            Decimal::new(*m, *scale as u8).map_err(|e| Unsupported::new(e.to_string()))?,
        ),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Value::String(s.clone()),
        ScalarValue::Date32(Some(d)) => Value::Date(*d),
        ScalarValue::Time64Nanosecond(Some(t)) => Value::Time(*t as u64),
        ScalarValue::Time64Microsecond(Some(t)) => Value::Time(*t as u64 * 1_000),
        ScalarValue::TimestampSecond(Some(t), None) => Value::Timestamp(t * 1_000_000),
        ScalarValue::TimestampMillisecond(Some(t), None) => Value::Timestamp(t * 1_000),
        ScalarValue::TimestampMicrosecond(Some(t), None) => Value::Timestamp(*t),
        ScalarValue::TimestampNanosecond(Some(t), None) => Value::Timestamp(t.div_euclid(1_000)),
        ScalarValue::Binary(Some(b))
        | ScalarValue::BinaryView(Some(b))
        | ScalarValue::LargeBinary(Some(b)) => Value::Bytes(b.clone()),
        other => {
            return Err(Unsupported::new(format!(
                "literal {other} of type {} is not supported",
                other.data_type()
            )))
        }
    };
    Ok(v)
}

/// Whether [`cast`] implements a cast from `from` to `to`.
pub fn can_cast(from: &DataType, to: &DataType) -> bool {
    use datafusion::arrow::datatypes::TimeUnit;
    use DataType::*;
    let numeric = |t: &DataType| {
        matches!(
            t,
            Int8 | Int16 | Int32 | Int64 | Float32 | Float64 | Decimal128(..)
        )
    };
    let string = |t: &DataType| matches!(t, Utf8 | Utf8View | LargeUtf8);
    let temporal = |t: &DataType| matches!(t, Date32 | Timestamp(_, None) | Time64(_));
    // Unsigned integers appear only as DataFusion's own values (the grouping id that GROUPING() reads, ROW_NUMBER),
    // held as BIGINT, and are cast from, never to.
    let unsigned = |t: &DataType| matches!(t, UInt8 | UInt16 | UInt32 | UInt64);
    from == to
        || *from == Null
        || ((numeric(from) || unsigned(from)) && numeric(to))
        || (string(from) && string(to))
        || (string(from) && (numeric(to) || temporal(to) || *to == Boolean))
        || (string(to) && (numeric(from) || temporal(from) || *from == Boolean))
        || (*from == Boolean && numeric(to))
        || (numeric(from) && *to == Boolean)
        || (matches!(from, Date32 | Timestamp(_, None))
            && matches!(to, Date32 | Timestamp(_, None)))
        || (matches!(from, Timestamp(_, None)) && matches!(to, Time64(_)))
        || (string(from) && matches!(to, Binary | BinaryView | LargeBinary))
        // A TIMESTAMP − TIMESTAMP duration, held as a count of its unit, to a BIGINT: that count.
        || (matches!(from, Duration(TimeUnit::Microsecond | TimeUnit::Nanosecond)) && matches!(to, Int64))
}

/// `CAST(v AS to)`; NULL when the value does not convert.
pub fn cast(v: &Value, to: &DataType) -> Value {
    cast_opt(v, to).unwrap_or(Value::Null)
}

fn cast_opt(v: &Value, to: &DataType) -> Option<Value> {
    if v.is_null() {
        return Some(Value::Null);
    }
    Some(match to {
        DataType::Boolean => match v {
            Value::Bool(b) => Value::Bool(*b),
            Value::String(s) => Value::Bool(match s.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "1" | "on" => true,
                "false" | "f" | "no" | "n" | "0" | "off" => false,
                _ => return None,
            }),
            other => Value::Bool(as_f64(other)? != 0.0),
        },
        t if is_integer(t) => {
            let i: i128 = match v {
                Value::Bool(b) => i128::from(*b),
                Value::String(s) => s.trim().parse().ok()?,
                Value::Real(_) | Value::Double(_) => {
                    let f = as_f64(v)?.trunc();
                    if !f.is_finite() {
                        return None;
                    }
                    f as i128
                }
                Value::Decimal(d) => d.mantissa() / 10i128.pow(u32::from(d.scale())),
                other => as_int(other)?,
            };
            let out = int_value(to, i);
            // Out-of-range values fail the cast rather than wrap.
            if as_int(&out)? != i {
                return None;
            }
            out
        }
        DataType::Float32 | DataType::Float64 => match v {
            Value::String(s) => float_value(to, s.trim().parse().ok()?),
            Value::Bool(b) => float_value(to, f64::from(u8::from(*b))),
            Value::Real(x) if *to == DataType::Float32 => Value::Real(*x),
            other => float_value(to, as_f64(other)?),
        },
        DataType::Decimal128(precision, scale) => {
            let scale = *scale as u8;
            let d = match v {
                Value::String(s) => s.trim().parse::<Decimal>().ok()?.rescale(scale)?,
                Value::Real(_) | Value::Double(_) => {
                    let f = (as_f64(v)? * 10f64.powi(i32::from(scale))).round();
                    if !f.is_finite() {
                        return None;
                    }
                    Decimal::new(f as i128, scale).ok()?
                }
                other => as_decimal(other, scale)?,
            };
            if d.mantissa().unsigned_abs() >= 10u128.pow(u32::from(*precision)) {
                return None;
            }
            Value::Decimal(d)
        }
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => Value::String(to_text(v)?),
        DataType::Date32 => match v {
            Value::Date(d) => Value::Date(*d),
            Value::Timestamp(t) => Value::Date(t.div_euclid(MICROS_PER_DAY) as i32),
            Value::String(s) => Value::Date(days_of(
                &NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?,
            )),
            _ => return None,
        },
        DataType::Timestamp(_, None) => match v {
            Value::Timestamp(t) => Value::Timestamp(*t),
            Value::Date(d) => Value::Timestamp(i64::from(*d) * MICROS_PER_DAY),
            Value::String(s) => Value::Timestamp(parse_timestamp(s.trim())?),
            _ => return None,
        },
        DataType::Time64(_) => match v {
            Value::Time(t) => Value::Time(*t),
            Value::Timestamp(t) => Value::Time(t.rem_euclid(MICROS_PER_DAY) as u64 * 1_000),
            Value::String(s) => {
                let t = NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f").ok()?;
                Value::Time(
                    u64::from(t.num_seconds_from_midnight()) * 1_000_000_000
                        + u64::from(t.nanosecond()),
                )
            }
            _ => return None,
        },
        DataType::Binary | DataType::BinaryView | DataType::LargeBinary => match v {
            Value::Bytes(b) => Value::Bytes(b.clone()),
            Value::String(s) => Value::Bytes(s.as_bytes().to_vec()),
            _ => return None,
        },
        _ => return None,
    })
}

fn parse_timestamp(s: &str) -> Option<i64> {
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(micros_of(&t));
        }
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(i64::from(days_of(&d)) * MICROS_PER_DAY)
}

/// The text form Arrow's cast to string produces, for the types where Sluice reproduces it exactly.
fn to_text(v: &Value) -> Option<String> {
    Some(match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::TinyInt(_) | Value::SmallInt(_) | Value::Int(_) | Value::BigInt(_) => {
            as_int(v)?.to_string()
        }
        Value::Decimal(d) => d.to_string(),
        Value::Real(x) => format_float(f64::from(x.0)),
        Value::Double(x) => format_float(x.0),
        Value::Date(d) => date_of(*d)?.format("%Y-%m-%d").to_string(),
        Value::Timestamp(t) => datetime_of(*t)?.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
        Value::Time(t) => {
            let secs = (*t / 1_000_000_000) as u32;
            NaiveTime::from_num_seconds_from_midnight_opt(secs, (*t % 1_000_000_000) as u32)?
                .format("%H:%M:%S%.f")
                .to_string()
        }
        _ => return None,
    })
}

fn format_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// Nanoseconds of a TIME value split into hour, minute, second and nanosecond.
pub fn time_parts(nanos: u64) -> (u64, u64, u64, u64) {
    let secs = nanos / 1_000_000_000;
    (
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        nanos % 1_000_000_000,
    )
}
