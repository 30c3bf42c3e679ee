//! Scalar functions (string, date/time, numeric), `LIKE` matching and interval arithmetic.

use chrono::{Datelike, Months, NaiveDateTime, Timelike};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use sluice_data::{Decimal, Value};

use super::cast::{date_of, datetime_of, days_of, micros_of, time_parts};
use super::ops::{as_int, float_value, int_value};

/// `UPPER`, `LOWER`.
pub fn map_str(v: &Value, f: fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(s)),
        _ => Value::Null,
    }
}

/// `REPLACE(s, from, to)`: every occurrence of `from` in `s` replaced by `to` (an empty `from` changes nothing);
/// NULL when any argument is.
pub fn replace(s: &Value, from: &Value, to: &Value) -> Value {
    match (s, from, to) {
        (Value::String(s), Value::String(from), Value::String(to)) => {
            if from.is_empty() {
                Value::String(s.clone())
            } else {
                Value::String(s.replace(from.as_str(), to))
            }
        }
        _ => Value::Null,
    }
}

/// `SPLIT_PART(s, delimiter, n)`: the `n`th piece of `s` split at `delimiter`, counted from 1 (from the end when
/// negative); the empty string when there is no such piece, the whole string for an empty delimiter (its only
/// piece); NULL when any argument is, and for `n` = 0 (which DataFusion refuses at run time).
pub fn split_part(s: &Value, delimiter: &Value, n: &Value) -> Value {
    let (Value::String(s), Value::String(delimiter), Some(n)) = (s, delimiter, as_int(n)) else {
        return Value::Null;
    };
    let pieces: Vec<&str> = if delimiter.is_empty() {
        vec![s.as_str()]
    } else {
        s.split(delimiter.as_str()).collect()
    };
    let index = match n {
        0 => return Value::Null,
        n if n > 0 => usize::try_from(n - 1).ok(),
        n => usize::try_from(-n)
            .ok()
            .and_then(|back| pieces.len().checked_sub(back)),
    };
    Value::String(
        index
            .and_then(|i| pieces.get(i))
            .map_or_else(String::new, |p| (*p).to_string()),
    )
}

/// `CHARACTER_LENGTH` in characters, as the result integer type.
pub fn char_length(v: &Value, out: &DataType) -> Value {
    match v {
        Value::String(s) => int_value(out, s.chars().count() as i128),
        _ => Value::Null,
    }
}

/// `SUBSTR(s, start [, len])` with 1-based `start`; positions before 1 are dropped (PostgreSQL semantics).
pub fn substr(s: &Value, start: &Value, len: Option<&Value>) -> Value {
    let (Value::String(s), Some(start)) = (s, as_int(start)) else {
        return Value::Null;
    };
    let end = match len {
        None => i128::MAX,
        Some(l) => match as_int(l) {
            Some(l) if l >= 0 => start.saturating_add(l),
            _ => return Value::Null,
        },
    };
    let from = start.max(1);
    let out: String = s
        .chars()
        .enumerate()
        .filter(|(i, _)| {
            let pos = *i as i128 + 1;
            pos >= from && pos < end
        })
        .map(|(_, c)| c)
        .collect();
    Value::String(out)
}

/// `CONCAT(...)`: NULL arguments are skipped.
pub fn concat(args: &[Value]) -> Value {
    let mut out = String::new();
    for a in args {
        if let Value::String(s) = a {
            out.push_str(s);
        } else if !a.is_null() {
            return Value::Null;
        }
    }
    Value::String(out)
}

/// Which side `TRIM` works on.
#[derive(Clone, Copy, Debug)]
pub enum TrimSide {
    /// `BTRIM` / `TRIM(BOTH ...)`.
    Both,
    /// `LTRIM` / `TRIM(LEADING ...)`.
    Leading,
    /// `RTRIM` / `TRIM(TRAILING ...)`.
    Trailing,
}

/// `TRIM` of spaces, or of the characters in `chars`.
pub fn trim(v: &Value, chars: Option<&Value>, side: TrimSide) -> Value {
    let Value::String(s) = v else {
        return Value::Null;
    };
    let set: Vec<char> = match chars {
        None => vec![' '],
        Some(Value::String(c)) => c.chars().collect(),
        Some(_) => return Value::Null,
    };
    let pred = |c: char| set.contains(&c);
    Value::String(
        match side {
            TrimSide::Both => s.trim_matches(pred),
            TrimSide::Leading => s.trim_start_matches(pred),
            TrimSide::Trailing => s.trim_end_matches(pred),
        }
        .to_string(),
    )
}

