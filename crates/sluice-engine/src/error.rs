//! [`EngineError`]: why an engine call failed. A leaf of the crate, so that the engine's parts (the controller
//! thread, keyed tables, row checks) name it without importing the crate root that uses them.

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No table of that name in the program.
    #[error("unknown table {0}")]
    UnknownTable(String),
    /// A row with the wrong number of values.
    #[error("table {table}: row {row} has {found} values, expected {expected}")]
    Arity {
        /// The table.
        table: String,
        /// The row as text.
        row: String,
        /// Values given.
        found: usize,
        /// Columns of the table.
        expected: usize,
    },
    /// A value that does not fit its column.
    #[error("table {table}, column {column}: invalid value {value}: {message}")]
    InvalidValue {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The value as text.
        value: String,
        /// What is wrong.
        message: String,
    },
    /// A delete on a table declared append-only.
    #[error(
        "table {table} is append-only (WITH ('append_only' = 'true')) and accepts inserts only; this change deletes \
         {row}"
    )]
    AppendOnly {
        /// The table.
        table: String,
        /// The row as text.
        row: String,
    },
    /// Upsert or delete-by-key on a table without a primary key.
    #[error("table {0} has no PRIMARY KEY")]
    NoPrimaryKey(String),
    /// A key with the wrong number of values.
    #[error("table {table}: key {key} has {found} values, the primary key has {expected} columns")]
    KeyArity {
        /// The table.
        table: String,
        /// The key as text.
        key: String,
        /// Values given.
        found: usize,
        /// Key columns.
        expected: usize,
    },
    /// Checkpoint or restore problem (no storage configured, I/O, unknown checkpoint).
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// No view of that name in the program.
    #[error("unknown view {0}")]
    UnknownView(String),
    /// A snapshot of a view that does not keep its contents.
    #[error(
        "view {0} does not keep its contents: declare it CREATE MATERIALIZED VIEW to take snapshots of it"
    )]
    NotMaterialized(String),
    /// An error reported by dbsp.
    #[error("dbsp: {0}")]
    Dbsp(String),
    /// The engine thread is gone.
    #[error("the engine thread stopped")]
    Stopped,
}
