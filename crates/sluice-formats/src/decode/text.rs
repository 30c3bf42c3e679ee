//! Reading SQL values from text, shared by the CSV parser (every field is text), the JSON parser (DECIMAL and
//! temporal strings, map keys) and both formats' error messages.
//!
//! The scalar readers return `Err` with the *expected* phrase only ("an integer from -128 to 127"), because the
//! two formats show the offending value differently: CSV as the field's text, JSON as the value's JSON text.
//! `json_value::parse_text` then builds the whole "expected …, found …" detail for a text field (it lives there
//! because an ARRAY or MAP field's text is JSON, whose map keys are text again: one recursion, one file).

use sluice_data::{Decimal, SqlType, Value, F32, F64};

/// The most characters of an offending value an error message shows.
pub(crate) const MAX_FOUND_CHARS: usize = 64;

/// Cuts `text` to [`MAX_FOUND_CHARS`] characters, marking a cut with `...`.
pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_FOUND_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// An offending text value as an error shows it: clipped and in double quotes, with control characters escaped.
pub(crate) fn quoted(text: &str) -> String {
    format!("{:?}", clip(text))
}

/// `expected <what>, found <found>`: the detail of every value error.
pub(crate) fn expected(what: &str, found: &str) -> String {
    format!("expected {what}, found {found}")
}

/// What a value of `ty` should look like, for errors; `binary` is the format's own spelling of bytes.
pub(crate) fn describe(ty: &SqlType, binary: &'static str) -> String {
    match ty {
        SqlType::Boolean => "true or false",
        SqlType::TinyInt | SqlType::SmallInt | SqlType::Int | SqlType::BigInt => "an integer",
        SqlType::Real | SqlType::Double => "a number",
        SqlType::Decimal { .. } => "a decimal number",
        SqlType::Char { .. } | SqlType::Varchar { .. } => "a string",
        SqlType::Date => "a date (YYYY-MM-DD)",
        SqlType::Time => "a time (HH:MM:SS[.fraction])",
        SqlType::Timestamp => "a timestamp (YYYY-MM-DD HH:MM:SS[.fraction])",
        SqlType::Binary { .. } | SqlType::Varbinary { .. } => binary,
        SqlType::Array { .. } => "a JSON array",
        SqlType::Map { .. } => "a JSON object",
        SqlType::Null => "null",
    }
    .to_string()
}

/// An integer column's value from decimal digits with an optional sign; out-of-range values name the range.
pub(crate) fn parse_int(ty: &SqlType, text: &str) -> Result<Value, String> {
    let (min, max) = match ty {
        SqlType::TinyInt => (i8::MIN.into(), i8::MAX.into()),
        SqlType::SmallInt => (i16::MIN.into(), i16::MAX.into()),
        SqlType::Int => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    };
    let n = parse_integer(text, min, max)?;
    // The range check above makes every conversion below exact.
    Ok(match ty {
        SqlType::TinyInt => Value::TinyInt(n as i8),
        SqlType::SmallInt => Value::SmallInt(n as i16),
        SqlType::Int => Value::Int(n as i32),
        _ => Value::BigInt(n as i64),
    })
}

/// A 64-bit integer (a weight) from decimal digits with an optional sign.
pub(crate) fn parse_i64(text: &str) -> Result<i64, String> {
    // The range check makes the conversion exact.
    parse_integer(text, i64::MIN.into(), i64::MAX.into()).map(|n| n as i64)
}

/// An integer in `min..=max` from decimal digits with an optional sign.
fn parse_integer(text: &str, min: i128, max: i128) -> Result<i128, String> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an integer".into());
    }
    // More digits than i128 holds is out of range for every SQL integer type.
    text.parse::<i128>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("an integer from {min} to {max}"))
}

/// A `REAL` or `DOUBLE` from number text, parsed straight to the column's width so that the shortest text an
/// encoder wrote reads back as the same float. `named` also accepts `NaN`, `inf`, `-inf` and `infinity` (CSV's
/// spellings); a number too large for the type is an error rather than an infinity.
pub(crate) fn parse_float(ty: &SqlType, text: &str, named: bool) -> Result<Value, String> {
    let is_named = text
        .trim_start_matches(['-', '+'])
        .starts_with(|c: char| c.is_ascii_alphabetic());
    if is_named && !named {
        return Err("a number".into());
    }
    let (value, finite) = match ty {
        SqlType::Real => {
            let f: f32 = text.parse().map_err(|_| "a number")?;
            (Value::Real(F32(f)), f.is_finite())
        }
        _ => {
            let f: f64 = text.parse().map_err(|_| "a number")?;
            (Value::Double(F64(f)), f.is_finite())
        }
    };
    if !finite && !is_named {
        return Err(format!("a number within the range of {}", ty.sql_name()));
    }
    Ok(value)
}

