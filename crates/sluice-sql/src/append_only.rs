//! Append-only relations: tables declared `WITH ('append_only' = 'true')` (Feldera's table property), which accept
//! inserts only, and the views that can therefore never delete a row.
//!
//! Knowing it at compile time lets an output connector that sends plain rows (which cannot say "deleted") be
//! checked when the pipeline starts instead of failing at the first deleting step, hours later.

use datafusion::sql::sqlparser::ast::{CreateTableOptions, SqlOption};

use crate::error::Unsupported;
use crate::names::normalize;
use crate::plan::{JoinKind, Node};

/// The `WITH (...)` options of a `CREATE TABLE`: `'append_only' = 'true' | 'false'`; any other option is refused
/// by name, so that nothing a user writes is silently ignored.
pub(crate) fn table_is_append_only(
    table: &str,
    options: &CreateTableOptions,
) -> Result<bool, Unsupported> {
    let options = match options {
        CreateTableOptions::None => return Ok(false),
        CreateTableOptions::With(options) => options,
        other => {
            return Err(Unsupported::new(format!(
                "table {table}: only WITH ('append_only' = 'true') options are supported, found {other}"
            )))
        }
    };
    let mut append_only = false;
    for option in options {
        let SqlOption::KeyValue { key, value } = option else {
            return Err(Unsupported::new(format!(
                "table {table}: option {option} is not supported; write WITH ('append_only' = 'true')"
            )));
        };
        let name = normalize(key).to_lowercase();
        match name.as_str() {
            "append_only" => {
                let text = value.to_string();
                append_only = match text.trim_matches('\'').to_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(Unsupported::new(format!(
                            "table {table}: 'append_only' is 'true' or 'false', not {text}"
                        )))
                    }
                }
            }
            "connectors" => {
                return Err(Unsupported::new(format!(
                    "table {table}: connectors are not declared in SQL here; attach them to the pipeline through \
                     the API (POST /v0/connectors, then the pipeline's attached connectors)"
                )))
            }
            _ => {
                return Err(Unsupported::new(format!(
                    "table {table}: option '{name}' is not supported (the one table option is 'append_only')"
                )))
            }
        }
    }
    Ok(append_only)
}

/// Whether a plan can only ever add rows, given which tables and earlier views are append-only.
///
/// Row-wise operators, `UNION ALL`, `DISTINCT` (and a `GROUP BY` without aggregates), inner and semi joins keep an append-only input append-only: a row
/// they output stays justified by input rows that stay. Aggregates, top-k, windows, outer and anti joins replace
/// or retract rows as their inputs grow, so their output is not, whatever the inputs. Constants are inserted once.
pub fn is_append_only(node: &Node, tables: &[bool], views: &[bool]) -> bool {
    let of = |n: &Node| is_append_only(n, tables, views);
    match node {
        Node::Table(i) => tables[*i],
        Node::View(i) => views[*i],
        Node::Constant(_) => true,
        Node::Filter { input, .. } | Node::Map { input, .. } => of(input),
        // DataFusion plans `SELECT DISTINCT` as a GROUP BY without aggregates: a distinct over the keys.
        Node::Distinct(input) => of(input),
        Node::Aggregate { input, aggs, .. } if aggs.is_empty() => of(input),
        Node::UnionAll(inputs) => inputs.iter().all(of),
        Node::Join(j) => match j.kind {
            JoinKind::Inner | JoinKind::LeftSemi | JoinKind::RightSemi => {
                of(&j.left) && of(&j.right)
            }
            JoinKind::Left
            | JoinKind::Right
            | JoinKind::Full
            | JoinKind::LeftAnti
            | JoinKind::RightAnti => false,
        },
        Node::Aggregate { .. } | Node::TopK { .. } | Node::Window { .. } => false,
    }
}
