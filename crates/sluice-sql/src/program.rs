//! Compiling a program: parse the statements, register tables, plan and lower views in order.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{Field as ArrowField, Schema};
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    ColumnOption, CreateTable, CreateView, Spanned, Statement, TableConstraint,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use sluice_data::{Field, Relation};

use crate::append_only::is_append_only;
use crate::error::{offset, CompileErrors, Pos, SqlError, Unsupported};
use crate::index::{IndexDef, Indexed};
use crate::lateness::{take_lateness_clauses, Lateness, LatenessClause};
use crate::lower::{lower, Source};
use crate::names::{normalize, object_name};
use crate::options::{table_options, view_options, DeclaredConnectors};
use crate::plan::Node;
use crate::types::{column_type, sql_type_of_arrow};

/// A table of the program.
#[derive(Clone, Debug)]
pub struct TableDef {
    /// Name, columns, types and nullability.
    pub relation: Relation,
    /// Column indices of the `PRIMARY KEY`, empty when the table has none.
    pub primary_key: Vec<usize>,
    /// Declared `WITH ('append_only' = 'true')`: the table accepts inserts only.
    pub append_only: bool,
    /// Columns declared with `LATENESS`, in column order.
    pub lateness: Vec<Lateness>,
}

/// A view of the program.
#[derive(Clone, Debug)]
pub struct ViewDef {
    /// Name, columns, types and nullability.
    pub relation: Relation,
    /// The lowered plan.
    pub plan: Node,
    /// Declared `CREATE MATERIALIZED VIEW`.
    pub materialized: bool,
    /// The view can only ever gain rows (see [`crate::is_append_only`]): it reads append-only tables through
    /// operators that never retract.
    pub append_only: bool,
    /// The statement as SQL (printed from the parsed statement; the test oracle replays it).
    pub sql: String,
    /// `WITH ('emit_final' = 'column')`: the view outputs a row once, when it can no longer change, which is when
    /// this column's value (an index into the view's columns, anchored to a waterline) falls behind the waterline.
    pub emit_final: Option<crate::anchor::EmitFinal>,
}

/// A compiled program: its tables and views in declaration order.
#[derive(Clone, Debug)]
pub struct Program {
    /// Tables, in declaration order.
    pub tables: Vec<TableDef>,
    /// Views, in declaration order; a view only refers to tables and earlier views.
    pub views: Vec<ViewDef>,
    /// The `CREATE TABLE` statements as SQL.
    pub table_sql: Vec<String>,
    /// `CREATE INDEX` statements: named key columns of views, for output connectors' `index`.
    pub indexes: Vec<IndexDef>,
    /// What compiled but may not do what its author expects (each with `warning: true`).
    pub warnings: Vec<SqlError>,
    /// Connectors declared with `WITH ('connectors' = '...')`, in declaration order; their JSON is not checked
    /// here (see [`DeclaredConnectors`]).
    pub connectors: Vec<DeclaredConnectors>,
}

