//! What a pipeline written with `program_code` stores besides the columns every pipeline has: its program, the
//! outcome of compiling it, and the connectors its SQL declares (see [`super::embedded`] for how it is shown).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A connector declared in a relation's `WITH ('connectors' = ...)`, validated as `/v0/connectors` validates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeclaredConnector {
    /// The endpoint name: `{relation}.{name}`, or `{relation}.unnamed-{i}` without a name (Feldera's rule).
    pub endpoint: String,
    /// The table (input) or view (output).
    pub relation: String,
    /// Whether it feeds a table.
    pub is_input: bool,
    /// The connector config, normalized (defaults filled in); secret references as written.
    pub config: Value,
}

/// What a pipeline with `program_code` carries besides the columns all pipelines have.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbeddedProgram {
    /// The SQL as given.
    pub program_code: String,
    /// Always empty (refused otherwise).
    pub udf_rust: String,
    /// Always empty (refused otherwise).
    pub udf_toml: String,
    /// As given.
    pub program_config: Value,
    /// As given.
    pub runtime_config: Value,
    /// As given.
    pub tags: Vec<String>,
    /// Grows with every change of the SQL.
    pub program_version: i64,
    /// `Success`, `SqlError` or `SystemError`.
    pub program_status: String,
    /// When `program_status` was set (RFC 3339).
    pub program_status_since: String,
    /// Feldera's `program_error`: the compiler's messages (warnings too).
    pub program_error: Value,
    /// Feldera's `program_info` (schema, connectors), once compiled.
    pub program_info: Option<Value>,
    /// The connectors of the compiled program.
    pub connectors: Vec<DeclaredConnector>,
}

impl EmbeddedProgram {
    /// Whether the program compiled.
    pub fn compiled(&self) -> bool {
        self.program_status == "Success"
    }
}
