//! How SQL values are spelled in JSON in each [`JsonFlavor`].
//!
//! | type | `default` | `kafka_connect_json_converter` | `snowflake` |
//! |---|---|---|---|
//! | REAL, DOUBLE | shortest round-trip number; NaN and ±Inf are `null` | same | same |
//! | DECIMAL | exact number, trailing fractional zeros trimmed | the same text as a string | as string |
//! | DATE | `"2023-09-28"` | days since epoch | as default |
//! | TIME | `"23:21:15.123"` | ms since midnight | as default |
//! | TIMESTAMP | `"2018-06-20 13:37:03"` | ms since epoch | `"2018-06-20T13:37:03+00:00"` |
//! | BINARY | `[1,2,3]` | base64 string | as default |
//! | MAP | object; non-string keys as the string of their JSON text | string keys: object; else `[[k,v],...]` | as default |

use std::collections::BTreeMap;

use sluice_data::{Decimal, SqlType, Value};
use sluice_types::JsonFlavor;

use crate::error::Mismatch;
use crate::text::{write_base64, write_decimal, write_finite_float, write_int, write_json_string};
use crate::time::{timestamp_millis, write_date, write_time, write_timestamp};
use crate::visit::{write_value, ValueWriter};

/// Writes values as JSON in one flavor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JsonWriter {
    flavor: JsonFlavor,
}

impl JsonWriter {
    /// A writer for `flavor`.
    pub fn new(flavor: JsonFlavor) -> Self {
        JsonWriter { flavor }
    }

    /// Whether values follow Kafka Connect's JsonConverter (numeric times, base64 bytes, pair-list maps).
    fn kafka_connect(&self) -> bool {
        self.flavor == JsonFlavor::KafkaConnectJsonConverter
    }
}

