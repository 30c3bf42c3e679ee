//! Avro binary encoding of rows, following a record's [`Shape`]s: zig-zag varints for `int` and `long`,
//! little-endian IEEE floats, length-prefixed strings and bytes, one block for arrays and maps, the branch index
//! before a union's value.

use sluice_data::{Row, Value};

use super::schema::{Kind, Shape};
use crate::error::Mismatch;

/// Appends `v` as an Avro `long` (zig-zag, then base-128 varint).
pub(crate) fn write_long(v: i64, out: &mut Vec<u8>) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

pub(crate) fn write_bytes(b: &[u8], out: &mut Vec<u8>) {
    write_long(b.len() as i64, out);
    out.extend_from_slice(b);
}

/// The minimal big-endian two's complement bytes of `v` (Avro's decimal).
fn write_decimal(v: i128, out: &mut Vec<u8>) {
    let bytes = v.to_be_bytes();
    // Drop leading bytes that only repeat the sign, keeping the sign bit of the first byte that stays.
    let sign = if v < 0 { 0xff } else { 0x00 };
    let mut start = 0;
    while start < 15 && bytes[start] == sign && (bytes[start + 1] & 0x80) == (sign & 0x80) {
        start += 1;
    }
    write_bytes(&bytes[start..], out);
}

fn expected(shape: &Shape) -> String {
    let base = match &shape.kind {
        Kind::Boolean => "boolean",
        Kind::Int => "int",
        Kind::Long => "long",
        Kind::Float => "float",
        Kind::Double => "double",
        Kind::String => "string",
        Kind::Bytes => "bytes",
        Kind::Decimal { .. } => "decimal",
        Kind::Date => "date",
        Kind::TimeMicros | Kind::TimeMillis => "time",
        Kind::TimestampMicros | Kind::TimestampMillis => "timestamp",
        Kind::Array(_) => "array",
        Kind::Map(_) => "map",
    };
    if shape.union.is_some() {
        format!("Avro {base}")
    } else {
        format!("Avro {base} (not null)")
    }
}

/// Appends `value` in `shape`'s encoding.
pub(crate) fn write_value(shape: &Shape, value: &Value, out: &mut Vec<u8>) -> Result<(), Mismatch> {
    let wrong = || Mismatch {
        expected: expected(shape),
        found: value.kind(),
    };
    if let Some((null, branch)) = shape.union {
        if value.is_null() {
            write_long(i64::from(null), out);
            return Ok(());
        }
        write_long(i64::from(branch), out);
    }
    match (&shape.kind, value) {
        (Kind::Boolean, Value::Bool(b)) => out.push(u8::from(*b)),
        (Kind::Int | Kind::Long, Value::TinyInt(v)) => write_long(i64::from(*v), out),
        (Kind::Int | Kind::Long, Value::SmallInt(v)) => write_long(i64::from(*v), out),
        (Kind::Int | Kind::Long, Value::Int(v)) => write_long(i64::from(*v), out),
        (Kind::Long, Value::BigInt(v)) => write_long(*v, out),
        (Kind::Float, Value::Real(v)) => out.extend_from_slice(&v.0.to_le_bytes()),
        (Kind::Double, Value::Real(v)) => out.extend_from_slice(&f64::from(v.0).to_le_bytes()),
        (Kind::Double, Value::Double(v)) => out.extend_from_slice(&v.0.to_le_bytes()),
        (Kind::String, Value::String(s)) => write_bytes(s.as_bytes(), out),
        (Kind::Bytes, Value::Bytes(b)) => write_bytes(b, out),
        (Kind::Decimal { scale }, Value::Decimal(d)) => {
            let d = d.rescale(*scale).ok_or_else(wrong)?;
            write_decimal(d.mantissa(), out);
        }
        (Kind::Date, Value::Date(days)) => write_long(i64::from(*days), out),
        (Kind::TimeMicros, Value::Time(nanos)) => write_long((*nanos / 1_000) as i64, out),
        (Kind::TimeMillis, Value::Time(nanos)) => write_long((*nanos / 1_000_000) as i64, out),
        (Kind::TimestampMicros, Value::Timestamp(us)) => write_long(*us, out),
        (Kind::TimestampMillis, Value::Timestamp(us)) => write_long(us.div_euclid(1_000), out),
        (Kind::Array(items), Value::Array(values)) => {
            if !values.is_empty() {
                write_long(values.len() as i64, out);
                for v in values {
                    write_value(items, v, out)?;
                }
            }
            out.push(0);
        }
        (Kind::Map(entries), Value::Map(map)) => {
            if !map.is_empty() {
                write_long(map.len() as i64, out);
                for (k, v) in map {
                    let Value::String(k) = k else {
                        return Err(wrong());
                    };
                    write_bytes(k.as_bytes(), out);
                    write_value(entries, v, out)?;
                }
            }
            out.push(0);
        }
        _ => return Err(wrong()),
    }
    Ok(())
}

/// Appends the record of `columns` of `row` (all columns when `None`), field by field; on a value that does not
/// fit, the column's position in `row` and why.
pub(crate) fn write_record(
    shapes: &[Shape],
    row: &Row,
    columns: Option<&[usize]>,
    out: &mut Vec<u8>,
) -> Result<(), (usize, Mismatch)> {
    match columns {
        None => {
            for (i, (shape, value)) in shapes.iter().zip(&row.0).enumerate() {
                write_value(shape, value, out).map_err(|m| (i, m))?;
            }
        }
        Some(columns) => {
            for (shape, &c) in shapes.iter().zip(columns) {
                write_value(shape, &row.0[c], out).map_err(|m| (c, m))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        write_long(v, &mut out);
        out
    }

    fn decimal(v: i128) -> Vec<u8> {
        let mut out = Vec::new();
        write_decimal(v, &mut out);
        out
    }

    /// The examples of the Avro specification's binary encoding of `long`.
    #[test]
    fn longs_are_zigzag_varints() {
        assert_eq!(long(0), [0x00]);
        assert_eq!(long(-1), [0x01]);
        assert_eq!(long(1), [0x02]);
        assert_eq!(long(-2), [0x03]);
        assert_eq!(long(-64), [0x7f]);
        assert_eq!(long(64), [0x80, 0x01]);
        assert_eq!(
            long(i64::MIN),
            [0xff; 9].iter().copied().chain([0x01]).collect::<Vec<_>>()
        );
    }

    /// Decimals are the fewest bytes of two's complement that keep the sign.
    #[test]
    fn decimals_are_minimal_twos_complement() {
        assert_eq!(decimal(0), [0x02, 0x00]);
        assert_eq!(decimal(127), [0x02, 0x7f]);
        assert_eq!(decimal(128), [0x04, 0x00, 0x80]);
        assert_eq!(decimal(-1), [0x02, 0xff]);
        assert_eq!(decimal(-128), [0x02, 0x80]);
        assert_eq!(decimal(-129), [0x04, 0xff, 0x7f]);
    }
}
