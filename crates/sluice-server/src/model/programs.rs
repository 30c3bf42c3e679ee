//! Programs as the API shows them: descriptors, compilation status and schema, and the requests.

use serde::{Deserialize, Serialize};
use sluice_data::Relation;
use utoipa::{IntoParams, ToSchema};

/// A stored program.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramDescr {
    /// Its id (UUID v7).
    pub program_id: String,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Starts at 1; grows with every change of code or config.
    pub version: i64,
    /// Compilation status.
    pub status: ProgramStatus,
    /// Why the status is what it is, when that needs saying (e.g. no compiler in this build).
    pub status_detail: Option<String>,
    /// Tables and views with their columns, once compiled.
    pub schema: Option<ProgramSchema>,
    /// The SQL code, only with `?with_code=true`.
    pub code: Option<String>,
    /// Compilation settings.
    pub config: ProgramConfig,
}

/// Compilation settings of a program.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramConfig {
    /// Optimization profile; `null` for the server default.
    #[serde(default)]
    pub profile: Option<CompilationProfile>,
}

/// How much the compiler optimizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CompilationProfile {
    /// Fast compilation.
    Dev,
    /// No optimization.
    Unoptimized,
    /// Full optimization.
    Optimized,
}

/// Body of `POST /v0/programs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProgramRequest {
    /// The name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// SQL code.
    pub code: String,
    /// Compilation settings.
    #[serde(default)]
    pub config: ProgramConfig,
}

/// Body of `PUT /v0/programs/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrReplaceProgramRequest {
    /// Free text.
    pub description: String,
    /// SQL code.
    pub code: String,
    /// Compilation settings.
    #[serde(default)]
    pub config: ProgramConfig,
}

/// Body of `PATCH /v0/programs/{name}`: absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProgramRequest {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// New SQL code.
    pub code: Option<String>,
    /// New settings.
    pub config: Option<ProgramConfig>,
    /// Apply only if the program is still at this version (else 409 `OutdatedProgramVersion`).
    pub guard: Option<i64>,
}

/// Body of `POST /v0/programs/{name}/compile`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompileProgramRequest {
    /// The version to compile; must be the latest.
    pub version: i64,
}

/// Answer of a create or replace.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProgramIdResponse {
    /// The program's id.
    pub program_id: String,
    /// Its version.
    pub version: i64,
}

/// Answer of a patch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateProgramResponse {
    /// The version after the change.
    pub version: i64,
}

/// `?with_code=` of the read endpoints.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithCode {
    /// Include the code.
    #[serde(default)]
    pub with_code: bool,
}

/// `?id=`, `?name=` and `?with_code=` of the list endpoint.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProgramListQuery {
    /// Only the program with this id.
    pub id: Option<String>,
    /// Only the program with this name.
    pub name: Option<String>,
    /// Include the code.
    #[serde(default)]
    pub with_code: bool,
}

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
    pub inputs: Vec<ProgramRelation>,
    /// Views, with their columns.
    #[schema(value_type = Vec<Object>)]
    pub outputs: Vec<ProgramRelation>,
    /// The compiler's warnings about a program that compiled (SQL that has no effect, such as ORDER BY without
    /// LIMIT in a view); left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<SqlCompilerMessage>,
}

/// A table or view of a compiled program: its name and columns, and what the compiler knows of its rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramRelation {
    /// Name and columns.
    #[serde(flatten)]
    pub relation: Relation,
    /// A view declared `CREATE MATERIALIZED VIEW`: it keeps its contents (what `send_snapshot` sends).
    #[serde(default)]
    pub materialized: bool,
    /// A table declared `WITH ('append_only' = 'true')`, or a view that can only gain rows (it reads append-only
    /// tables without aggregating, limiting or outer-joining): plain-row output (`raw`) can send it whole.
    #[serde(default)]
    pub append_only: bool,
}

impl ProgramRelation {
    /// `relation`, neither materialized nor append-only.
    pub fn plain(relation: Relation) -> Self {
        ProgramRelation {
            relation,
            materialized: false,
            append_only: false,
        }
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

fn has_relation(relations: &[ProgramRelation], name: &str) -> bool {
    let wanted = canonical_identifier(name);
    relations.iter().any(|r| r.relation.name == wanted)
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
            inputs: vec![ProgramRelation::plain(Relation::new("orders", vec![]))],
            outputs: vec![ProgramRelation::plain(Relation::new("Totals", vec![]))],
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
