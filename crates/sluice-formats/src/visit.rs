//! Checks each value against its column type and hands it, typed, to a format's [`ValueWriter`].
//!
//! The type check lives here once, so the formats only say how each kind of value is spelled. A value whose
//! variant does not match its type, a NULL in a NOT NULL position, or a `TIME` of a day or more becomes a
//! [`Mismatch`] that the encoder turns into a per-record error.
//!
//! This file knows no format: ARRAY and MAP values, which every format writes as JSON, are the writer's to spell
//! (`json::values::JsonWriter` in the end), so the JSON writer depends on this file and not the other way round.
//! Its tests, which need a writer, are in `json/values.rs`.

use std::collections::BTreeMap;

use sluice_data::{Decimal, Field, Row, SqlType, Value};

use crate::error::Mismatch;
use crate::text::write_int;
use crate::time::NANOS_PER_DAY;

/// How one format spells each kind of SQL value. Every method appends to `out`.
pub(crate) trait ValueWriter {
    /// SQL NULL.
    fn null(&self, out: &mut Vec<u8>);
    /// `BOOLEAN`: `true` or `false` in every format.
    fn boolean(&self, out: &mut Vec<u8>, b: bool) {
        out.extend_from_slice(if b { b"true" } else { b"false" });
    }
    /// `TINYINT` to `BIGINT`: decimal digits in every format.
    fn int(&self, out: &mut Vec<u8>, n: i64) {
        write_int(out, n);
    }
    /// `REAL`.
    fn real(&self, out: &mut Vec<u8>, f: f32);
    /// `DOUBLE`.
    fn double(&self, out: &mut Vec<u8>, f: f64);
    /// `DECIMAL`.
    fn decimal(&self, out: &mut Vec<u8>, d: &Decimal);
    /// `CHAR` and `VARCHAR`.
    fn string(&self, out: &mut Vec<u8>, s: &str);
    /// `DATE`, days since 1970-01-01.
    fn date(&self, out: &mut Vec<u8>, days: i32);
    /// `TIME`, nanoseconds since midnight (checked to be below one day).
    fn time(&self, out: &mut Vec<u8>, nanos: u64);
    /// `TIMESTAMP`, microseconds since 1970-01-01 00:00:00.
    fn timestamp(&self, out: &mut Vec<u8>, micros: i64);
    /// `BINARY` and `VARBINARY`.
    fn bytes(&self, out: &mut Vec<u8>, b: &[u8]);
    /// `ARRAY`, which every format writes as JSON: checks each element against `element` (with [`write_value`]).
    fn array(
        &self,
        out: &mut Vec<u8>,
        items: &[Value],
        element: &SqlType,
        element_nullable: bool,
    ) -> Result<(), Mismatch>;
    /// `MAP`, which every format writes as JSON: checks each key and value (with [`write_value`]).
    fn map(
        &self,
        out: &mut Vec<u8>,
        entries: &BTreeMap<Value, Value>,
        key: &SqlType,
        value: &SqlType,
        value_nullable: bool,
    ) -> Result<(), Mismatch>;
}

/// Writes `v`, which must be a value of type `ty` (or NULL when `nullable`), with `w`.
pub(crate) fn write_value<W: ValueWriter + ?Sized>(
    w: &W,
    out: &mut Vec<u8>,
    ty: &SqlType,
    nullable: bool,
    v: &Value,
) -> Result<(), Mismatch> {
    match (ty, v) {
        (_, Value::Null) if nullable || *ty == SqlType::Null => w.null(out),
        (SqlType::Boolean, Value::Bool(b)) => w.boolean(out, *b),
        (SqlType::TinyInt, Value::TinyInt(n)) => w.int(out, i64::from(*n)),
        (SqlType::SmallInt, Value::SmallInt(n)) => w.int(out, i64::from(*n)),
        (SqlType::Int, Value::Int(n)) => w.int(out, i64::from(*n)),
        (SqlType::BigInt, Value::BigInt(n)) => w.int(out, *n),
        (SqlType::Real, Value::Real(f)) => w.real(out, f.0),
        (SqlType::Double, Value::Double(f)) => w.double(out, f.0),
        (SqlType::Decimal { .. }, Value::Decimal(d)) => w.decimal(out, d),
        (SqlType::Char { .. } | SqlType::Varchar { .. }, Value::String(s)) => w.string(out, s),
        (SqlType::Date, Value::Date(days)) => w.date(out, *days),
        (SqlType::Time, Value::Time(nanos)) if *nanos < NANOS_PER_DAY => w.time(out, *nanos),
        (SqlType::Timestamp, Value::Timestamp(micros)) => w.timestamp(out, *micros),
        (SqlType::Binary { .. } | SqlType::Varbinary { .. }, Value::Bytes(b)) => w.bytes(out, b),
        (
            SqlType::Array {
                element,
                element_nullable,
            },
            Value::Array(items),
        ) => return w.array(out, items, element, *element_nullable),
        (
            SqlType::Map {
                key,
                value,
                value_nullable,
            },
            Value::Map(entries),
        ) => return w.map(out, entries, key, value, *value_nullable),
        _ => return Err(mismatch(ty, v)),
    }
    Ok(())
}

fn mismatch(ty: &SqlType, v: &Value) -> Mismatch {
    match v {
        Value::Null => Mismatch {
            expected: format!("{} NOT NULL", ty.sql_name()),
            found: "NULL",
        },
        Value::Time(_) if *ty == SqlType::Time => Mismatch {
            expected: "TIME (below 24:00:00)".to_string(),
            found: "a TIME of 24 hours or more",
        },
        _ => Mismatch {
            expected: ty.sql_name(),
            found: v.kind(),
        },
    }
}

/// Writes the value of `field`, column `index` of `row`, with `w`.
pub(crate) fn write_column<W: ValueWriter + ?Sized>(
    w: &W,
    out: &mut Vec<u8>,
    row: &Row,
    index: usize,
    field: &Field,
) -> Result<(), Mismatch> {
    let value = row.values().get(index).ok_or_else(|| Mismatch {
        expected: field.sql_type.sql_name(),
        found: "no value (the row is too short)",
    })?;
    write_value(w, out, &field.sql_type, field.nullable, value)
}

/// Checks that a row has no more values than its relation has columns; too few are caught by [`write_column`].
pub(crate) fn check_arity(row: &Row, columns: usize) -> Result<(), (String, Mismatch)> {
    if row.values().len() <= columns {
        return Ok(());
    }
    Err((
        format!("#{}", columns + 1),
        Mismatch {
            expected: format!("absent (the view has {columns} columns)"),
            found: "an extra value",
        },
    ))
}
