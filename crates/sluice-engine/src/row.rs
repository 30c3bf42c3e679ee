//! The row type the circuit stores: [`DRow`], a newtype around [`sluice_data::Row`].
//!
//! dbsp needs its keys to be archivable with rkyv (batches spill to disk and go into checkpoints), measurable
//! with `SizeOf`, and to implement two dbsp marker traits. Rather than put rkyv, size-of and dbsp into
//! `sluice-data` (whose users, the formats, must not depend on the engine), the engine wraps rows in `DRow`
//! and archives them through a private mirror enum, [`Datum`].
//!
//! **Invariant:** the archived order must equal the native order, because dbsp compares archived keys in
//! spilled batches with keys in memory. `Datum`'s derived order mirrors `Value`'s derived order variant by
//! variant; floats are stored as the integer key of IEEE `totalOrder` (which is what `F32`/`F64` compare by),
//! and decimals compare through `sluice_data::Decimal`'s own `Ord` on both sides.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rkyv::ser::{ScratchSpace, Serializer};
use rkyv::vec::{ArchivedVec, VecResolver};
use rkyv::{Archive, Archived, Deserialize, Fallible, Serialize};
use size_of::{Context, SizeOf};
use sluice_data::{Decimal, Row, Value, F32, F64};
use smallvec::SmallVec;

/// How many values a row keeps inline, without a heap allocation of its own.
///
/// Rows are stored by value in dbsp's batches; a row of up to this many values lives inside the batch, so
/// building, comparing and dropping it touches no other memory. Wider rows spill to the heap as a `Vec` would.
pub const INLINE_VALUES: usize = 3;

/// Changes to one table as the circuit's input handle takes them: rows with weights.
pub(crate) type Changes = Vec<dbsp::utils::Tup2<DRow, i64>>;

/// A row as the circuit stores it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DRow(SmallVec<[Value; INLINE_VALUES]>);

impl DRow {
    /// The row's values.
    pub fn values(&self) -> &[Value] {
        &self.0
    }

    /// A row of the given values.
    pub fn of(values: Vec<Value>) -> Self {
        DRow(SmallVec::from_vec(values))
    }

    /// The row as the rest of Sluice sees it.
    pub fn to_row(&self) -> Row {
        Row(self.0.to_vec())
    }
}

impl From<Row> for DRow {
    fn from(row: Row) -> Self {
        DRow::of(row.0)
    }
}

impl From<DRow> for Row {
    fn from(row: DRow) -> Self {
        Row(row.0.into_vec())
    }
}

impl FromIterator<Value> for DRow {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        DRow(iter.into_iter().collect())
    }
}

/// dbsp's marker traits for a type that is never NULL (dbsp's `Option` columns are the nullable ones) and that
/// does not fit a 32-bit roaring bitmap.
macro_rules! plain_dbsp_data {
    ($t:ty) => {
        impl dbsp::utils::IsNone for $t {
            type Inner = Self;

            fn is_none(&self) -> bool {
                false
            }

            fn unwrap_or_self(&self) -> &Self::Inner {
                self
            }

            fn from_inner(inner: Self::Inner) -> Self {
                inner
            }
        }

        impl dbsp::utils::SupportsRoaring for $t {}
    };
}
pub(crate) use plain_dbsp_data;

plain_dbsp_data!(DRow);

impl SizeOf for DRow {
    fn size_of_children(&self, context: &mut Context) {
        if self.0.spilled() {
            context.add_vectorlike(
                self.0.len(),
                self.0.capacity(),
                std::mem::size_of::<Value>(),
            );
        }
        values_children_size(&self.0, context);
    }
}

fn values_size(values: &Vec<Value>, context: &mut Context) {
    context.add_vectorlike(
        values.len(),
        values.capacity(),
        std::mem::size_of::<Value>(),
    );
    values_children_size(values, context);
}

fn values_children_size(values: &[Value], context: &mut Context) {
    for v in values {
        match v {
            Value::String(s) => {
                context.add_vectorlike(s.len(), s.capacity(), 1);
            }
            Value::Bytes(b) => {
                context.add_vectorlike(b.len(), b.capacity(), 1);
            }
            Value::Array(a) => values_size(a, context),
            Value::Map(m) => {
                context.add(m.len() * 2 * std::mem::size_of::<Value>());
            }
            _ => {}
        }
    }
}