/// `ABS` in the argument's own type.
pub fn abs(v: &Value) -> Value {
    match v {
        Value::TinyInt(x) => Value::TinyInt(x.wrapping_abs()),
        Value::SmallInt(x) => Value::SmallInt(x.wrapping_abs()),
        Value::Int(x) => Value::Int(x.wrapping_abs()),
        Value::BigInt(x) => Value::BigInt(x.wrapping_abs()),
        Value::Real(x) => Value::Real(sluice_data::F32(x.0.abs())),
        Value::Double(x) => Value::Double(sluice_data::F64(x.0.abs())),
        Value::Decimal(d) => {
            Decimal::new(d.mantissa().abs(), d.scale()).map_or(Value::Null, Value::Decimal)
        }
        _ => Value::Null,
    }
}

/// The date/time fields `EXTRACT` / `DATE_PART` know.
pub const DATE_PARTS: &[&str] = &[
    "year",
    "quarter",
    "month",
    "week",
    "day",
    "dow",
    "doy",
    "hour",
    "minute",
    "second",
    "millisecond",
    "microsecond",
    "epoch",
];

/// `DATE_PART(part, v)` in the result type DataFusion gives (an integer or a float).
pub fn date_part(part: &str, v: &Value, out: &DataType) -> Value {
    let t: NaiveDateTime = match v {
        Value::Date(d) => match date_of(*d) {
            Some(d) => d.and_hms_opt(0, 0, 0).unwrap_or_default(),
            None => return Value::Null,
        },
        Value::Timestamp(t) => match datetime_of(*t) {
            Some(t) => t,
            None => return Value::Null,
        },
        Value::Time(n) => {
            let (h, m, s, ns) = time_parts(*n);
            let x = match part {
                "hour" => h as f64,
                "minute" => m as f64,
                "second" => s as f64 + ns as f64 / 1e9,
                "millisecond" => (s * 1_000) as f64 + (ns / 1_000_000) as f64,
                "microsecond" => (s * 1_000_000) as f64 + (ns / 1_000) as f64,
                "epoch" => *n as f64 / 1e9,
                _ => return Value::Null,
            };
            return number(x, out);
        }
        _ => return Value::Null,
    };
    let frac_ns = f64::from(t.nanosecond());
    let x = match part {
        "year" => f64::from(t.year()),
        "quarter" => f64::from((t.month() - 1) / 3 + 1),
        "month" => f64::from(t.month()),
        "week" => f64::from(t.iso_week().week()),
        "day" => f64::from(t.day()),
        "dow" => f64::from(t.weekday().num_days_from_sunday()),
        "doy" => f64::from(t.ordinal()),
        "hour" => f64::from(t.hour()),
        "minute" => f64::from(t.minute()),
        "second" => f64::from(t.second()) + frac_ns / 1e9,
        "millisecond" => f64::from(t.second()) * 1e3 + (frac_ns / 1e6).trunc(),
        "microsecond" => f64::from(t.second()) * 1e6 + (frac_ns / 1e3).trunc(),
        "epoch" => micros_of(&t) as f64 / 1e6,
        _ => return Value::Null,
    };
    number(x, out)
}

/// How many units of the duration type `t` make a microsecond (1 for µs, 1000 for ns); `None` for other types.
pub fn duration_units_per_micro(t: &DataType) -> Option<i64> {
    match t {
        DataType::Duration(TimeUnit::Microsecond) => Some(1),
        DataType::Duration(TimeUnit::Nanosecond) => Some(1_000),
        _ => None,
    }
}

/// A duration of `units` (of `unit_type`, see [`duration_units_per_micro`]) in seconds, in the result type of
/// `DATE_PART('epoch', ...)`.
pub fn seconds(units: i64, unit_type: &DataType, out: &DataType) -> Value {
    let per_second = duration_units_per_micro(unit_type).unwrap_or(1) as f64 * 1e6;
    number(units as f64 / per_second, out)
}

fn number(x: f64, out: &DataType) -> Value {
    match out {
        DataType::Float32 | DataType::Float64 => float_value(out, x),
        DataType::Decimal128(_, s) => {
            let m = (x * 10f64.powi(i32::from(*s))).round() as i128;
            Decimal::new(m, *s as u8).map_or(Value::Null, Value::Decimal)
        }
        _ => int_value(out, x.trunc() as i128),
    }
}

