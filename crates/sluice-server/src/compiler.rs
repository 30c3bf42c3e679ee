//! Program compilation, behind the [`ProgramCompiler`] trait (a middle floor: it knows the model, not HTTP).
//!
//! The server records a program's [`ProgramStatus`] and, once compiled, its [`ProgramSchema`] (the tables and
//! views with their columns). [`SqlCompiler`] compiles with `sluice-sql` (DataFusion's parser and planner, lowered
//! to Sluice's dataflow plan), so a program that the engine cannot run is a `SqlError` here, with positions.
//! [`UnavailableCompiler`] is for builds or tests without a compiler: programs then stay `Pending` with a
//! `status_detail` that explains why, rather than pretending to compile.

use crate::model::programs::{ProgramRelation, ProgramSchema, ProgramStatus, SqlCompilerMessage};

/// Compiles SQL programs. Implementations run on a blocking thread.
pub trait ProgramCompiler: Send + Sync + 'static {
    /// `Err(reason)` when this build cannot compile programs at all; they then stay `Pending` with `reason`.
    fn available(&self) -> Result<(), String>;

    /// Compiles `code` into the program the engine runs, or the diagnostics that prevent it.
    fn compile_program(&self, code: &str) -> Result<sluice_sql::Program, ProgramStatus>;

    /// Compiles `code`, a program of `/v0/programs`, into its schema, or the diagnostics that prevent it.
    /// Connectors declared in its SQL are refused: such a program's connectors are attached to its pipelines.
    fn compile(&self, code: &str) -> Result<ProgramSchema, ProgramStatus> {
        let program = self.compile_program(code)?;
        if !program.connectors.is_empty() {
            return Err(ProgramStatus::SqlError(
                program
                    .connectors
                    .iter()
                    .map(|c| {
                        message(sluice_sql::SqlError::at(
                            c.at,
                            format!(
                                "{}: connectors declared in SQL take effect in pipelines written with \
                                 program_code (PUT /v0/pipelines/{{name}}); a program of /v0/programs has its \
                                 connectors attached to its pipelines (POST /v0/connectors, then the pipeline's \
                                 connectors)",
                                c.relation
                            ),
                        ))
                    })
                    .collect(),
            ));
        }
        Ok(schema_of(program))
    }
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

    fn compile_program(&self, _code: &str) -> Result<sluice_sql::Program, ProgramStatus> {
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

    fn compile_program(&self, code: &str) -> Result<sluice_sql::Program, ProgramStatus> {
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
                Ok(program)
            }
            Err(errors) => Err(ProgramStatus::SqlError(
                errors.0.into_iter().map(message).collect(),
            )),
        }
    }
}

/// The schema of a compiled program: its tables and views with their columns.
pub fn schema_of(program: sluice_sql::Program) -> ProgramSchema {
    ProgramSchema {
        inputs: program
            .tables
            .into_iter()
            .map(|t| ProgramRelation {
                relation: t.relation,
                materialized: false,
                append_only: t.append_only,
            })
            .collect(),
        outputs: program
            .views
            .into_iter()
            .map(|v| ProgramRelation {
                relation: v.relation,
                materialized: v.materialized,
                append_only: v.append_only,
            })
            .collect(),
        warnings: program.warnings.into_iter().map(message).collect(),
    }
}

/// A compiler diagnostic in the API's shape (one position: the front end gives no end).
pub fn message(e: sluice_sql::SqlError) -> SqlCompilerMessage {
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
