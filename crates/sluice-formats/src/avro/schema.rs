//! Avro schemas of a view: generated from its SQL columns, or given by the user and checked against them; either
//! way reduced to the [`Shape`]s the writer follows.
//!
//! Type mapping (generated): BOOLEAN `boolean`; TINYINT, SMALLINT, INT `int`; BIGINT `long`; REAL `float`; DOUBLE
//! `double`; DECIMAL(p, s) `bytes` with logical type `decimal` (p, s); CHAR, VARCHAR `string`; DATE `int` `date`;
//! TIME `long` `time-micros`; TIMESTAMP `long` `timestamp-micros`; BINARY, VARBINARY `bytes`; ARRAY `array`; MAP
//! with string keys `map`. A nullable column is the union `["null", T]` with default null.

use serde_json::{json, Map, Value as Json};
use sluice_data::{Field, Relation, SqlType};
use sluice_types::ConfigError;

/// What the writer writes for one Avro type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    String,
    Bytes,
    /// `bytes` holding the unscaled value, big-endian two's complement, at this scale.
    Decimal {
        scale: u8,
    },
    Date,
    TimeMicros,
    TimeMillis,
    TimestampMicros,
    TimestampMillis,
    Array(Box<Shape>),
    Map(Box<Shape>),
}

/// An Avro type: its kind, and where `null` sits when it is a union with null.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    pub kind: Kind,
    /// `Some((null_branch, value_branch))` for `["null", T]` or `[T, "null"]`.
    pub union: Option<(u8, u8)>,
}

/// A record's fields, in order, with their shapes.
#[derive(Clone, Debug)]
pub(crate) struct RecordShape {
    /// The schema as JSON text (what a registry would be given).
    pub text: String,
    /// The schema as JSON, to nest in an envelope.
    pub json: Json,
    /// The record's full name (`namespace.name`), by which an envelope refers to it a second time.
    pub fullname: String,
    /// One shape per field, in the view's column order.
    pub fields: Vec<Shape>,
}

/// Whether `name` is a valid Avro name (`[A-Za-z_][A-Za-z0-9_]*`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn name_error(what: &str, name: &str) -> ConfigError {
    ConfigError::new(
        "schema",
        format!(
            "{what} '{name}' is not a valid Avro name (letters, digits and '_', not starting with a digit); \
             rename it in the view (AS) or give a schema"
        ),
    )
}