impl Program {
    /// Compiles `sql`, a sequence of `CREATE TABLE`, `CREATE [MATERIALIZED] VIEW` and `CREATE INDEX` statements.
    pub fn compile(sql: &str) -> Result<Program, CompileErrors> {
        // `TUMBLE(TABLE t, ...)`: the `TABLE` blanked out so that the parser reads it, and `LATENESS <expr>` taken
        // out of column definitions (positions unchanged).
        let (parseable, mut lateness) =
            take_lateness_clauses(&crate::windows::blank_table_arguments(sql));
        let statements = Parser::parse_sql(&GenericDialect {}, &parseable)
            .map_err(|e| CompileErrors(vec![parse_error(&e.to_string())]))?;
        let mut compiler = Compiler {
            ctx: SessionContext::new(),
            sources: HashMap::new(),
            program: Program {
                tables: vec![],
                views: vec![],
                table_sql: vec![],
                indexes: vec![],
                warnings: vec![],
                connectors: vec![],
            },
            warnings: vec![],
            declared: None,
            lateness: vec![],
        };
        let mut errors = Vec::new();
        let starts = statement_starts(sql, &statements);
        for (i, stmt) in statements.iter().enumerate() {
            let (start, end) = (starts[i], starts.get(i + 1).copied().unwrap_or(sql.len()));
            let pos = position(sql, start);
            let text = &sql[start..end];
            let (mine, later): (Vec<_>, Vec<_>) =
                lateness.into_iter().partition(|c| c.offset < end);
            (compiler.lateness, lateness) = (mine, later);
            let result = match stmt {
                Statement::CreateTable(t) => compiler.table(t),
                Statement::CreateView(v) => compiler.view(v),
                Statement::CreateIndex(ci) => {
                    let p = &compiler.program;
                    let relation = |n: &str| match (p.view(n), p.table(n)) {
                        (Some(v), _) => Indexed::View(&v.relation),
                        (None, Some(_)) => Indexed::Table,
                        (None, None) => Indexed::Missing,
                    };
                    crate::index::index(ci, relation, &p.indexes)
                        .map(|i| compiler.program.indexes.push(i))
                }
                other => Err(Unsupported::new(format!(
                    "only CREATE TABLE, CREATE VIEW and CREATE INDEX statements are allowed, found: {}",
                    first_words(&other.to_string())
                ))),
            };
            if let Err(u) = result {
                errors.push(locate(sql, text, pos, u));
            }
            if let Some((relation, is_table, json)) = compiler.declared.take() {
                let at = locate(sql, text, pos, Unsupported::at_keyword("", "connectors"));
                compiler.program.connectors.push(DeclaredConnectors {
                    relation,
                    is_table,
                    json,
                    at: Pos {
                        line: at.line,
                        column: at.column,
                    },
                });
            }
            for w in std::mem::take(&mut compiler.warnings) {
                compiler.program.warnings.push(SqlError {
                    warning: true,
                    ..locate(sql, text, pos, w)
                });
            }
        }
        if errors.is_empty() {
            Ok(compiler.program)
        } else {
            // Warnings go with the errors, in statement order, as a compiler lists them.
            let mut all = errors;
            all.extend(compiler.program.warnings);
            all.sort_by_key(|e| (e.line, e.column));
            Err(CompileErrors(all))
        }
    }

    /// The table called `name` (exact, already case-normalised name).
    pub fn table(&self, name: &str) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.relation.name == name)
    }

    /// The index called `name`.
    pub fn index(&self, name: &str) -> Option<&IndexDef> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The view called `name`.
    pub fn view(&self, name: &str) -> Option<&ViewDef> {
        self.views.iter().find(|v| v.relation.name == name)
    }
}

struct Compiler {
    ctx: SessionContext,
    sources: HashMap<String, Source>,
    program: Program,
    /// Warnings of the statement being compiled, positioned by `compile`.
    warnings: Vec<Unsupported>,
    /// Connectors the statement being compiled declares (relation, is a table, JSON), positioned by `compile`.
    declared: Option<(String, bool, String)>,
    /// The `LATENESS` clauses of the statement being compiled (only a `CREATE TABLE` has any).
    lateness: Vec<LatenessClause>,
}

