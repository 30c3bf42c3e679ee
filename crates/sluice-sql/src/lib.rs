//! Sluice's SQL front end: from a program's text to a dataflow plan per view.
//!
//! A program is a list of `CREATE TABLE` (optionally `WITH ('append_only' = 'true')`), `CREATE [MATERIALIZED] VIEW` and `CREATE INDEX` (key columns of a view,
//! [`IndexDef`]) statements. [`Program::compile`]
//! parses it with DataFusion's SQL parser, registers every table (and then every view) as an empty in-memory
//! table in a DataFusion context, lets DataFusion plan, type and optimize each view, and lowers the optimized
//! `LogicalPlan` into a [`plan::Node`] tree whose expressions are compiled closures over row values
//! ([`expr::Scalar`]). The result carries each relation's schema ([`sluice_data::Relation`]) with SQL types and
//! nullability; unquoted identifiers are lower-cased, quoted ones keep their case.
//!
//! Whatever cannot be lowered exactly is a compile error ([`SqlError`], with line and column) naming the
//! construct; the engine never sees a plan it would compute wrongly. Group-level semantics (aggregates,
//! top-k, window functions) live here too ([`agg`], [`window`]) so that they can be tested without a circuit.
//!
//! This crate must not depend on dbsp, HTTP, Kafka or the formats; `sluice-engine` builds the circuit from its plan.

pub mod adhoc;
pub mod agg;
mod anchor;
mod append_only;
mod bounds;
mod composite;
mod error;
pub mod expr;
mod index;
mod lateness;
mod lower;
mod names;
mod nullability;
mod options;
pub mod plan;
mod program;
mod sort;
mod types;
mod unique;
pub mod window;
mod windows;

pub use anchor::{Anchor, Bound, EmitFinal};
pub use append_only::is_append_only;
pub use error::{CompileErrors, Pos, SqlError};
pub use index::IndexDef;
pub use lateness::Lateness;
pub use options::DeclaredConnectors;
pub use program::{Program, TableDef, ViewDef};
pub use types::{arrow_type, sql_type_of_arrow};
pub use unique::proves_unique;
