//! Kafka Connect schemas for the Debezium update format, as Kafka Connect's JsonConverter reads them.
//!
//! A schema object lists its members in JsonConverter's own order: `type`, then `items` (arrays), `keys` and
//! `values` (maps) or `fields` (structs), then `optional`, `name` (logical types and named structs) and, for a
//! struct member, `field`. The record struct carries no name; the key struct is named `Key` and the envelope
//! `Envelope`, whose `before` and `after` members are optional structs of the view's columns and `op` a string.
//!
//! Type mapping: BOOLEAN boolean, TINYINT int8, SMALLINT int16, INT int32, BIGINT int64, REAL float, DOUBLE
//! double, DECIMAL and CHAR/VARCHAR string, DATE int32 `org.apache.kafka.connect.data.Date`, TIME int32 (ms)
//! `org.apache.kafka.connect.data.Time`, TIMESTAMP int64 (ms) `org.apache.kafka.connect.data.Timestamp`,
//! BINARY/VARBINARY bytes, ARRAY array, MAP map; the type of a bare NULL is an optional string.

use sluice_data::{Field, SqlType};

use crate::text::write_json_string;

/// Appends the schema of a value of type `ty`; `field` names it as a struct member.
fn write_schema(out: &mut Vec<u8>, ty: &SqlType, optional: bool, field: Option<&str>) {
    let (type_name, logical_name) = match ty {
        SqlType::Boolean => ("boolean", None),
        SqlType::TinyInt => ("int8", None),
        SqlType::SmallInt => ("int16", None),
        SqlType::Int => ("int32", None),
        SqlType::BigInt => ("int64", None),
        SqlType::Real => ("float", None),
        SqlType::Double => ("double", None),
        SqlType::Decimal { .. }
        | SqlType::Char { .. }
        | SqlType::Varchar { .. }
        | SqlType::Null => ("string", None),
        SqlType::Date => ("int32", Some("org.apache.kafka.connect.data.Date")),
        SqlType::Time => ("int32", Some("org.apache.kafka.connect.data.Time")),
        SqlType::Timestamp => ("int64", Some("org.apache.kafka.connect.data.Timestamp")),
        SqlType::Binary { .. } | SqlType::Varbinary { .. } => ("bytes", None),
        SqlType::Array { .. } => ("array", None),
        SqlType::Map { .. } => ("map", None),
    };
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(type_name.as_bytes());
    out.push(b'"');
    match ty {
        SqlType::Array {
            element,
            element_nullable,
        } => {
            out.extend_from_slice(b",\"items\":");
            write_schema(out, element, *element_nullable, None);
        }
        SqlType::Map {
            key,
            value,
            value_nullable,
        } => {
            out.extend_from_slice(b",\"keys\":");
            write_schema(out, key, false, None);
            out.extend_from_slice(b",\"values\":");
            write_schema(out, value, *value_nullable, None);
        }
        _ => {}
    }
    write_tail(out, optional || *ty == SqlType::Null, logical_name, field);
}

/// Appends `,"optional":..`, the optional `name` and `field`, and the closing brace.
fn write_tail(out: &mut Vec<u8>, optional: bool, name: Option<&str>, field: Option<&str>) {
    out.extend_from_slice(if optional {
        b",\"optional\":true"
    } else {
        b",\"optional\":false"
    });
    if let Some(name) = name {
        out.extend_from_slice(b",\"name\":");
        write_json_string(out, name);
    }
    if let Some(field) = field {
        out.extend_from_slice(b",\"field\":");
        write_json_string(out, field);
    }
    out.push(b'}');
}

/// Appends a struct schema whose members `members` writes, comma-separated.
fn write_struct(
    out: &mut Vec<u8>,
    members: impl FnOnce(&mut Vec<u8>),
    optional: bool,
    name: Option<&str>,
    field: Option<&str>,
) {
    out.extend_from_slice(b"{\"type\":\"struct\",\"fields\":[");
    members(out);
    out.push(b']');
    write_tail(out, optional, name, field);
}

/// Appends the schemas of `fields` as struct members, comma-separated.
fn write_members<'f>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'f Field>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_schema(out, &f.sql_type, f.nullable, Some(&f.name));
    }
}

/// The schema of the message key: a struct named `Key` of the key columns.
pub(crate) fn key_schema<'f>(key_fields: impl IntoIterator<Item = &'f Field>) -> Vec<u8> {
    let mut out = Vec::new();
    write_struct(
        &mut out,
        |o| write_members(o, key_fields),
        false,
        Some("Key"),
        None,
    );
    out
}

/// The members of the `source` block, in the order the encoder writes them: (name, type, optional).
pub(crate) const SOURCE_MEMBERS: [(&str, SqlType, bool); 8] = [
    ("version", SqlType::Varchar { length: None }, false),
    ("connector", SqlType::Varchar { length: None }, false),
    ("name", SqlType::Varchar { length: None }, false),
    ("ts_ms", SqlType::BigInt, false),
    ("snapshot", SqlType::Varchar { length: None }, true),
    ("db", SqlType::Varchar { length: None }, false),
    ("table", SqlType::Varchar { length: None }, false),
    ("step", SqlType::BigInt, false),
];