/// A constant interval: months, days and nanoseconds, as DataFusion's `IntervalMonthDayNano`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    /// Whole months.
    pub months: i32,
    /// Whole days.
    pub days: i32,
    /// Nanoseconds.
    pub nanos: i64,
}

/// `v + sign * interval` for a DATE or TIMESTAMP `v`, giving a value of type `out`.
pub fn add_interval(v: &Value, iv: Interval, sign: i32, out: &DataType) -> Value {
    let t = match v {
        Value::Date(d) => date_of(*d).and_then(|d| d.and_hms_opt(0, 0, 0)),
        Value::Timestamp(t) => datetime_of(*t),
        _ => None,
    };
    let Some(t) = t else {
        return Value::Null;
    };
    let months = iv.months * sign;
    let shifted = if months >= 0 {
        t.checked_add_months(Months::new(months as u32))
    } else {
        t.checked_sub_months(Months::new(months.unsigned_abs()))
    };
    let shifted = shifted
        .and_then(|t| t.checked_add_signed(chrono::Duration::days(i64::from(iv.days * sign))))
        .and_then(|t| {
            t.checked_add_signed(chrono::Duration::nanoseconds(iv.nanos * i64::from(sign)))
        });
    match (shifted, out) {
        (Some(t), DataType::Date32) => Value::Date(days_of(&t.date())),
        (Some(t), _) => Value::Timestamp(micros_of(&t)),
        (None, _) => Value::Null,
    }
}

/// A compiled `LIKE` pattern: `%` matches any run, `_` one character, `escape` quotes the next character.
#[derive(Clone, Debug)]
pub struct LikePattern {
    tokens: Vec<LikeToken>,
    case_insensitive: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum LikeToken {
    Any,
    One,
    Char(char),
}

impl LikePattern {
    /// Compiles `pattern`.
    pub fn new(pattern: &str, escape: Option<char>, case_insensitive: bool) -> Self {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            let fold = |c: char| {
                if case_insensitive {
                    c.to_lowercase().next().unwrap_or(c)
                } else {
                    c
                }
            };
            tokens.push(match c {
                c if Some(c) == escape => LikeToken::Char(fold(chars.next().unwrap_or(c))),
                '%' => LikeToken::Any,
                '_' => LikeToken::One,
                c => LikeToken::Char(fold(c)),
            });
        }
        LikePattern {
            tokens,
            case_insensitive,
        }
    }

    /// Whether `s` matches the whole pattern.
    pub fn matches(&self, s: &str) -> bool {
        let text: Vec<char> = if self.case_insensitive {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        };
        // Classic two-pointer wildcard matching with backtracking to the last `%`.
        let (mut ti, mut pi) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < text.len() {
            match self.tokens.get(pi) {
                Some(LikeToken::Any) => {
                    star = Some((pi, ti));
                    pi += 1;
                }
                Some(LikeToken::One) => {
                    ti += 1;
                    pi += 1;
                }
                Some(LikeToken::Char(c)) if *c == text[ti] => {
                    ti += 1;
                    pi += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        pi = sp + 1;
                        ti = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[pi..].iter().all(|t| *t == LikeToken::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_handles_wildcards_escape_and_case() {
        assert!(LikePattern::new("a%c", None, false).matches("abbbc"));
        assert!(LikePattern::new("a_c", None, false).matches("abc"));
        assert!(!LikePattern::new("a_c", None, false).matches("abbc"));
        assert!(LikePattern::new("100!%", Some('!'), false).matches("100%"));
        assert!(!LikePattern::new("100!%", Some('!'), false).matches("1000"));
        assert!(LikePattern::new("A%", None, true).matches("abc"));
        assert!(LikePattern::new("%", None, false).matches(""));
    }

    #[test]
    fn substr_drops_positions_before_one() {
        let s = Value::from("alphabet");
        assert_eq!(
            substr(&s, &Value::BigInt(0), Some(&Value::BigInt(3))),
            Value::from("al")
        );
        assert_eq!(substr(&s, &Value::BigInt(3), None), Value::from("phabet"));
    }

    #[test]
    fn interval_addition_clamps_the_day_of_month() {
        let jan31 = Value::Date(days_of(
            &chrono::NaiveDate::from_ymd_opt(2024, 1, 31).unwrap(),
        ));
        let iv = Interval {
            months: 1,
            days: 0,
            nanos: 0,
        };
        let feb29 = Value::Date(days_of(
            &chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
        ));
        assert_eq!(add_interval(&jan31, iv, 1, &DataType::Date32), feb29);
    }
}
