//! Converting one JSON value, given as its exact text, to the [`Value`] of a SQL type (the `default` flavor).
//!
//! Values arrive as `serde_json::value::RawValue` text rather than as `serde_json::Value`, so that numbers are
//! read from their digits: DECIMAL keeps every digit and floats round exactly once, to the column's width.
//! The rules, strict where a guess could silently change data:
//! - `null` is NULL (an error in a NOT NULL position);
//! - integers must be JSON integers in the type's range (`1.0` and `"1"` are refused);
//! - REAL/DOUBLE take any JSON number; DECIMAL a number or a string of one;
//! - CHAR/VARCHAR take strings only, and declared lengths are not enforced;
//! - DATE/TIME/TIMESTAMP take the strings the encoder writes (see `temporal`);
//! - BINARY/VARBINARY take an array of byte values or a base64 string;
//! - ARRAY takes an array, MAP an object whose keys are the key type's text.
//!
//! [`parse_text`], a value from its text form (a CSV field, a JSON map key), lives here too: an ARRAY or MAP in
//! text form is JSON, and a JSON map's keys are text, so the two recurse into each other.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_data::{SqlType, Value};

use super::temporal::{parse_date, parse_time, parse_timestamp};
use super::text::{
    clip, describe, expected, parse_base64, parse_decimal, parse_float, parse_hex, parse_int,
    quoted,
};

/// How the JSON parser spells what a binary value should look like.
const BINARY: &str = "an array of byte values (0 to 255) or a base64 string";

/// The members of a JSON object in document order, borrowing keys that need no unescaping.
pub(crate) struct Members<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

/// An object key, borrowed when the input allows.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some((Key(k), v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    members.push((k, v));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// The members of the object `raw`, or the "expected an object" detail when it is not one.
pub(crate) fn members<'a>(raw: &'a str, what: &str) -> Result<Members<'a>, String> {
    if !raw.starts_with('{') {
        return Err(expected(what, &clip(raw)));
    }
    // `raw` is a complete JSON value already, so this cannot fail on syntax.
    serde_json::from_str(raw).map_err(|e| expected(what, &format!("{} ({e})", clip(raw))))
}

/// The elements of the array `raw`, or the "expected an array" detail when it is not one.
fn elements<'a>(raw: &'a str, what: &str) -> Result<Vec<&'a RawValue>, String> {
    if !raw.starts_with('[') {
        return Err(expected(what, &clip(raw)));
    }
    serde_json::from_str(raw).map_err(|e| expected(what, &format!("{} ({e})", clip(raw))))
}

/// The text of the JSON string `raw`, or `None` when `raw` is not a string.
fn string(raw: &str) -> Option<String> {
    raw.starts_with('"')
        .then(|| serde_json::from_str(raw).ok())
        .flatten()
}

/// Whether `raw` is a JSON number.
fn is_number(raw: &str) -> bool {
    raw.starts_with(|c: char| c == '-' || c.is_ascii_digit())
}

/// Converts the JSON text `raw` to a value of `ty`; `nullable` says whether `null` is allowed here. The error is
/// the detail ("expected an integer, found \"ten\""), which the caller prefixes with the column.
pub(crate) fn convert(raw: &str, ty: &SqlType, nullable: bool) -> Result<Value, String> {
    let mismatch = |what: String| expected(&what, &clip(raw));
    if raw == "null" {
        return if nullable || *ty == SqlType::Null {
            Ok(Value::Null)
        } else {
            Err(mismatch(describe(ty, BINARY)))
        };
    }
    let text = string(raw);
    let value = match ty {
        SqlType::Boolean if raw == "true" => Ok(Value::Bool(true)),
        SqlType::Boolean if raw == "false" => Ok(Value::Bool(false)),
        SqlType::TinyInt | SqlType::SmallInt | SqlType::Int | SqlType::BigInt if is_number(raw) => {
            parse_int(ty, raw)
        }
        SqlType::Real | SqlType::Double if is_number(raw) => parse_float(ty, raw, false),
        SqlType::Decimal { precision, scale } if is_number(raw) || text.is_some() => {
            let digits = text.as_deref().map_or(raw, str::trim);
            parse_decimal(digits, *precision, *scale).map(Value::Decimal)
        }
        SqlType::Char { .. } | SqlType::Varchar { .. } if text.is_some() => {
            return Ok(Value::String(text.unwrap_or_default()));
        }
        SqlType::Date | SqlType::Time | SqlType::Timestamp if text.is_some() => {
            return parse_text(ty, text.as_deref().unwrap_or_default())
                .map_err(|_| mismatch(describe(ty, BINARY)));
        }
        SqlType::Binary { .. } | SqlType::Varbinary { .. } => return bytes(raw, text.as_deref()),
        SqlType::Array {
            element,
            element_nullable,
        } => return array(raw, element, *element_nullable),
        SqlType::Map {
            key,
            value,
            value_nullable,
        } => return map(raw, key, value, *value_nullable),
        _ => Err(describe(ty, BINARY)),
    };
    value.map_err(mismatch)
}