/// A `DECIMAL(precision, scale)` from plain or exponent notation (`-12.5`, `.5`, `1.25e3`).
///
/// Extra fractional digits are rounded half away from zero to `scale` digits (as [`Decimal::rescale`] does);
/// a value needing more than `precision - scale` integer digits after rounding is an error, never truncated.
pub(crate) fn parse_decimal(text: &str, precision: u8, scale: u8) -> Result<Decimal, String> {
    let syntax = || "a decimal number".to_string();
    let too_wide = || {
        let int_digits = precision.saturating_sub(scale);
        format!("a number with at most {int_digits} digits before the decimal point")
    };
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (number, exponent) = match body.split_once(['e', 'E']) {
        Some((number, exp)) => (number, exp.parse::<i32>().map_err(|_| syntax())?),
        None => (body, 0),
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(syntax());
    }
    // The value is `digits * 10^(exponent - frac.len())`; the column wants `digits * 10^shift` as its mantissa.
    let digits: Vec<u8> = int
        .bytes()
        .chain(frac.bytes())
        .skip_while(|&b| b == b'0')
        .collect();
    let shift = i64::from(exponent) - frac.len() as i64 + i64::from(scale);
    let dropped = usize::try_from(-shift).unwrap_or(0);
    let kept = &digits[..digits.len().saturating_sub(dropped)];
    let mut mantissa: i128 = 0;
    for &d in kept {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(d - b'0')))
            .ok_or_else(too_wide)?;
    }
    if shift > 0 && mantissa != 0 {
        let factor = u32::try_from(shift)
            .ok()
            .and_then(|s| 10i128.checked_pow(s));
        mantissa = factor
            .and_then(|f| mantissa.checked_mul(f))
            .ok_or_else(too_wide)?;
    }
    // Round half away from zero on the first dropped digit (zero when every digit was dropped past it).
    let first_dropped = digits
        .len()
        .checked_sub(dropped)
        .and_then(|i| digits.get(i));
    if first_dropped.is_some_and(|&d| d >= b'5') {
        mantissa += 1;
    }
    let limit = 10i128
        .checked_pow(u32::from(precision))
        .unwrap_or(i128::MAX);
    if mantissa >= limit {
        return Err(too_wide());
    }
    Decimal::new(if negative { -mantissa } else { mantissa }, scale).map_err(|_| too_wide())
}

/// Bytes from hexadecimal text, two digits per byte, either case (CSV's spelling of binary values).
pub(crate) fn parse_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Bytes from standard base64, `=` padding optional (how Kafka Connect's JsonConverter spells binary values).
pub(crate) fn parse_base64(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    let sextet = |b: u8| -> Option<u32> {
        Some(u32::from(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            n |= sextet(b)? << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str, precision: u8, scale: u8) -> Result<String, String> {
        parse_decimal(text, precision, scale).map(|d| d.to_string())
    }

    #[test]
    fn integers_check_the_range_of_their_type() {
        assert_eq!(
            parse_int(&SqlType::TinyInt, "-128"),
            Ok(Value::TinyInt(-128))
        );
        assert_eq!(parse_int(&SqlType::BigInt, "+7"), Ok(Value::BigInt(7)));
        assert_eq!(
            parse_int(&SqlType::TinyInt, "128").unwrap_err(),
            "an integer from -128 to 127"
        );
        assert_eq!(
            parse_int(
                &SqlType::BigInt,
                "99999999999999999999999999999999999999999"
            )
            .unwrap_err(),
            "an integer from -9223372036854775808 to 9223372036854775807"
        );
        for bad in ["1.0", "1e3", "", "-", "ten", " 1"] {
            assert_eq!(
                parse_int(&SqlType::Int, bad).unwrap_err(),
                "an integer",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn decimals_rescale_round_half_away_from_zero_and_check_precision() {
        assert_eq!(dec("10.5", 10, 2).as_deref(), Ok("10.50"));
        assert_eq!(dec("-0.005", 10, 2).as_deref(), Ok("-0.01"));
        assert_eq!(dec("0.004", 10, 2).as_deref(), Ok("0.00"));
        assert_eq!(dec("1.25e3", 10, 2).as_deref(), Ok("1250.00"));
        assert_eq!(dec("125E-2", 10, 2).as_deref(), Ok("1.25"));
        assert_eq!(dec(".5", 10, 2).as_deref(), Ok("0.50"));
        assert_eq!(dec("0e999999", 10, 2).as_deref(), Ok("0.00"));
        assert_eq!(
            dec("99999999.995", 10, 2).unwrap_err(),
            "a number with at most 8 digits before the decimal point"
        );
        assert_eq!(
            dec("123456789", 10, 2).unwrap_err(),
            "a number with at most 8 digits before the decimal point"
        );
        assert_eq!(
            dec("1e40", 38, 0).unwrap_err(),
            "a number with at most 38 digits before the decimal point"
        );
        for bad in ["", ".", "1.2.3", "1e", "abc", "1,5", "--1"] {
            assert_eq!(dec(bad, 10, 2).unwrap_err(), "a decimal number", "{bad:?}");
        }
    }

    #[test]
    fn floats_parse_to_their_width_and_refuse_overflow() {
        assert_eq!(
            parse_float(&SqlType::Real, "0.1", false),
            Ok(Value::Real(F32(0.1)))
        );
        assert_eq!(
            parse_float(&SqlType::Double, "-0.0", false),
            Ok(Value::Double(F64(-0.0)))
        );
        assert_eq!(
            parse_float(&SqlType::Double, "1e400", false).unwrap_err(),
            "a number within the range of DOUBLE"
        );
        assert_eq!(
            parse_float(&SqlType::Double, "NaN", false).unwrap_err(),
            "a number"
        );
        assert!(
            matches!(parse_float(&SqlType::Double, "-inf", true), Ok(Value::Double(F64(f))) if f == f64::NEG_INFINITY)
        );
    }

    #[test]
    fn hex_and_base64() {
        assert_eq!(parse_hex("00aB1f"), Some(vec![0x00, 0xab, 0x1f]));
        assert_eq!(parse_hex("abc"), None);
        assert_eq!(parse_hex("zz"), None);
        assert_eq!(parse_base64("Zm9vYmFy"), Some(b"foobar".to_vec()));
        assert_eq!(parse_base64("Zg=="), Some(b"f".to_vec()));
        assert_eq!(parse_base64("Zm8"), Some(b"fo".to_vec()));
        assert_eq!(parse_base64("//4="), Some(vec![0xff, 0xfe]));
        assert_eq!(parse_base64(""), Some(vec![]));
        assert_eq!(parse_base64("Z"), None);
        assert_eq!(parse_base64("Zm9v!"), None);
    }
}