/// The archived mirror of [`Value`]: same variants in the same order. Public only because it is part of
/// `DRow`'s archived type; nothing outside this module builds one.
#[doc(hidden)]
#[derive(Archive, Serialize, Deserialize)]
#[archive(bound(serialize = "__S: ScratchSpace + Serializer"))]
#[archive_attr(derive(PartialEq, Eq, PartialOrd, Ord))]
pub enum Datum {
    Null,
    Bool(bool),
    TinyInt(i8),
    SmallInt(i16),
    Int(i32),
    BigInt(i64),
    /// `totalOrder` key of the `f32` bits.
    Real(i32),
    /// `totalOrder` key of the `f64` bits.
    Double(i64),
    Decimal(DecimalKey),
    String(String),
    Date(i32),
    Time(u64),
    Timestamp(i64),
    Bytes(Vec<u8>),
    Array(#[omit_bounds] Vec<Datum>),
    Map(#[omit_bounds] Vec<DatumPair>),
}

#[derive(Archive, Serialize, Deserialize)]
#[archive(bound(serialize = "__S: ScratchSpace + Serializer"))]
#[archive_attr(derive(PartialEq, Eq, PartialOrd, Ord))]
#[doc(hidden)]
pub struct DatumPair {
    #[omit_bounds]
    key: Datum,
    #[omit_bounds]
    value: Datum,
}

/// A decimal's parts; its archived form orders exactly like [`Decimal`].
#[derive(Archive, Serialize, Deserialize)]
#[archive_attr(derive(PartialEq, Eq))]
#[doc(hidden)]
pub struct DecimalKey {
    mantissa: i128,
    scale: u8,
}

impl DecimalKey {
    fn decimal(mantissa: i128, scale: u8) -> Decimal {
        // Archived values were valid decimals when written, so the scale is in range.
        Decimal::new(mantissa, scale).unwrap_or_default()
    }
}

impl PartialOrd for ArchivedDecimalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ArchivedDecimalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        DecimalKey::decimal(self.mantissa, self.scale)
            .cmp(&DecimalKey::decimal(other.mantissa, other.scale))
    }
}

/// Maps float bits to an integer with the same order as `total_cmp` (the mapping is its own inverse).
fn total_key32(bits: u32) -> i32 {
    let b = bits as i32;
    b ^ (((b >> 31) as u32) >> 1) as i32
}