impl Compiler {
    fn table(&mut self, t: &CreateTable) -> Result<(), Unsupported> {
        let name = object_name(&t.name)?;
        self.check_new_name(&name)?;
        // A table's contents come only from its input connectors, so every form that would fill or shape it
        // from elsewhere is refused rather than compiled into a table with no columns.
        if t.query.is_some() {
            return Err(Unsupported::at_keyword(
                format!("CREATE TABLE {name} AS SELECT is not supported: declare the columns, or use CREATE VIEW"),
                "AS",
            ));
        }
        if t.like.is_some() || t.clone.is_some() {
            return Err(Unsupported::new(format!(
                "table {name} copies another table's definition (LIKE or CLONE), which is not supported: declare its columns"
            )));
        }
        if t.columns.is_empty() {
            return Err(Unsupported::new(format!(
                "table {name} has no columns: declare at least one"
            )));
        }
        let options = table_options(&name, &t.table_options)?;
        let append_only = options.append_only;
        let mut fields = Vec::new();
        let mut arrow = Vec::new();
        let mut primary_key = Vec::new();
        for (i, c) in t.columns.iter().enumerate() {
            let col = normalize(&c.name);
            if fields.iter().any(|f: &Field| f.name == col) {
                return Err(Unsupported::new(format!(
                    "column {col} is declared twice in table {name}"
                )));
            }
            let (sql_type, arrow_type) = column_type(&c.data_type)?;
            let mut nullable = true;
            for o in &c.options {
                match &o.option {
                    ColumnOption::NotNull => nullable = false,
                    ColumnOption::Null => {}
                    ColumnOption::PrimaryKey(_) => {
                        nullable = false;
                        primary_key.push(i);
                    }
                    other => {
                        return Err(Unsupported::new(format!(
                            "column option {other} (column {col}) is not supported"
                        )))
                    }
                }
            }
            arrow.push(ArrowField::new(col.clone(), arrow_type, nullable));
            fields.push(Field::new(col, sql_type, nullable));
        }
        for c in &t.constraints {
            match c {
                TableConstraint::PrimaryKey(pk) if primary_key.is_empty() => {
                    for ic in &pk.columns {
                        let col = ic.column.expr.to_string();
                        let col = col.trim_matches('"');
                        let wanted = if ic.column.expr.to_string().starts_with('"') {
                            col.to_string()
                        } else {
                            col.to_lowercase()
                        };
                        let i = fields
                            .iter()
                            .position(|f| f.name == wanted)
                            .ok_or_else(|| {
                                Unsupported::new(format!(
                                    "PRIMARY KEY column {wanted} is not a column of {name}"
                                ))
                            })?;
                        fields[i].nullable = false;
                        arrow[i] = arrow[i].clone().with_nullable(false);
                        primary_key.push(i);
                    }
                }
                TableConstraint::PrimaryKey(_) => {
                    return Err(Unsupported::at_keyword(
                        format!("table {name} declares more than one PRIMARY KEY"),
                        "PRIMARY",
                    ))
                }
                other => {
                    return Err(Unsupported::new(format!(
                        "table constraint {other} is not supported"
                    )))
                }
            }
        }
        if append_only && !primary_key.is_empty() {
            // An insert into a keyed table replaces the row with its key: a delete, which append-only forbids.
            return Err(Unsupported::new(format!(
                "table {name} is append_only and has a PRIMARY KEY: an insert of an existing key replaces (deletes) \
                 its row; drop one of the two"
            )));
        }
        let mut lateness = Vec::new();
        for clause in std::mem::take(&mut self.lateness) {
            let i = fields
                .iter()
                .position(|f| f.name == clause.column)
                .ok_or_else(|| {
                    Unsupported::at_keyword(
                        format!("LATENESS after something that is not a column of table {name}"),
                        "LATENESS",
                    )
                })?;
            if lateness.iter().any(|l: &Lateness| l.column == i) {
                return Err(Unsupported::at_keyword(
                    format!(
                        "column {} of table {name} declares LATENESS twice",
                        clause.column
                    ),
                    &clause.column,
                ));
            }
            lateness.push(Lateness::resolve(
                &clause,
                i,
                arrow[i].data_type(),
                &self.ctx,
            )?);
        }
        lateness.sort_by_key(|l| l.column);
        let schema = Arc::new(Schema::new(arrow));
        self.register(&name, schema)?;
        self.sources
            .insert(name.clone(), Source::Table(self.program.tables.len()));
        self.program.tables.push(TableDef {
            relation: Relation::new(name, fields),
            primary_key,
            append_only,
            lateness,
        });
        self.program.table_sql.push(t.to_string());
        if let Some(json) = options.connectors {
            let name = self
                .program
                .tables
                .last()
                .expect("just pushed")
                .relation
                .name
                .clone();
            self.declared = Some((name, true, json));
        }
        Ok(())
    }

