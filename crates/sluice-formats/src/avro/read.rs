//! Avro binary decoding into a table's values, following a record's [`Shape`]s and the columns' SQL types: the
//! inverse of `write.rs`, with every length and range checked, since the bytes come from outside.

use std::collections::BTreeMap;

use sluice_data::{Decimal, SqlType, Value, F32, F64};

use super::schema::{Kind, Shape};

/// The bytes of one datum being read.
pub(crate) struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Input { bytes }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err(format!(
                "the datum ends early: {n} more bytes needed, {} left",
                self.bytes.len()
            ));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// An Avro `long` (zig-zag varint of at most 10 bytes).
    pub fn long(&mut self) -> Result<i64, String> {
        let mut z: u64 = 0;
        for i in 0..10 {
            let b = self.take(1)?[0];
            z |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err("a varint longer than 10 bytes".into())
    }

    fn length(&mut self) -> Result<usize, String> {
        let n = self.long()?;
        usize::try_from(n).map_err(|_| format!("a negative length {n}"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.length()?;
        self.take(n)
    }

    /// Calls `item` once per item of an array or map: blocks of items, each led by its count, until a count of 0.
    /// A negative count is followed by the block's size in bytes, which is read and not needed.
    fn items(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        loop {
            let n = self.long()?;
            if n == 0 {
                return Ok(());
            }
            if n < 0 {
                self.long()?;
            }
            for _ in 0..n.unsigned_abs() {
                item(self)?;
            }
        }
    }
}

/// Reads one value of `shape` for a column of type `sql`.
pub(crate) fn read_value(
    shape: &Shape,
    sql: &SqlType,
    input: &mut Input<'_>,
) -> Result<Value, String> {
    if let Some((null, branch)) = shape.union {
        let index = input.long()?;
        if index == i64::from(null) {
            return Ok(Value::Null);
        }
        if index != i64::from(branch) {
            return Err(format!("union branch {index} does not exist"));
        }
    }
    let out_of_range = |v: i64| format!("{v} is out of the range of {sql:?}");
    Ok(match (&shape.kind, sql) {
        (Kind::Boolean, _) => match input.take(1)?[0] {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(format!("a boolean byte {b}")),
        },
        (Kind::Int | Kind::Long, SqlType::TinyInt) => {
            let v = input.long()?;
            Value::TinyInt(i8::try_from(v).map_err(|_| out_of_range(v))?)
        }
        (Kind::Int | Kind::Long, SqlType::SmallInt) => {
            let v = input.long()?;
            Value::SmallInt(i16::try_from(v).map_err(|_| out_of_range(v))?)
        }
        (Kind::Int | Kind::Long, SqlType::Int) => {
            let v = input.long()?;
            Value::Int(i32::try_from(v).map_err(|_| out_of_range(v))?)
        }
        (Kind::Int | Kind::Long, _) => Value::BigInt(input.long()?),
        (Kind::Float, _) => {
            let b = input.take(4)?;
            Value::Real(F32(f32::from_le_bytes(b.try_into().expect("4 bytes"))))
        }
        (Kind::Double, SqlType::Real) => {
            let b = input.take(8)?;
            Value::Real(F32(
                f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32
            ))
        }
        (Kind::Double, _) => {
            let b = input.take(8)?;
            Value::Double(F64(f64::from_le_bytes(b.try_into().expect("8 bytes"))))
        }
        (Kind::String, _) => Value::String(
            String::from_utf8(input.bytes()?.to_vec())
                .map_err(|_| "a string that is not UTF-8".to_string())?,
        ),
        (Kind::Bytes, _) => Value::Bytes(input.bytes()?.to_vec()),
        (Kind::Decimal { scale }, _) => {
            let b = input.bytes()?;
            if b.is_empty() || b.len() > 16 {
                return Err(format!("a decimal of {} bytes", b.len()));
            }
            // Sign-extend the big-endian two's complement into 16 bytes.
            let fill = if b[0] & 0x80 != 0 { 0xff } else { 0 };
            let mut full = [fill; 16];
            full[16 - b.len()..].copy_from_slice(b);
            let d = Decimal::new(i128::from_be_bytes(full), *scale).map_err(|e| e.to_string())?;
            Value::Decimal(d)
        }
        (Kind::Date, _) => {
            let v = input.long()?;
            Value::Date(i32::try_from(v).map_err(|_| out_of_range(v))?)
        }
        (Kind::TimeMicros | Kind::TimeMillis, _) => {
            let v = input.long()?;
            let unit = if shape.kind == Kind::TimeMicros {
                1_000
            } else {
                1_000_000
            };
            let nanos = u64::try_from(v)
                .ok()
                .and_then(|v| v.checked_mul(unit))
                .filter(|n| *n < 86_400_000_000_000)
                .ok_or_else(|| format!("{v} is not a time of day"))?;
            Value::Time(nanos)
        }
        (Kind::TimestampMicros, _) => Value::Timestamp(input.long()?),
        (Kind::TimestampMillis, _) => {
            let v = input.long()?;
            Value::Timestamp(v.checked_mul(1_000).ok_or_else(|| out_of_range(v))?)
        }
        (Kind::Array(items), SqlType::Array { element, .. }) => {
            let mut values = Vec::new();
            input.items(|input| {
                values.push(read_value(items, element, input)?);
                Ok(())
            })?;
            Value::Array(values)
        }
        (Kind::Map(entries), SqlType::Map { value, .. }) => {
            let mut map = BTreeMap::new();
            input.items(|input| {
                let key = String::from_utf8(input.bytes()?.to_vec())
                    .map_err(|_| "a map key that is not UTF-8".to_string())?;
                map.insert(Value::String(key), read_value(entries, value, input)?);
                Ok(())
            })?;
            Value::Map(map)
        }
        (kind, _) => return Err(format!("Avro {kind:?} cannot hold {sql:?}")),
    })
}
