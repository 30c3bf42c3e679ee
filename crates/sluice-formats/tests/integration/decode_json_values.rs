//! Per-type conversion of JSON values through the public API, with the exact error texts.

use sluice_data::{Decimal, Field, Relation, SqlType, Value, F32, F64};
use sluice_formats::build_parser;
use sluice_types::{FormatConfig, JsonEncoderConfig};

/// Parses `{"insert": {"c": <value>}}` into a one-column table of `ty`, giving the value or the error message.
fn value(ty: SqlType, nullable: bool, json: &str) -> Result<Value, String> {
    let table = Relation::new("t", vec![Field::new("c", ty, nullable)]);
    let input = format!(r#"{{"insert": {{"c": {json}}}}}"#);
    let format = FormatConfig::Json(JsonEncoderConfig::default());
    let mut parser = build_parser(&format, &table).unwrap();
    let mut out = Vec::new();
    let errors = parser.parse(input.as_bytes(), &mut out);
    match (out.as_slice(), errors.as_slice()) {
        ([(row, 1)], []) => Ok(row.0[0].clone()),
        ([], [e]) => Err(e.message.clone()),
        other => panic!("{other:?}"),
    }
}

/// The message `value` gives for a bad value in a NOT NULL column `c` of `ty`.
fn error(ty: SqlType, json: &str) -> String {
    value(ty, false, json).unwrap_err()
}

#[test]
fn null_and_booleans() {
    assert_eq!(value(SqlType::Boolean, true, "null"), Ok(Value::Null));
    assert_eq!(
        value(SqlType::Boolean, false, "true"),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        error(SqlType::Boolean, "null"),
        "table 't', record 1 at line 1: column 'c' (BOOLEAN NOT NULL): expected true or false, found null"
    );
    assert!(error(SqlType::Boolean, "1").ends_with("expected true or false, found 1"));
}

#[test]
fn integers_are_strict_and_name_their_range() {
    assert_eq!(
        value(SqlType::TinyInt, false, "-128"),
        Ok(Value::TinyInt(-128))
    );
    assert_eq!(
        value(SqlType::SmallInt, false, "300"),
        Ok(Value::SmallInt(300))
    );
    assert_eq!(value(SqlType::Int, false, "-7"), Ok(Value::Int(-7)));
    assert_eq!(
        value(SqlType::BigInt, false, "9223372036854775807"),
        Ok(Value::BigInt(i64::MAX))
    );
    assert_eq!(
        error(SqlType::BigInt, r#""ten""#),
        r#"table 't', record 1 at line 1: column 'c' (BIGINT NOT NULL): expected an integer, found "ten""#
    );
    assert!(error(SqlType::Int, r#""10""#).ends_with(r#"expected an integer, found "10""#));
    assert!(error(SqlType::Int, "1.0").ends_with("expected an integer, found 1.0"));
    assert!(error(SqlType::TinyInt, "128")
        .ends_with("(TINYINT NOT NULL): expected an integer from -128 to 127, found 128"));
    assert!(error(SqlType::SmallInt, "-40000")
        .ends_with("expected an integer from -32768 to 32767, found -40000"));
}

#[test]
fn floats_take_any_number_exactly() {
    assert_eq!(
        value(SqlType::Double, false, "0.1"),
        Ok(Value::Double(F64(0.1)))
    );
    assert_eq!(
        value(SqlType::Double, false, "1e20"),
        Ok(Value::Double(F64(1e20)))
    );
    assert_eq!(value(SqlType::Real, false, "3"), Ok(Value::Real(F32(3.0))));
    assert_eq!(
        value(SqlType::Real, false, "0.1"),
        Ok(Value::Real(F32(0.1)))
    );
    assert!(error(SqlType::Double, "1e400")
        .ends_with("(DOUBLE NOT NULL): expected a number within the range of DOUBLE, found 1e400"));
    assert!(error(SqlType::Real, r#""NaN""#).ends_with(r#"expected a number, found "NaN""#));
}

#[test]
fn decimals_from_numbers_or_strings_rescaled_to_the_column() {
    let ty = || SqlType::Decimal {
        precision: 10,
        scale: 2,
    };
    let d = |m: i128| Ok(Value::Decimal(Decimal::new(m, 2).unwrap()));
    assert_eq!(value(ty(), false, "10.5"), d(1050));
    assert_eq!(value(ty(), false, r#""10.5""#), d(1050));
    assert_eq!(value(ty(), false, "12345678.90"), d(1_234_567_890));
    assert_eq!(value(ty(), false, "1.005"), d(101), "half away from zero");
    assert_eq!(value(ty(), false, "-1.005"), d(-101));
    assert_eq!(value(ty(), false, "2e2"), d(20_000));
    assert_eq!(
        error(ty(), "123456789"),
        "table 't', record 1 at line 1: column 'c' (DECIMAL(10, 2) NOT NULL): expected a number with at most 8 \
         digits before the decimal point, found 123456789"
    );
    assert!(error(ty(), r#""1,5""#).ends_with(r#"expected a decimal number, found "1,5""#));
    assert!(error(ty(), "true").ends_with("expected a decimal number, found true"));
}

#[test]
fn strings_only_for_char_and_varchar() {
    assert_eq!(
        value(SqlType::varchar(), false, r#""a\"b\n\u00e9""#),
        Ok(Value::from("a\"b\né"))
    );
    assert_eq!(
        value(SqlType::Char { length: Some(1) }, false, r#""long""#),
        Ok(Value::from("long")),
        "lengths are not enforced"
    );
    assert!(
        error(SqlType::varchar(), "5").ends_with("(VARCHAR NOT NULL): expected a string, found 5")
    );
}

#[test]
fn dates_times_and_timestamps() {
    assert_eq!(
        value(SqlType::Date, false, r#""2023-09-28""#),
        Ok(Value::Date(19_628))
    );
    assert_eq!(
        value(SqlType::Time, false, r#""23:21:15.123""#),
        Ok(Value::Time(84_075_123_000_000))
    );
    let ts = Ok(Value::Timestamp(1_529_501_823_000_000));
    assert_eq!(
        value(SqlType::Timestamp, false, r#""2018-06-20 13:37:03""#),
        ts
    );
    assert_eq!(
        value(SqlType::Timestamp, false, r#""2018-06-20T13:37:03Z""#),
        ts
    );
    assert!(error(SqlType::Date, r#""2023-02-30""#)
        .ends_with(r#"(DATE NOT NULL): expected a date (YYYY-MM-DD), found "2023-02-30""#));
    assert!(error(SqlType::Date, "19628").ends_with("expected a date (YYYY-MM-DD), found 19628"));
    assert!(error(SqlType::Time, r#""24:00:00""#)
        .ends_with(r#"expected a time (HH:MM:SS[.fraction]), found "24:00:00""#));
    assert!(error(SqlType::Timestamp, r#""2018-06-20""#)
        .ends_with(r#"expected a timestamp (YYYY-MM-DD HH:MM:SS[.fraction]), found "2018-06-20""#));
}

#[test]
fn binary_from_byte_arrays_or_base64() {
    let ty = || SqlType::Varbinary { length: None };
    assert_eq!(
        value(ty(), false, "[1, 2, 255]"),
        Ok(Value::Bytes(vec![1, 2, 255]))
    );
    assert_eq!(
        value(ty(), false, r#""//4=""#),
        Ok(Value::Bytes(vec![0xff, 0xfe]))
    );
    assert!(error(ty(), "[1, 256]")
        .ends_with("(VARBINARY NOT NULL): byte 2: expected a byte value (0 to 255), found 256"));
    assert!(error(ty(), r#""!!""#).ends_with(
        r#"expected an array of byte values (0 to 255) or a base64 string, found "!!""#
    ));
}

#[test]
fn arrays_and_maps_convert_their_elements() {
    let array = SqlType::Array {
        element: Box::new(SqlType::Int),
        element_nullable: true,
    };
    assert_eq!(
        value(array.clone(), false, "[1, null]"),
        Ok(Value::Array(vec![Value::Int(1), Value::Null]))
    );
    assert!(error(array.clone(), r#"[1, "x"]"#)
        .ends_with(r#"(INT ARRAY NOT NULL): element 2: expected an integer, found "x""#));
    assert!(error(array, "{}").ends_with("expected a JSON array, found {}"));

    let map = SqlType::Map {
        key: Box::new(SqlType::Int),
        value: Box::new(SqlType::varchar()),
        value_nullable: false,
    };
    let expected = Value::Map(
        [
            (Value::Int(1), Value::from("a")),
            (Value::Int(2), Value::from("b")),
        ]
        .into(),
    );
    assert_eq!(
        value(map.clone(), false, r#"{"1": "a", "2": "b"}"#),
        Ok(expected)
    );
    assert!(
        error(map.clone(), r#"{"x": "a"}"#).ends_with(r#"key "x": expected an integer, found "x""#)
    );
    assert!(error(map, r#"{"1": null}"#).ends_with(r#"key "1": expected a string, found null"#));
}