/// The generated Avro type of one SQL type (without nullability), and its shape.
fn generated(ty: &SqlType, column: &str) -> Result<(Json, Kind), ConfigError> {
    let unsupported = |what: &str| {
        ConfigError::new(
            "schema",
            format!("column '{column}' is {what}, which has no Avro type here"),
        )
    };
    Ok(match ty {
        SqlType::Boolean => (json!("boolean"), Kind::Boolean),
        SqlType::TinyInt | SqlType::SmallInt | SqlType::Int => (json!("int"), Kind::Int),
        SqlType::BigInt => (json!("long"), Kind::Long),
        SqlType::Real => (json!("float"), Kind::Float),
        SqlType::Double => (json!("double"), Kind::Double),
        SqlType::Decimal { precision, scale } => (
            json!({"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}),
            Kind::Decimal { scale: *scale },
        ),
        SqlType::Char { .. } | SqlType::Varchar { .. } => (json!("string"), Kind::String),
        SqlType::Date => (json!({"type": "int", "logicalType": "date"}), Kind::Date),
        SqlType::Time => (
            json!({"type": "long", "logicalType": "time-micros"}),
            Kind::TimeMicros,
        ),
        SqlType::Timestamp => (
            json!({"type": "long", "logicalType": "timestamp-micros"}),
            Kind::TimestampMicros,
        ),
        SqlType::Binary { .. } | SqlType::Varbinary { .. } => (json!("bytes"), Kind::Bytes),
        SqlType::Array {
            element,
            element_nullable,
        } => {
            let (items, shape) = generated_nullable(element, *element_nullable, column)?;
            (
                json!({"type": "array", "items": items}),
                Kind::Array(Box::new(shape)),
            )
        }
        SqlType::Map {
            key,
            value,
            value_nullable,
        } => {
            if !matches!(**key, SqlType::Char { .. } | SqlType::Varchar { .. }) {
                return Err(unsupported(
                    "a MAP whose keys are not strings (Avro maps have string keys)",
                ));
            }
            let (values, shape) = generated_nullable(value, *value_nullable, column)?;
            (
                json!({"type": "map", "values": values}),
                Kind::Map(Box::new(shape)),
            )
        }
        SqlType::Null => return Err(unsupported("of the NULL type")),
    })
}

fn generated_nullable(
    ty: &SqlType,
    nullable: bool,
    column: &str,
) -> Result<(Json, Shape), ConfigError> {
    let (avro, kind) = generated(ty, column)?;
    Ok(if nullable {
        (
            json!(["null", avro]),
            Shape {
                kind,
                union: Some((0, 1)),
            },
        )
    } else {
        (avro, Shape { kind, union: None })
    })
}

/// The generated record schema of `fields` (a view's columns, or its key columns), named `name`.
pub(crate) fn generate(
    name: &str,
    namespace: Option<&str>,
    fields: &[&Field],
) -> Result<RecordShape, ConfigError> {
    if !valid_name(name) {
        return Err(name_error("view", name));
    }
    let mut avro_fields = Vec::new();
    let mut shapes = Vec::new();
    for f in fields {
        if !valid_name(&f.name) {
            return Err(name_error("column", &f.name));
        }
        let (ty, shape) = generated_nullable(&f.sql_type, f.nullable, &f.name)?;
        let mut field = Map::new();
        field.insert("name".into(), json!(f.name));
        field.insert("type".into(), ty);
        if f.nullable {
            field.insert("default".into(), Json::Null);
        }
        avro_fields.push(Json::Object(field));
        shapes.push(shape);
    }
    let mut record = Map::new();
    record.insert("type".into(), json!("record"));
    record.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        record.insert("namespace".into(), json!(ns));
    }
    record.insert("fields".into(), Json::Array(avro_fields));
    let json = Json::Object(record);
    Ok(RecordShape {
        text: json.to_string(),
        fullname: fullname(&json),
        json,
        fields: shapes,
    })
}

/// Reads the user's value schema `text` and checks it against `view`: the same columns in order, types that hold
/// the column's values, and (for output, `writing`) a union with null wherever the column may be NULL. Read the
/// other way, a NULL in a NOT NULL column is a bad record, not a bad schema.
pub(crate) fn given(
    text: &str,
    view: &Relation,
    writing: bool,
) -> Result<RecordShape, ConfigError> {
    let schema: Json = serde_json::from_str(text)
        .map_err(|e| ConfigError::new("schema", format!("is not JSON: {e}")))?;
    let fields = schema
        .get("fields")
        .and_then(Json::as_array)
        .filter(|_| schema.get("type") == Some(&json!("record")))
        .ok_or_else(|| ConfigError::new("schema", "must be an Avro record with 'fields'"))?;
    if fields.len() != view.fields.len() {
        return Err(ConfigError::new(
            "schema",
            format!(
                "has {} fields but view '{}' has {} columns ({}); list them all, in order",
                fields.len(),
                view.name,
                view.fields.len(),
                column_names(view)
            ),
        ));
    }
    let mut shapes = Vec::new();
    for (field, column) in fields.iter().zip(&view.fields) {
        let name = field.get("name").and_then(Json::as_str).unwrap_or("");
        if name != column.name {
            return Err(ConfigError::new(
                "schema",
                format!(
                    "field '{name}' stands where view '{}' has column '{}'; the fields must be the view's \
                     columns in order ({})",
                    view.name,
                    column.name,
                    column_names(view)
                ),
            ));
        }
        let ty = field.get("type").unwrap_or(&Json::Null);
        let shape = parse(ty, &column.sql_type, &column.name, writing)?;
        if writing && column.nullable && shape.union.is_none() {
            return Err(ConfigError::new(
                "schema",
                format!(
                    "column '{}' may be NULL, but field '{name}' is not a union with \"null\"",
                    column.name
                ),
            ));
        }
        shapes.push(shape);
    }
    Ok(RecordShape {
        text: schema.to_string(),
        fullname: fullname(&schema),
        json: schema,
        fields: shapes,
    })
}

/// A named schema's full name: its `name` if that has a dot, else `namespace.name` (or the name alone).
fn fullname(schema: &Json) -> String {
    let name = schema.get("name").and_then(Json::as_str).unwrap_or("");
    match schema.get("namespace").and_then(Json::as_str) {
        Some(ns) if !name.contains('.') && !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

/// Debezium's envelope around `value` (Debezium's Avro layout): `before` defines the row record, `after` refers to
/// it by name, `source` says where the change comes from, `op` is `c`, `u`, `d` or `r`, `ts_ms` when it was
/// encoded.
pub(crate) fn envelope(value: &RecordShape, namespace: Option<&str>) -> String {
    let mut record = Map::new();
    record.insert("type".into(), json!("record"));
    record.insert("name".into(), json!("Envelope"));
    if let Some(ns) = namespace {
        record.insert("namespace".into(), json!(ns));
    }
    record.insert(
        "fields".into(),
        json!([
            {"name": "before", "type": ["null", value.json], "default": null},
            {"name": "after", "type": ["null", value.fullname], "default": null},
            {"name": "source", "type": {"type": "record", "name": "Source", "fields": [
                {"name": "version", "type": "string"},
                {"name": "connector", "type": "string"},
                {"name": "name", "type": "string"},
                {"name": "ts_ms", "type": "long"},
                {"name": "snapshot", "type": "string"},
                {"name": "db", "type": "string"},
                {"name": "table", "type": "string"},
                {"name": "step", "type": "long"},
            ]}},
            {"name": "op", "type": "string"},
            {"name": "ts_ms", "type": ["null", "long"], "default": null},
        ]),
    );
    Json::Object(record).to_string()
}

fn column_names(view: &Relation) -> String {
    view.fields
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The shape of a given Avro type `ty` for a column of SQL type `sql`.
fn parse(ty: &Json, sql: &SqlType, column: &str, writing: bool) -> Result<Shape, ConfigError> {
    if let Some(branches) = ty.as_array() {
        let null = branches.iter().position(|b| b == &json!("null"));
        return match (branches.len(), null) {
            (2, Some(n)) => {
                let v = 1 - n;
                let inner = parse(&branches[v], sql, column, writing)?;
                if inner.union.is_some() {
                    return Err(mismatch(column, sql, ty));
                }
                Ok(Shape {
                    kind: inner.kind,
                    union: Some((n as u8, v as u8)),
                })
            }
            _ => Err(ConfigError::new(
                "schema",
                format!(
                    "field '{column}': only unions of \"null\" and one type are supported, found {ty}"
                ),
            )),
        };
    }
    let (base, logical) = match ty {
        Json::String(s) => (s.as_str(), None),
        Json::Object(o) => (
            o.get("type").and_then(Json::as_str).unwrap_or(""),
            o.get("logicalType").and_then(Json::as_str),
        ),
        _ => return Err(mismatch(column, sql, ty)),
    };
    let kind = match (sql, base, logical) {
        (SqlType::Boolean, "boolean", None) => Kind::Boolean,
        (SqlType::TinyInt | SqlType::SmallInt | SqlType::Int, "int", None) => Kind::Int,
        (SqlType::TinyInt | SqlType::SmallInt | SqlType::Int | SqlType::BigInt, "long", None) => {
            Kind::Long
        }
        (SqlType::Real, "float", None) => Kind::Float,
        (SqlType::Real | SqlType::Double, "double", None) => Kind::Double,
        (SqlType::Decimal { scale, .. }, "bytes", Some("decimal")) => {
            let given = ty.get("scale").and_then(Json::as_u64).unwrap_or(0);
            if given != u64::from(*scale) {
                return Err(ConfigError::new(
                    "schema",
                    format!(
                        "field '{column}': the decimal's scale is {given}, the column's is {scale}"
                    ),
                ));
            }
            Kind::Decimal { scale: *scale }
        }
        (SqlType::Char { .. } | SqlType::Varchar { .. }, "string", None) => Kind::String,
        (SqlType::Date, "int", Some("date")) => Kind::Date,
        (SqlType::Time, "long", Some("time-micros")) => Kind::TimeMicros,
        (SqlType::Time, "int", Some("time-millis")) => Kind::TimeMillis,
        (SqlType::Timestamp, "long", Some("timestamp-micros")) => Kind::TimestampMicros,
        (SqlType::Timestamp, "long", Some("timestamp-millis")) => Kind::TimestampMillis,
        (SqlType::Binary { .. } | SqlType::Varbinary { .. }, "bytes", None) => Kind::Bytes,
        (
            SqlType::Array {
                element,
                element_nullable,
            },
            "array",
            None,
        ) => {
            let items = parse(
                ty.get("items").unwrap_or(&Json::Null),
                element,
                column,
                writing,
            )?;
            if writing && *element_nullable && items.union.is_none() {
                return Err(mismatch(column, sql, ty));
            }
            Kind::Array(Box::new(items))
        }
        (
            SqlType::Map {
                key,
                value,
                value_nullable,
            },
            "map",
            None,
        ) if matches!(**key, SqlType::Char { .. } | SqlType::Varchar { .. }) => {
            let values = parse(
                ty.get("values").unwrap_or(&Json::Null),
                value,
                column,
                writing,
            )?;
            if writing && *value_nullable && values.union.is_none() {
                return Err(mismatch(column, sql, ty));
            }
            Kind::Map(Box::new(values))
        }
        _ => return Err(mismatch(column, sql, ty)),
    };
    Ok(Shape { kind, union: None })
}

fn mismatch(column: &str, sql: &SqlType, ty: &Json) -> ConfigError {
    ConfigError::new(
        "schema",
        format!(
            "field '{column}' has Avro type {ty}, which cannot hold the column's {sql:?} values"
        ),
    )
}
