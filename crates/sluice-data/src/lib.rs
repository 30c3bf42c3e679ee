//! The data model shared by every Sluice part.
//!
//! A view's schema is a [`Relation`]: its name and its [`Field`]s, each with a [`SqlType`] and a nullability.
//! A row is a [`Row`] of dynamic [`Value`]s in the relation's column order, and a step's change to a relation is a
//! [`Delta`]: rows with integer weights (positive inserts, negative deletes), as a Z-set.
//!
//! This crate is deliberately small and free of I/O so that the encoders (`sluice-formats`) and the engine
//! (`sluice-engine`) can agree on rows without knowing about each other. It must not depend on any runtime crate
//! (tokio, rdkafka, axum, dbsp, datafusion).
#![deny(missing_docs)]

mod decimal;
mod schema;
mod value;

pub use decimal::{Decimal, DecimalError};
pub use schema::{Field, Relation, SqlType};
pub use value::{Row, Value, F32, F64};

/// One step's changes to a relation: each row with its weight.
///
/// A positive weight `w` means `w` copies of the row were inserted, a negative one that `|w|` copies were deleted.
/// A weight of zero carries no change. Rows need not be consolidated: the encoders treat `(r, 2)` and two
/// `(r, 1)` entries alike.
pub type Delta = Vec<(Row, i64)>;
