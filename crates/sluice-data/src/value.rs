//! Dynamic values and rows.
//!
//! Every SQL value Sluice handles at run time is a [`Value`]. Values are totally ordered and hashable (floats
//! through [`F32`]/[`F64`], which order by IEEE `totalOrder`), because the engine keeps them in ordered Z-sets.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Decimal;

macro_rules! total_float {
    ($name:ident, $t:ty, $doc:literal) => {
        #[doc = $doc]
        ///
        /// Equality and order follow IEEE 754 `totalOrder`, so NaN equals itself and `-0.0 < 0.0`: a Z-set needs a
        /// total order, and a row must always compare equal to itself.
        ///
        /// Serialized as a plain number when finite and as the string `"NaN"`, `"Infinity"` or `"-Infinity"`
        /// otherwise: JSON has no number for those, and serde_json would write `null` and then fail to read it back.
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name(pub $t);

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let x = self.0;
                if x.is_finite() {
                    x.serialize(s)
                } else if x.is_nan() {
                    s.serialize_str("NaN")
                } else if x > 0.0 {
                    s.serialize_str("Infinity")
                } else {
                    s.serialize_str("-Infinity")
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
                    }
                    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<$t, E> {
                        Ok(v as $t)
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$t, E> {
                        Ok(v as $t)
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$t, E> {
                        Ok(v as $t)
                    }
                    // serde_json with `arbitrary_precision` (which another crate of the build may enable)
                    // hands a number to `deserialize_any` as a one-entry map holding its text.
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$t, A::Error> {
                        let (_, text) = map
                            .next_entry::<String, String>()?
                            .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                        text.parse().map_err(|_| {
                            serde::de::Error::invalid_value(
                                serde::de::Unexpected::Str(&text),
                                &self,
                            )
                        })
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$t, E> {
                        match v {
                            "NaN" => Ok(<$t>::NAN),
                            "Infinity" => Ok(<$t>::INFINITY),
                            "-Infinity" => Ok(<$t>::NEG_INFINITY),
                            other => {
                                Err(E::invalid_value(serde::de::Unexpected::Str(other), &self))
                            }
                        }
                    }
                }
                d.deserialize_any(V).map($name)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.total_cmp(&other.0).is_eq()
            }
        }
        impl Eq for $name {}
        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.0.total_cmp(&other.0)
            }
        }
        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.to_bits().hash(state)
            }
        }
    };
}

total_float!(F32, f32, "A `REAL` value.");
total_float!(F64, f64, "A `DOUBLE` value.");

/// One SQL value.
///
/// The variant must match the column's [`crate::SqlType`]; [`Value::Null`] is allowed in nullable columns only.
/// Producers (the engine, the parsers) guarantee this; encoders report a mismatch as an error rather than guess.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Value {
    /// SQL NULL.
    #[default]
    Null,
    /// `BOOLEAN`.
    Bool(bool),
    /// `TINYINT`.
    TinyInt(i8),
    /// `SMALLINT`.
    SmallInt(i16),
    /// `INT`.
    Int(i32),
    /// `BIGINT`.
    BigInt(i64),
    /// `REAL`.
    Real(F32),
    /// `DOUBLE`.
    Double(F64),
    /// `DECIMAL(p, s)`.
    Decimal(Decimal),
    /// `CHAR` and `VARCHAR`.
    String(String),
    /// `DATE`: days since 1970-01-01 (negative before).
    Date(i32),
    /// `TIME`: nanoseconds since midnight, below 86,400,000,000,000.
    Time(u64),
    /// `TIMESTAMP`: microseconds since 1970-01-01 00:00:00 (negative before), no zone.
    Timestamp(i64),
    /// `BINARY` and `VARBINARY`.
    Bytes(Vec<u8>),
    /// `ARRAY`.
    Array(Vec<Value>),
    /// `MAP`, ordered by key.
    Map(BTreeMap<Value, Value>),
}

impl Value {
    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short name of the variant, for error messages ("expected BIGINT, found a string").
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "a boolean",
            Value::TinyInt(_) => "a TINYINT",
            Value::SmallInt(_) => "a SMALLINT",
            Value::Int(_) => "an INT",
            Value::BigInt(_) => "a BIGINT",
            Value::Real(_) => "a REAL",
            Value::Double(_) => "a DOUBLE",
            Value::Decimal(_) => "a DECIMAL",
            Value::String(_) => "a string",
            Value::Date(_) => "a DATE",
            Value::Time(_) => "a TIME",
            Value::Timestamp(_) => "a TIMESTAMP",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "an ARRAY",
            Value::Map(_) => "a MAP",
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::BigInt(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(F64(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl From<Decimal> for Value {
    fn from(v: Decimal) -> Self {
        Value::Decimal(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A row: one value per column of its relation, in column order.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// A row of the given values.
    pub fn new(values: Vec<Value>) -> Self {
        Row(values)
    }

    /// The values in column order.
    pub fn values(&self) -> &[Value] {
        &self.0
    }
}

impl fmt::Display for Row {
    /// A compact, human-readable form for error messages: `(1, 'foo', NULL)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match v {
                Value::Null => f.write_str("NULL")?,
                Value::Bool(b) => write!(f, "{b}")?,
                Value::TinyInt(x) => write!(f, "{x}")?,
                Value::SmallInt(x) => write!(f, "{x}")?,
                Value::Int(x) => write!(f, "{x}")?,
                Value::BigInt(x) => write!(f, "{x}")?,
                Value::Real(x) => write!(f, "{}", x.0)?,
                Value::Double(x) => write!(f, "{}", x.0)?,
                Value::Decimal(d) => write!(f, "{d}")?,
                Value::String(s) => write!(f, "'{}'", s.replace('\'', "''"))?,
                other => write!(f, "{other:?}")?,
            }
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_equals_itself_and_negative_zero_sorts_first() {
        assert_eq!(F64(f64::NAN), F64(f64::NAN));
        assert!(F64(-0.0) < F64(0.0));
        assert_ne!(F64(-0.0), F64(0.0));
    }

    #[test]
    fn non_finite_floats_survive_json() {
        let values = vec![
            Value::Double(F64(f64::NAN)),
            Value::Double(F64(f64::INFINITY)),
            Value::Real(F32(f32::NEG_INFINITY)),
            Value::Double(F64(-0.5)),
            Value::Real(F32(2.0)),
        ];
        let text = serde_json::to_string(&values).unwrap();
        assert_eq!(
            text,
            r#"[{"Double":"NaN"},{"Double":"Infinity"},{"Real":"-Infinity"},{"Double":-0.5},{"Real":2.0}]"#
        );
        let back: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, values);
    }

    #[test]
    fn a_value_takes_four_words() {
        // Rows are vectors of values: every byte here is paid once per column of every stored row.
        assert_eq!(std::mem::size_of::<Value>(), 32);
    }

    #[test]
    fn row_display_quotes_strings_and_shows_null() {
        let row = Row(vec![Value::Int(1), Value::from("it's"), Value::Null]);
        assert_eq!(row.to_string(), "(1, 'it''s', NULL)");
    }
}