impl ValueWriter for JsonWriter {
    fn null(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"null");
    }

    fn real(&self, out: &mut Vec<u8>, f: f32) {
        if !write_finite_float(out, f) {
            self.null(out);
        }
    }

    fn double(&self, out: &mut Vec<u8>, f: f64) {
        if !write_finite_float(out, f) {
            self.null(out);
        }
    }

    fn decimal(&self, out: &mut Vec<u8>, d: &Decimal) {
        if self.flavor == JsonFlavor::Default {
            write_decimal(out, d, true);
        } else {
            out.push(b'"');
            write_decimal(out, d, true);
            out.push(b'"');
        }
    }

    fn string(&self, out: &mut Vec<u8>, s: &str) {
        write_json_string(out, s);
    }

    fn date(&self, out: &mut Vec<u8>, days: i32) {
        if self.kafka_connect() {
            write_int(out, days);
        } else {
            out.push(b'"');
            write_date(out, i64::from(days));
            out.push(b'"');
        }
    }

    fn time(&self, out: &mut Vec<u8>, nanos: u64) {
        if self.kafka_connect() {
            write_int(out, nanos / 1_000_000);
        } else {
            out.push(b'"');
            write_time(out, nanos);
            out.push(b'"');
        }
    }

    fn timestamp(&self, out: &mut Vec<u8>, micros: i64) {
        match self.flavor {
            JsonFlavor::KafkaConnectJsonConverter => write_int(out, timestamp_millis(micros)),
            JsonFlavor::Snowflake => {
                out.push(b'"');
                write_timestamp(out, micros, b'T');
                out.extend_from_slice(b"+00:00\"");
            }
            JsonFlavor::Default => {
                out.push(b'"');
                write_timestamp(out, micros, b' ');
                out.push(b'"');
            }
        }
    }

    fn bytes(&self, out: &mut Vec<u8>, b: &[u8]) {
        if self.kafka_connect() {
            out.push(b'"');
            write_base64(out, b);
            out.push(b'"');
            return;
        }
        out.push(b'[');
        for (i, byte) in b.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_int(out, *byte);
        }
        out.push(b']');
    }

    /// Writes an `ARRAY` value, checking each element against `element`.
    fn array(
        &self,
        out: &mut Vec<u8>,
        items: &[Value],
        element: &SqlType,
        element_nullable: bool,
    ) -> Result<(), Mismatch> {
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_value(self, out, element, element_nullable, item)?;
        }
        out.push(b']');
        Ok(())
    }

    /// Writes a `MAP` value: an object, or for Kafka Connect with non-string keys an array of `[key,value]`
    /// pairs, which is how its JsonConverter reads such maps.
    fn map(
        &self,
        out: &mut Vec<u8>,
        entries: &BTreeMap<Value, Value>,
        key: &SqlType,
        value: &SqlType,
        value_nullable: bool,
    ) -> Result<(), Mismatch> {
        let string_keys = matches!(key, SqlType::Char { .. } | SqlType::Varchar { .. });
        let pairs = self.kafka_connect() && !string_keys;
        // Opening, entry start, key/value separator, entry end and closing punctuation.
        let [open, entry_open, between, entry_close, close]: [&[u8]; 5] = if pairs {
            [b"[", b"[", b",", b"]", b"]"]
        } else {
            [b"{", b"", b":", b"", b"}"]
        };
        out.extend_from_slice(open);
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(entry_open);
            let key_start = out.len();
            write_value(self, out, key, false, k)?;
            if !pairs && out[key_start] != b'"' {
                // A key whose JSON text is not a string (a number, `true`, an array) becomes that text as a string.
                let text = out.split_off(key_start);
                write_json_string(out, &String::from_utf8_lossy(&text));
            }
            out.extend_from_slice(between);
            write_value(self, out, value, value_nullable, v)?;
            out.extend_from_slice(entry_close);
        }
        out.extend_from_slice(close);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_data::{F32, F64};

    const FLAVORS: [JsonFlavor; 3] = [
        JsonFlavor::Default,
        JsonFlavor::KafkaConnectJsonConverter,
        JsonFlavor::Snowflake,
    ];

    /// Checks the text of `v` in the default, kafka_connect_json_converter and snowflake flavors.
    fn check(ty: SqlType, v: Value, expected: [&str; 3]) {
        for (flavor, expected) in FLAVORS.into_iter().zip(expected) {
            let mut out = Vec::new();
            write_value(&JsonWriter::new(flavor), &mut out, &ty, true, &v).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert_eq!(text, expected, "{ty:?} {v:?} in {flavor:?}");
            serde_json::from_str::<serde_json::Value>(&text).unwrap();
        }
    }

    fn same(ty: SqlType, v: Value, expected: &str) {
        check(ty, v, [expected; 3]);
    }

    fn dec(s: &str) -> Value {
        Value::Decimal(s.parse().unwrap())
    }

    #[test]
    fn scalars_in_every_flavor() {
        same(SqlType::Null, Value::Null, "null");
        same(SqlType::BigInt, Value::Null, "null");
        same(SqlType::Boolean, Value::Bool(true), "true");
        same(SqlType::Boolean, Value::Bool(false), "false");
        same(SqlType::TinyInt, Value::TinyInt(-5), "-5");
        same(SqlType::SmallInt, Value::SmallInt(300), "300");
        same(SqlType::Int, Value::Int(-70_000), "-70000");
        same(
            SqlType::BigInt,
            Value::BigInt(i64::MIN),
            "-9223372036854775808",
        );
        same(SqlType::Real, Value::Real(F32(0.1)), "0.1");
        same(SqlType::Real, Value::Real(F32(f32::NAN)), "null");
        same(SqlType::Double, Value::Double(F64(1e20)), "1e20");
        same(SqlType::Double, Value::Double(F64(-0.0)), "-0.0");
        same(SqlType::Double, Value::Double(F64(1.5e-7)), "1.5e-7");
        same(SqlType::Double, Value::Double(F64(f64::INFINITY)), "null");
        let decimal = SqlType::Decimal {
            precision: 10,
            scale: 2,
        };
        check(
            decimal.clone(),
            dec("10.50"),
            ["10.5", r#""10.5""#, r#""10.5""#],
        );
        check(
            decimal.clone(),
            dec("10000.00"),
            ["10000", r#""10000""#, r#""10000""#],
        );
        check(decimal, dec("-0.05"), ["-0.05", r#""-0.05""#, r#""-0.05""#]);
        same(
            SqlType::Char { length: Some(2) },
            Value::from("ab"),
            r#""ab""#,
        );
        same(
            SqlType::varchar(),
            Value::from("a\"b\\\n\u{1}"),
            r#""a\"b\\\n\u0001""#,
        );
    }

    #[test]
    fn dates_times_and_timestamps_in_every_flavor() {
        check(
            SqlType::Date,
            Value::Date(19_628),
            [r#""2023-09-28""#, "19628", r#""2023-09-28""#],
        );
        check(
            SqlType::Date,
            Value::Date(-1),
            [r#""1969-12-31""#, "-1", r#""1969-12-31""#],
        );
        let time = Value::Time(84_075_123_000_000);
        check(
            SqlType::Time,
            time,
            [r#""23:21:15.123""#, "84075123", r#""23:21:15.123""#],
        );
        let time = Value::Time(1_000_000_001);
        check(
            SqlType::Time,
            time,
            [r#""00:00:01.000000001""#, "1000", r#""00:00:01.000000001""#],
        );
        let ts = Value::Timestamp(1_529_501_823_000_000);
        let expected = [
            r#""2018-06-20 13:37:03""#,
            "1529501823000",
            r#""2018-06-20T13:37:03+00:00""#,
        ];
        check(SqlType::Timestamp, ts, expected);
        let ts = Value::Timestamp(-1);
        let expected = [
            r#""1969-12-31 23:59:59.999999""#,
            "-1",
            r#""1969-12-31T23:59:59.999999+00:00""#,
        ];
        check(SqlType::Timestamp, ts, expected);
    }

    #[test]
    fn binary_in_every_flavor() {
        let binary = SqlType::Binary { length: Some(3) };
        check(
            binary,
            Value::Bytes(vec![1, 2, 255]),
            ["[1,2,255]", r#""AQL/""#, "[1,2,255]"],
        );
        let varbinary = SqlType::Varbinary { length: None };
        check(varbinary, Value::Bytes(vec![]), ["[]", r#""""#, "[]"]);
    }

    #[test]
    fn arrays_and_maps_in_every_flavor() {
        let array = SqlType::Array {
            element: Box::new(SqlType::Date),
            element_nullable: true,
        };
        let v = Value::Array(vec![Value::Date(0), Value::Null]);
        check(
            array,
            v,
            [
                r#"["1970-01-01",null]"#,
                "[0,null]",
                r#"["1970-01-01",null]"#,
            ],
        );
        let map = |key: SqlType, value: SqlType| SqlType::Map {
            key: Box::new(key),
            value: Box::new(value),
            value_nullable: true,
        };
        let entries = |pairs: Vec<(Value, Value)>| Value::Map(pairs.into_iter().collect());
        let v = entries(vec![
            ("a".into(), Value::Int(1)),
            ("b\"".into(), Value::Null),
        ]);
        same(
            map(SqlType::varchar(), SqlType::Int),
            v,
            r#"{"a":1,"b\"":null}"#,
        );
        let v = entries(vec![
            (Value::Int(1), "x".into()),
            (Value::Int(2), "y".into()),
        ]);
        let expected = [
            r#"{"1":"x","2":"y"}"#,
            r#"[[1,"x"],[2,"y"]]"#,
            r#"{"1":"x","2":"y"}"#,
        ];
        check(map(SqlType::Int, SqlType::varchar()), v, expected);
        let v = entries(vec![(Value::Date(19_628), Value::Bool(true))]);
        let expected = [
            r#"{"2023-09-28":true}"#,
            "[[19628,true]]",
            r#"{"2023-09-28":true}"#,
        ];
        check(map(SqlType::Date, SqlType::Boolean), v, expected);
        let strings = SqlType::Array {
            element: Box::new(SqlType::varchar()),
            element_nullable: false,
        };
        let v = entries(vec![(Value::Array(vec!["q\"".into()]), Value::Int(1))]);
        let expected = [
            r#"{"[\"q\\\"\"]":1}"#,
            r#"[[["q\""],1]]"#,
            r#"{"[\"q\\\"\"]":1}"#,
        ];
        check(map(strings, SqlType::Int), v, expected);
    }
}

#[cfg(test)]
mod checks {
    //! The type checks of `crate::visit` (there, no writer exists to run them with).
    use super::*;
    use crate::time::NANOS_PER_DAY;
    use crate::visit::{check_arity, write_column};
    use sluice_data::{Field, Row, F64};

    fn write(ty: &SqlType, nullable: bool, v: &Value) -> Result<String, Mismatch> {
        let mut out = Vec::new();
        write_value(
            &JsonWriter::new(JsonFlavor::Default),
            &mut out,
            ty,
            nullable,
            v,
        )?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn null_is_accepted_only_where_nullable() {
        assert_eq!(write(&SqlType::BigInt, true, &Value::Null).unwrap(), "null");
        assert_eq!(write(&SqlType::Null, false, &Value::Null).unwrap(), "null");
        let err = write(&SqlType::BigInt, false, &Value::Null).unwrap_err();
        assert_eq!(err.expected, "BIGINT NOT NULL");
        assert_eq!(err.found, "NULL");
    }

    #[test]
    fn variants_must_match_the_type_also_inside_arrays_and_maps() {
        let err = write(&SqlType::Int, false, &Value::BigInt(1)).unwrap_err();
        assert_eq!((err.expected.as_str(), err.found), ("INT", "a BIGINT"));
        let array = SqlType::Array {
            element: Box::new(SqlType::Double),
            element_nullable: false,
        };
        let v = Value::Array(vec![Value::Double(F64(1.0)), Value::from("x")]);
        let err = write(&array, false, &v).unwrap_err();
        assert_eq!((err.expected.as_str(), err.found), ("DOUBLE", "a string"));
        let v = Value::Array(vec![Value::Null]);
        assert_eq!(
            write(&array, false, &v).unwrap_err().expected,
            "DOUBLE NOT NULL"
        );
    }

    #[test]
    fn a_time_of_a_day_or_more_is_refused() {
        let err = write(&SqlType::Time, false, &Value::Time(NANOS_PER_DAY)).unwrap_err();
        assert_eq!(err.found, "a TIME of 24 hours or more");
    }

    #[test]
    fn row_arity_is_checked() {
        let field = Field::new("a", SqlType::Int, false);
        let long = Row(vec![Value::Int(1), Value::Int(2)]);
        let (column, err) = check_arity(&long, 1).unwrap_err();
        assert_eq!((column.as_str(), err.found), ("#2", "an extra value"));
        let short = Row(vec![]);
        assert!(check_arity(&short, 1).is_ok());
        let writer = JsonWriter::new(JsonFlavor::Default);
        let err = write_column(&writer, &mut Vec::new(), &short, 0, &field).unwrap_err();
        assert_eq!(err.found, "no value (the row is too short)");
    }
}
