//! Program compilation, behind the [`ProgramCompiler`] trait.
//!
//! The server records a program's [`ProgramStatus`] and, once compiled, its [`ProgramSchema`] (the tables and
//! views with their columns). [`SqlCompiler`] compiles with `sluice-sql` (DataFusion's parser and planner, lowered
//! to Sluice's dataflow plan), so a program that the engine cannot run is a `SqlError` here, with positions.
//! [`UnavailableCompiler`] is for builds or tests without a compiler: programs then stay `Pending` with a
//! `status_detail` that explains why, rather than pretending to compile.

use serde::{Deserialize, Serialize};
use sluice_data::Relation;
use utoipa::ToSchema;

/// Where a program is in its compilation (Feldera's `ProgramStatus` shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ProgramStatus {
    /// Waiting to be compiled.
    Pending,
    /// The SQL is being compiled.
    CompilingSql,
    /// The generated code is being compiled (kept for compatibility; Sluice does not generate Rust).
    CompilingRust,
    /// Compiled; the program has a schema.
    Success,
    /// The SQL has errors.
    SqlError(Vec<SqlCompilerMessage>),
    /// The generated code did not compile.
    RustError(String),
    /// The compiler failed for a reason unrelated to the program.
    SystemError(String),
}

/// One SQL compiler diagnostic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SqlCompilerMessage {
    /// First line of the offending text, 1-based.
    pub start_line_number: u64,
    /// First column, 1-based.
    pub start_column: u64,
    /// Last line.
    pub end_line_number: u64,
    /// Last column.
    pub end_column: u64,
    /// A warning rather than an error.
    pub warning: bool,
    /// The kind of error.
    pub error_type: String,
    /// What is wrong.
    pub message: String,
}

/// The tables (`inputs`) and views (`outputs`) of a compiled program.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProgramSchema {
    /// Tables, with their columns.
    #[schema(value_type = Vec<Object>)]
    pub inputs: Vec<Relation>,
    /// Views, with their columns.
    #[schema(value_type = Vec<Object>)]
    pub outputs: Vec<Relation>,
    /// The compiler's warnings about a program that compiled (SQL that has no effect, such as ORDER BY without
    /// LIMIT in a view); left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<SqlCompilerMessage>,
}

/// Compiles SQL programs. Implementations run on a blocking thread.
pub trait ProgramCompiler: Send + Sync + 'static {
    /// `Err(reason)` when this build cannot compile programs at all; they then stay `Pending` with `reason`.
    fn available(&self) -> Result<(), String>;

    /// Compiles `code` into its schema, or the diagnostics that prevent it.
    fn compile(&self, code: &str) -> Result<ProgramSchema, ProgramStatus>;
}

/// The compiler of a build without the SQL engine: it compiles nothing and says so.
#[derive(Clone, Copy, Debug, Default)]
pub struct UnavailableCompiler;

/// The status detail of programs in a build without the SQL engine.
pub const COMPILER_UNAVAILABLE: &str =
    "the SQL compiler is not available in this build of Sluice; the program stays Pending";

impl ProgramCompiler for UnavailableCompiler {
    fn available(&self) -> Result<(), String> {
        Err(COMPILER_UNAVAILABLE.to_string())
    }

    fn compile(&self, _code: &str) -> Result<ProgramSchema, ProgramStatus> {
        Err(ProgramStatus::SystemError(COMPILER_UNAVAILABLE.to_string()))
    }
}

/// The compiler of this build: `sluice-sql`, the same front end the engine runs programs from.
#[derive(Clone, Copy, Debug, Default)]
pub struct SqlCompiler;

impl ProgramCompiler for SqlCompiler {
    fn available(&self) -> Result<(), String> {
        Ok(())
    }

    fn compile(&self, code: &str) -> Result<ProgramSchema, ProgramStatus> {
        // The front end promises errors, never panics; a panic would still be a bug in Sluice, not in the program,
        // so it is reported as a system error instead of taking the compile task down silently.
        let outcome =
            std::panic::catch_unwind(|| sluice_sql::Program::compile(code)).map_err(|_| {
                ProgramStatus::SystemError("the SQL compiler panicked on this program".into())
            })?;
        match outcome {
            Ok(program) => {
                for w in &program.warnings {
                    tracing::warn!(warning = %w, "The SQL program compiled with a warning.");
                }
                Ok(ProgramSchema {
                    inputs: program.tables.into_iter().map(|t| t.relation).collect(),
                    outputs: program.views.into_iter().map(|v| v.relation).collect(),
                    warnings: program.warnings.into_iter().map(message).collect(),
                })
            }
            Err(errors) => Err(ProgramStatus::SqlError(
                errors.0.into_iter().map(message).collect(),
            )),
        }
    }
}

/// A compiler diagnostic in the API's shape (one position: the front end gives no end).
fn message(e: sluice_sql::SqlError) -> SqlCompilerMessage {
    SqlCompilerMessage {
        start_line_number: e.line,
        start_column: e.column,
        end_line_number: e.line,
        end_column: e.column,
        warning: e.warning,
        error_type: if e.warning { "Warning" } else { "Error" }.into(),
        message: e.message,
    }
}

/// The canonical form of a relation name as SQL would resolve it: unquoted names are case-insensitive (lower
/// case), double-quoted names are taken verbatim without their quotes.
pub fn canonical_identifier(name: &str) -> String {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.to_string(),
        None => name.to_lowercase(),
    }
}

impl ProgramSchema {
    /// Whether the program has a table called `name` (compared as SQL would, see [`canonical_identifier`]).
    pub fn has_table(&self, name: &str) -> bool {
        has_relation(&self.inputs, name)
    }

    /// Whether the program has a view called `name`.
    pub fn has_view(&self, name: &str) -> bool {
        has_relation(&self.outputs, name)
    }
}

fn has_relation(relations: &[Relation], name: &str) -> bool {
    let wanted = canonical_identifier(name);
    relations.iter().any(|r| r.name == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_has_feldera_shape() {
        assert_eq!(json!(ProgramStatus::Pending), json!("Pending"));
        let msg = SqlCompilerMessage {
            start_line_number: 1,
            start_column: 2,
            end_line_number: 1,
            end_column: 5,
            warning: false,
            error_type: "Error parsing SQL".into(),
            message: "bad".into(),
        };
        let v = json!(ProgramStatus::SqlError(vec![msg]));
        assert_eq!(v["SqlError"][0]["start_column"], 2);
    }

    #[test]
    fn relation_names_follow_sql_case_rules() {
        let schema = ProgramSchema {
            inputs: vec![Relation::new("orders", vec![])],
            outputs: vec![Relation::new("Totals", vec![])],
            warnings: vec![],
        };
        assert!(schema.has_table("ORDERS"));
        assert!(schema.has_table("\"orders\""));
        assert!(!schema.has_table("\"ORDERS\""));
        assert!(schema.has_view("\"Totals\""));
        assert!(!schema.has_view("Totals"));
        assert!(!schema.has_view("orders"));
    }
}