/// Converts the JSON text of a whole value, which may not be valid JSON (a CSV field holding an ARRAY or MAP).
pub(crate) fn convert_text(text: &str, ty: &SqlType) -> Result<Value, String> {
    match serde_json::from_str::<&RawValue>(text) {
        Ok(raw) => convert(raw.get(), ty, false),
        Err(e) => Err(expected(
            &describe(ty, BINARY),
            &format!("{:?} (malformed JSON: {e})", clip(text)),
        )),
    }
}

/// A value of `ty` from its text form as the CSV encoder writes it (and as JSON writes non-string map keys).
///
/// Strings are taken verbatim; other types ignore surrounding blanks. ARRAY and MAP values are their
/// `default`-flavor JSON text. The error is the whole detail, "expected …, found …".
pub(crate) fn parse_text(ty: &SqlType, text: &str) -> Result<Value, String> {
    let t = text.trim();
    let checked = |v: Option<Value>| v.ok_or_else(|| describe(ty, ""));
    let value = match ty {
        SqlType::Char { .. } | SqlType::Varchar { .. } => Ok(Value::String(text.to_string())),
        SqlType::Boolean if t.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        SqlType::Boolean if t.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        SqlType::TinyInt | SqlType::SmallInt | SqlType::Int | SqlType::BigInt => parse_int(ty, t),
        SqlType::Real | SqlType::Double => parse_float(ty, t, true),
        SqlType::Decimal { precision, scale } => {
            parse_decimal(t, *precision, *scale).map(Value::Decimal)
        }
        SqlType::Date => checked(parse_date(t).map(Value::Date)),
        SqlType::Time => checked(parse_time(t).map(Value::Time)),
        SqlType::Timestamp => checked(parse_timestamp(t).map(Value::Timestamp)),
        SqlType::Binary { .. } | SqlType::Varbinary { .. } => parse_hex(t)
            .map(Value::Bytes)
            .ok_or_else(|| "hexadecimal digits, two per byte".into()),
        SqlType::Array { .. } | SqlType::Map { .. } => return convert_text(t, ty),
        SqlType::Boolean | SqlType::Null => Err(describe(ty, "")),
    };
    value.map_err(|what| expected(&what, &quoted(text)))
}

/// `BINARY`/`VARBINARY`: an array of byte values (the `default` flavor) or a base64 string.
fn bytes(raw: &str, text: Option<&str>) -> Result<Value, String> {
    if let Some(text) = text {
        return parse_base64(text)
            .map(Value::Bytes)
            .ok_or_else(|| expected(BINARY, &clip(raw)));
    }
    let items = elements(raw, BINARY)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let byte = item.get().parse::<u8>().map_err(|_| {
            format!(
                "byte {}: {}",
                i + 1,
                expected("a byte value (0 to 255)", &clip(item.get()))
            )
        })?;
        out.push(byte);
    }
    Ok(Value::Bytes(out))
}

/// `T ARRAY`: each element converted to `element`, errors naming the element by its 1-based position.
fn array(raw: &str, element: &SqlType, element_nullable: bool) -> Result<Value, String> {
    let items = elements(raw, "a JSON array")?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            convert(item.get(), element, element_nullable)
                .map_err(|e| format!("element {}: {e}", i + 1))
        })
        .collect::<Result<_, _>>()
        .map(Value::Array)
}

/// `MAP<K, V>`: an object. Keys are the key type's text: strings, dates and times as written, other types as the
/// text of their JSON value (`"1"`, `"true"`, `"[1,2]"`), which is how the encoder writes non-string keys.
fn map(raw: &str, key: &SqlType, value: &SqlType, value_nullable: bool) -> Result<Value, String> {
    let members = members(raw, "a JSON object")?;
    let mut entries = BTreeMap::new();
    for (k, v) in members.0 {
        let key_value = match key {
            SqlType::Binary { .. }
            | SqlType::Varbinary { .. }
            | SqlType::Array { .. }
            | SqlType::Map { .. } => convert_text(&k, key),
            _ => parse_text(key, &k),
        }
        .map_err(|e| format!("key {:?}: {e}", clip(&k)))?;
        let v = convert(v.get(), value, value_nullable)
            .map_err(|e| format!("key {:?}: {e}", clip(&k)))?;
        entries.insert(key_value, v);
    }
    Ok(Value::Map(entries))
}

#[cfg(test)]
mod tests {
    use super::super::text::MAX_FOUND_CHARS;
    use super::*;

    #[test]
    fn text_errors_quote_the_field() {
        assert_eq!(
            parse_text(&SqlType::BigInt, "ten").unwrap_err(),
            r#"expected an integer, found "ten""#
        );
        assert_eq!(
            parse_text(&SqlType::Date, "2023-02-30").unwrap_err(),
            r#"expected a date (YYYY-MM-DD), found "2023-02-30""#
        );
        assert_eq!(
            parse_text(&SqlType::Boolean, " TRUE "),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            parse_text(&SqlType::varchar(), " x "),
            Ok(Value::from(" x "))
        );
        let long = "x".repeat(100);
        let clipped = format!("\"{}...\"", "x".repeat(MAX_FOUND_CHARS));
        assert_eq!(
            parse_text(&SqlType::Int, &long).unwrap_err(),
            format!("expected an integer, found {clipped}")
        );
    }
}