/// The schema of the message value: the `Envelope` struct with `before`, `after`, `source` (the `sluice.Source`
/// struct), `op` and an optional `ts_ms`, as Debezium's connectors lay it out.
pub(crate) fn envelope_schema(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    let source = |o: &mut Vec<u8>| {
        for (i, (name, ty, optional)) in SOURCE_MEMBERS.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            write_schema(o, ty, *optional, Some(name));
        }
    };
    let members = |o: &mut Vec<u8>| {
        write_struct(o, |o| write_members(o, fields), true, None, Some("before"));
        o.push(b',');
        write_struct(o, |o| write_members(o, fields), true, None, Some("after"));
        o.push(b',');
        write_struct(o, source, false, Some("sluice.Source"), Some("source"));
        o.push(b',');
        write_schema(o, &SqlType::varchar(), false, Some("op"));
        o.push(b',');
        write_schema(o, &SqlType::BigInt, true, Some("ts_ms"));
    };
    write_struct(&mut out, members, false, Some("Envelope"), None);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    fn one(ty: SqlType, nullable: bool) -> String {
        let mut out = Vec::new();
        write_schema(&mut out, &ty, nullable, Some("c"));
        text(out)
    }

    #[test]
    fn scalar_types_map_to_kafka_connect_types() {
        let decimal = SqlType::Decimal {
            precision: 10,
            scale: 2,
        };
        let logical = |name: &str| Some(format!("org.apache.kafka.connect.data.{name}"));
        let cases = [
            (SqlType::Boolean, "boolean", None),
            (SqlType::TinyInt, "int8", None),
            (SqlType::SmallInt, "int16", None),
            (SqlType::Int, "int32", None),
            (SqlType::BigInt, "int64", None),
            (SqlType::Real, "float", None),
            (SqlType::Double, "double", None),
            (decimal, "string", None),
            (SqlType::Char { length: Some(3) }, "string", None),
            (SqlType::varchar(), "string", None),
            (SqlType::Date, "int32", logical("Date")),
            (SqlType::Time, "int32", logical("Time")),
            (SqlType::Timestamp, "int64", logical("Timestamp")),
            (SqlType::Binary { length: Some(4) }, "bytes", None),
            (SqlType::Varbinary { length: None }, "bytes", None),
        ];
        for (ty, type_name, name) in cases {
            let name = name.map_or(String::new(), |n| format!(r#","name":"{n}""#));
            let expected =
                format!(r#"{{"type":"{type_name}","optional":false{name},"field":"c"}}"#);
            assert_eq!(one(ty.clone(), false), expected, "{ty:?}");
        }
        assert_eq!(
            one(SqlType::Time, true),
            r#"{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Time","field":"c"}"#
        );
        // The type of a bare NULL is optional whatever the column says.
        assert_eq!(
            one(SqlType::Null, false),
            r#"{"type":"string","optional":true,"field":"c"}"#
        );
    }

    #[test]
    fn arrays_and_maps_nest_their_element_schemas() {
        let array = SqlType::Array {
            element: Box::new(SqlType::Int),
            element_nullable: true,
        };
        assert_eq!(
            one(array, false),
            r#"{"type":"array","items":{"type":"int32","optional":true},"optional":false,"field":"c"}"#
        );
        let map = SqlType::Map {
            key: Box::new(SqlType::varchar()),
            value: Box::new(SqlType::Date),
            value_nullable: false,
        };
        assert_eq!(
            one(map, true),
            concat!(
                r#"{"type":"map","keys":{"type":"string","optional":false},"#,
                r#""values":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date"},"#,
                r#""optional":true,"field":"c"}"#
            )
        );
    }

    #[test]
    fn key_and_envelope_schemas() {
        let fields = vec![
            Field::new("id", SqlType::BigInt, false),
            Field::new("s", SqlType::varchar(), true),
        ];
        let members = r#"{"type":"int64","optional":false,"field":"id"},{"type":"string","optional":true,"field":"s"}"#;
        assert_eq!(
            text(key_schema(&fields[..1])),
            r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false,"name":"Key"}"#
        );
        let expected = format!(
            concat!(
                r#"{{"type":"struct","fields":["#,
                r#"{{"type":"struct","fields":[{m}],"optional":true,"field":"before"}},"#,
                r#"{{"type":"struct","fields":[{m}],"optional":true,"field":"after"}},"#,
                r#"{{"type":"struct","fields":[{source}],"optional":false,"name":"sluice.Source","field":"source"}},"#,
                r#"{{"type":"string","optional":false,"field":"op"}},"#,
                r#"{{"type":"int64","optional":true,"field":"ts_ms"}}],"optional":false,"name":"Envelope"}}"#
            ),
            m = members,
            source = concat!(
                r#"{"type":"string","optional":false,"field":"version"},"#,
                r#"{"type":"string","optional":false,"field":"connector"},"#,
                r#"{"type":"string","optional":false,"field":"name"},"#,
                r#"{"type":"int64","optional":false,"field":"ts_ms"},"#,
                r#"{"type":"string","optional":true,"field":"snapshot"},"#,
                r#"{"type":"string","optional":false,"field":"db"},"#,
                r#"{"type":"string","optional":false,"field":"table"},"#,
                r#"{"type":"int64","optional":false,"field":"step"}"#
            )
        );
        assert_eq!(text(envelope_schema(&fields)), expected);
        let parsed: serde_json::Value = serde_json::from_str(&expected).unwrap();
        assert_eq!(parsed["fields"][0]["fields"][1]["field"], "s");
    }
}