    fn view(&mut self, v: &CreateView) -> Result<(), Unsupported> {
        // Window table functions become the subqueries they stand for, before anything reads the query.
        let mut rewritten = v.clone();
        crate::windows::rewrite(&mut rewritten.query, &self.ctx)?;
        let v = &rewritten;
        let name = object_name(&v.name)?;
        self.check_new_name(&name)?;
        let options = view_options(&name, &v.options)?;
        let connectors = options.connectors;
        let q = &v.query;
        if q.order_by.is_some() && q.limit_clause.is_none() && q.fetch.is_none() {
            self.warnings.push(Unsupported::at_keyword(
                format!(
                    "ORDER BY without LIMIT has no effect on view {name}: a view is a set of rows and its changes \
                     are emitted in no particular order"
                ),
                "ORDER",
            ));
        }
        let state = self.ctx.state();
        let query = DFStatement::Statement(Box::new(Statement::Query(v.query.clone())));
        let plan = futures::executor::block_on(state.statement_to_plan(query))
            .and_then(|p| state.optimize(&p))
            .map_err(|e| planning_error(&e.to_string()))?;
        let df_schema = plan.schema();
        if !v.columns.is_empty() && v.columns.len() != df_schema.fields().len() {
            return Err(Unsupported::new(format!(
                "view {name} names {} columns but its query has {}",
                v.columns.len(),
                df_schema.fields().len()
            )));
        }
        let mut fields = Vec::new();
        let mut arrow = Vec::new();
        let extra_nulls = crate::nullability::extra_nulls(&plan);
        for (i, f) in df_schema.fields().iter().enumerate() {
            let nullable = f.is_nullable() || extra_nulls[i];
            let col = v
                .columns
                .get(i)
                .map_or_else(|| f.name().clone(), |c| normalize(&c.name));
            if fields.iter().any(|g: &Field| g.name == col) {
                return Err(Unsupported::new(format!(
                    "view {name} has two columns called {col}; give them distinct aliases"
                )));
            }
            let sql_type = sql_type_of_arrow(f.data_type()).map_err(|u| {
                Unsupported::new(format!("column {col} of view {name}: {}", u.message))
            })?;
            arrow.push(ArrowField::new(
                col.clone(),
                f.data_type().clone(),
                nullable,
            ));
            fields.push(Field::new(col, sql_type, nullable));
        }
        let node = lower(&plan, &self.sources)?;
        let emit_final = match options.emit_final {
            Some(column) => {
                Some(
                    self.program
                        .emit_final(&name, &fields, &node, &column, v.materialized)?,
                )
            }
            None => None,
        };
        let tables: Vec<bool> = self.program.tables.iter().map(|t| t.append_only).collect();
        let views: Vec<bool> = self.program.views.iter().map(|v| v.append_only).collect();
        // A view that only emits final rows never retracts one.
        let append_only = emit_final.is_some() || is_append_only(&node, &tables, &views);
        self.register(&name, Arc::new(Schema::new(arrow)))?;
        self.sources
            .insert(name.clone(), Source::View(self.program.views.len()));
        self.program.views.push(ViewDef {
            relation: Relation::new(name, fields),
            plan: node,
            materialized: v.materialized,
            append_only,
            sql: Statement::CreateView(v.clone()).to_string(),
            emit_final,
        });
        if let Some(json) = connectors {
            let name = self
                .program
                .views
                .last()
                .expect("just pushed")
                .relation
                .name
                .clone();
            self.declared = Some((name, false, json));
        }
        Ok(())
    }

    fn check_new_name(&self, name: &str) -> Result<(), Unsupported> {
        if self.sources.contains_key(name) {
            return Err(Unsupported::new(format!(
                "a table or view called {name} already exists"
            )));
        }
        Ok(())
    }

    /// Registers an empty in-memory table so that later views can be planned against its schema.
    fn register(&self, name: &str, schema: Arc<Schema>) -> Result<(), Unsupported> {
        let table =
            MemTable::try_new(schema, vec![vec![]]).map_err(|e| Unsupported::new(e.to_string()))?;
        self.ctx
            .register_table(TableReference::bare(name), Arc::new(table))
            .map_err(|e| Unsupported::new(e.to_string()))?;
        Ok(())
    }
}

