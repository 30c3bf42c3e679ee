//! [`Scalar`], a compiled scalar expression, and the type tests the compilers of its parts share. A leaf below
//! `mod.rs` and `scalar_fn.rs`, which both build scalars.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use sluice_data::Value;

use super::ops;

type EvalFn = dyn Fn(&[Value]) -> Value + Send + Sync;

/// A compiled scalar expression and its result type.
#[derive(Clone)]
pub struct Scalar {
    pub(super) f: Arc<EvalFn>,
    /// The Arrow type DataFusion gives the result; values follow Sluice's representation of it.
    pub data_type: DataType,
    /// `Some(i)` when the expression only reads column `i`: the circuit then copies the value without calling
    /// the closure, and can pick it from either side of a join without building the joined row.
    pub(super) column: Option<usize>,
    /// `Some(v)` when the expression is the constant `v`.
    pub(super) literal: Option<Value>,
    /// `Some((i, slack))` when the value `v` over any row never falls more than `slack` below column `i` of the
    /// row: `v + slack >= row[i]` (NULLs aside). A column is its own trail with slack 0; `DATE_BIN(stride, ts)`
    /// trails `ts` by the stride. This is how state is bounded by a waterline: a group keyed by such a value can
    /// get no more rows once `v + slack` is below the waterline of column `i` (see `bounds.rs`).
    pub(super) trail: Option<(usize, i64)>,
}

impl fmt::Debug for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scalar({})", self.data_type)
    }
}

impl Scalar {
    pub(super) fn new(
        data_type: DataType,
        f: impl Fn(&[Value]) -> Value + Send + Sync + 'static,
    ) -> Self {
        Scalar {
            f: Arc::new(f),
            data_type,
            column: None,
            literal: None,
            trail: None,
        }
    }

    /// An expression the lowering builds itself (not from SQL text), computed by `f` over the row.
    pub(crate) fn computed(
        data_type: DataType,
        f: impl Fn(&[Value]) -> Value + Send + Sync + 'static,
    ) -> Self {
        Scalar::new(data_type, f)
    }

    /// The expression that returns column `index` of the row.
    pub fn column(index: usize, data_type: DataType) -> Self {
        Scalar {
            column: Some(index),
            trail: Some((index, 0)),
            ..Scalar::new(data_type, move |row| row[index].clone())
        }
    }

    /// The value over one row, borrowed from the row or the literal when the expression is only that, so that
    /// an operator over a column (`name = 'x'`, `x % 3`) reads it without cloning it.
    pub fn eval_ref<'a>(&'a self, row: &'a [Value]) -> Cow<'a, Value> {
        match (self.column, &self.literal) {
            (Some(i), _) => Cow::Borrowed(&row[i]),
            (None, Some(v)) => Cow::Borrowed(v),
            (None, None) => Cow::Owned(self.eval(row)),
        }
    }

    /// The column this expression reads unchanged, if that is all it does.
    pub fn as_column(&self) -> Option<usize> {
        self.column
    }

    /// The column this expression's value trails and by how much at most (see the field), if known.
    pub fn trail(&self) -> Option<(usize, i64)> {
        self.trail
    }

    /// This expression with a trail of `slack` behind column `i`.
    pub(super) fn trailing(self, trail: Option<(usize, i64)>) -> Self {
        Scalar { trail, ..self }
    }

    /// Evaluates the expression over one row.
    pub fn eval(&self, row: &[Value]) -> Value {
        (self.f)(row)
    }

    /// Whether the expression is true for the row (NULL and false both reject, as in `WHERE`).
    pub fn test(&self, row: &[Value]) -> bool {
        matches!(*self.eval_ref(row), Value::Bool(true))
    }
}

/// Whether `t` is a number type.
pub(super) fn is_numeric(t: &DataType) -> bool {
    ops::is_integer(t)
        || matches!(
            t,
            DataType::Float32 | DataType::Float64 | DataType::Decimal128(..)
        )
}

/// Whether `t` is a string type.
pub(super) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}