fn total_key64(bits: u64) -> i64 {
    let b = bits as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

impl From<&Value> for Datum {
    fn from(v: &Value) -> Self {
        match v {
            Value::Null => Datum::Null,
            Value::Bool(b) => Datum::Bool(*b),
            Value::TinyInt(x) => Datum::TinyInt(*x),
            Value::SmallInt(x) => Datum::SmallInt(*x),
            Value::Int(x) => Datum::Int(*x),
            Value::BigInt(x) => Datum::BigInt(*x),
            Value::Real(x) => Datum::Real(total_key32(x.0.to_bits())),
            Value::Double(x) => Datum::Double(total_key64(x.0.to_bits())),
            Value::Decimal(d) => Datum::Decimal(DecimalKey {
                mantissa: d.mantissa(),
                scale: d.scale(),
            }),
            Value::String(s) => Datum::String(s.clone()),
            Value::Date(d) => Datum::Date(*d),
            Value::Time(t) => Datum::Time(*t),
            Value::Timestamp(t) => Datum::Timestamp(*t),
            Value::Bytes(b) => Datum::Bytes(b.clone()),
            Value::Array(a) => Datum::Array(a.iter().map(Datum::from).collect()),
            Value::Map(m) => Datum::Map(
                m.iter()
                    .map(|(k, v)| DatumPair {
                        key: k.into(),
                        value: v.into(),
                    })
                    .collect(),
            ),
        }
    }
}

impl From<Datum> for Value {
    fn from(d: Datum) -> Self {
        match d {
            Datum::Null => Value::Null,
            Datum::Bool(b) => Value::Bool(b),
            Datum::TinyInt(x) => Value::TinyInt(x),
            Datum::SmallInt(x) => Value::SmallInt(x),
            Datum::Int(x) => Value::Int(x),
            Datum::BigInt(x) => Value::BigInt(x),
            Datum::Real(k) => Value::Real(F32(f32::from_bits(total_key32(k as u32) as u32))),
            Datum::Double(k) => Value::Double(F64(f64::from_bits(total_key64(k as u64) as u64))),
            Datum::Decimal(k) => Value::Decimal(DecimalKey::decimal(k.mantissa, k.scale)),
            Datum::String(s) => Value::String(s),
            Datum::Date(d) => Value::Date(d),
            Datum::Time(t) => Value::Time(t),
            Datum::Timestamp(t) => Value::Timestamp(t),
            Datum::Bytes(b) => Value::Bytes(b),
            Datum::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            Datum::Map(m) => Value::Map(
                m.into_iter()
                    .map(|p| (p.key.into(), p.value.into()))
                    .collect::<BTreeMap<_, _>>(),
            ),
        }
    }
}

impl Archive for DRow {
    type Archived = ArchivedVec<Archived<Datum>>;
    type Resolver = VecResolver;

    unsafe fn resolve(&self, pos: usize, resolver: Self::Resolver, out: *mut Self::Archived) {
        ArchivedVec::resolve_from_len(self.0.len(), pos, resolver, out);
    }
}

impl<S: ScratchSpace + Serializer + ?Sized> Serialize<S> for DRow {
    fn serialize(&self, serializer: &mut S) -> Result<Self::Resolver, S::Error> {
        let datums: Vec<Datum> = self.0.iter().map(Datum::from).collect();
        ArchivedVec::serialize_from_slice(&datums, serializer)
    }
}

impl<D: Fallible + ?Sized> Deserialize<DRow, D> for ArchivedVec<Archived<Datum>> {
    fn deserialize(&self, deserializer: &mut D) -> Result<DRow, D::Error> {
        let mut values = SmallVec::with_capacity(self.len());
        for d in self.iter() {
            let datum: Datum = d.deserialize(deserializer)?;
            values.push(Value::from(datum));
        }
        Ok(DRow(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archived_cmp(a: &DRow, b: &DRow) -> Ordering {
        let ba = rkyv::to_bytes::<_, 256>(a).expect("serialize");
        let bb = rkyv::to_bytes::<_, 256>(b).expect("serialize");
        let (xa, xb) = unsafe {
            (
                rkyv::archived_root::<DRow>(&ba),
                rkyv::archived_root::<DRow>(&bb),
            )
        };
        xa.cmp(xb)
    }

    fn samples() -> Vec<DRow> {
        let d = |s: &str| Value::Decimal(s.parse().unwrap());
        let vals = vec![
            Value::Null,
            Value::Bool(false),
            Value::Int(-3),
            Value::Int(7),
            Value::BigInt(i64::MIN),
            Value::Real(F32(-0.0)),
            Value::Real(F32(0.0)),
            Value::Double(F64(-1.5)),
            Value::Double(F64(f64::NAN)),
            Value::Double(F64(2.25)),
            d("1.5"),
            d("1.50"),
            d("-10.25"),
            d("3"),
            Value::from("abc"),
            Value::from("abd"),
            Value::from(""),
            Value::Date(-1),
            Value::Timestamp(5),
            Value::Bytes(vec![1, 2]),
            Value::Array(vec![Value::Int(1), Value::Null]),
        ];
        let mut rows: Vec<DRow> = vals.iter().map(|v| DRow::of(vec![v.clone()])).collect();
        rows.push(DRow::of(vec![Value::Int(1), Value::from("x")]));
        rows.push(DRow::of(vec![Value::Int(1)]));
        rows.push(DRow::of(vec![]));
        rows
    }

    #[test]
    fn archived_order_equals_native_order() {
        let rows = samples();
        for a in &rows {
            for b in &rows {
                assert_eq!(archived_cmp(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn rows_round_trip_through_the_archive() {
        for row in samples() {
            let bytes = rkyv::to_bytes::<_, 256>(&row).expect("serialize");
            let archived = unsafe { rkyv::archived_root::<DRow>(&bytes) };
            let back: DRow = archived
                .deserialize(&mut rkyv::Infallible)
                .expect("deserialize");
            assert_eq!(back, row);
        }
    }
}