/// The byte offset where each statement starts. sqlparser's span of a `CREATE` statement starts at the name, so
/// the start moves back to the statement's `CREATE` keyword (the last one after the previous statement's start).
fn statement_starts(sql: &str, statements: &[Statement]) -> Vec<usize> {
    let mut starts = Vec::with_capacity(statements.len());
    let mut previous = 0;
    for stmt in statements {
        let span = stmt.span().start;
        let span_start = offset(sql, span.line, span.column).max(previous);
        let start = sql[previous..span_start]
            .to_ascii_lowercase()
            .rfind("create")
            .map_or(span_start, |i| previous + i);
        starts.push(start);
        previous = span_start;
    }
    starts
}

/// The 1-based position of a byte offset.
fn position(sql: &str, off: usize) -> Pos {
    let before = &sql[..off.min(sql.len())];
    let line = before.matches('\n').count() as u64 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Pos {
        line,
        column: before[line_start..].chars().count() as u64 + 1,
    }
}

/// Turns a lowering failure into a positioned error: at the construct's keyword when it occurs in the
/// statement, else at the statement.
fn locate(sql: &str, text: &str, pos: Pos, u: Unsupported) -> SqlError {
    let stmt_off = offset(sql, pos.line, pos.column);
    let found = u.keyword.as_ref().and_then(|k| {
        let hay = text.to_ascii_lowercase();
        let k = k.to_ascii_lowercase();
        // Whole words only, so that a keyword inside an identifier does not match.
        hay.match_indices(&k).map(|(i, _)| i).find(|&i| {
            let before = hay[..i].chars().next_back();
            let after = hay[i + k.len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    });
    let at = found.map_or(pos, |i| position(sql, stmt_off + i));
    SqlError::at(at, u.message)
}

/// A parser error with the position sqlparser embeds in its message ("… at Line: 3, Column: 7").
fn parse_error(message: &str) -> SqlError {
    let number_after = |key: &str| -> Option<u64> {
        let i = message.rfind(key)? + key.len();
        message[i..]
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let pos = Pos {
        line: number_after("Line:").unwrap_or(1),
        column: number_after("Column:").unwrap_or(1),
    };
    let text = message.split(" at Line:").next().unwrap_or(message);
    SqlError::at(
        pos,
        format!(
            "syntax error: {}",
            text.trim_start_matches("sql parser error: ")
        ),
    )
}

/// A DataFusion planning error, positioned at the name it complains about when it names one (an unknown
/// column or table) rather than at the start of the statement.
fn planning_error(message: &str) -> Unsupported {
    let message = clean_df_error(message);
    match named_in_error(&message) {
        Some(name) => Unsupported::at_keyword(message, name),
        None => Unsupported::new(message),
    }
}

/// The unqualified, unquoted name in "No field named t.nope. Valid fields are …" or "table 'x' not found", or
/// the keyword an error is about.
fn named_in_error(message: &str) -> Option<String> {
    let raw = if let Some(rest) = message.strip_prefix("No field named ") {
        // The name ends at the first '.' that ends the sentence (qualifiers have no space after their dot).
        let end = rest
            .char_indices()
            .find(|&(i, c)| {
                c == '.' && rest[i + 1..].chars().next().is_none_or(char::is_whitespace)
            })
            .map_or(rest.len(), |(i, _)| i);
        &rest[..end]
    } else if let Some(rest) = message.strip_prefix("table '") {
        rest.split('\'').next()?
    } else if message.starts_with("RANGE requires") {
        // DataFusion's check of a RANGE frame ("RANGE requires exactly one ORDER BY column").
        "RANGE"
    } else {
        return None;
    };
    let last = raw.rsplit('.').next()?.trim_matches('"');
    (!last.is_empty()).then(|| last.to_string())
}

/// DataFusion prefixes errors with their layer ("Error during planning: …"); keep the substance.
fn clean_df_error(message: &str) -> String {
    message
        .trim_start_matches("Error during planning: ")
        .trim_start_matches("Schema error: ")
        .to_string()
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
