//! `CREATE INDEX name ON view (columns)`: Feldera's way of naming the key of a view's output. An index changes no
//! result; an output connector that names it (`"index": "name"`) keys its messages by the index's columns, exactly
//! as if the format's `key_fields` listed them. The engine keeps a count of rows per key of each index (one integer
//! per key), so that such a connector can refuse a key that several rows have, even when they came in different
//! steps.

use datafusion::sql::sqlparser::ast::{CreateIndex, Expr};
use sluice_data::Relation;

use crate::error::Unsupported;
use crate::names::{normalize, object_name};

/// An index of the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDef {
    /// The index's name.
    pub name: String,
    /// The view it indexes.
    pub view: String,
    /// Its key columns, in order.
    pub columns: Vec<String>,
}

/// What a name an index is on refers to, among the relations declared before it.
pub(crate) enum Indexed<'a> {
    /// A view, with its columns.
    View(&'a Relation),
    /// A table (which has no output to key).
    Table,
    /// Nothing.
    Missing,
}

/// Checks a `CREATE INDEX` against the relations declared before it (`relation` looks a name up) and the indexes
/// so far.
pub(crate) fn index<'a>(
    ci: &CreateIndex,
    relation: impl Fn(&str) -> Indexed<'a>,
    indexes: &[IndexDef],
) -> Result<IndexDef, Unsupported> {
    let name = ci
        .name
        .as_ref()
        .ok_or_else(|| {
            Unsupported::new("an index needs a name: CREATE INDEX name ON view (columns)")
        })
        .and_then(object_name)?;
    if indexes.iter().any(|i| i.name == name) {
        return Err(Unsupported::new(format!(
            "an index called {name} already exists"
        )));
    }
    let on = object_name(&ci.table_name)?;
    let view = match relation(&on) {
        Indexed::View(v) => v,
        Indexed::Table => {
            return Err(Unsupported::new(format!(
            "CREATE INDEX applies to views (it names the key of a view's output): {on} is a table"
        )))
        }
        Indexed::Missing => {
            return Err(Unsupported::new(format!(
                "index {name}: no view called {on} is declared before it"
            )))
        }
    };
    let unsupported_clause = [
        (ci.unique, "UNIQUE"),
        (ci.using.is_some(), "USING"),
        (ci.concurrently, "CONCURRENTLY"),
        (ci.if_not_exists, "IF NOT EXISTS"),
        (!ci.include.is_empty(), "INCLUDE"),
        (ci.nulls_distinct.is_some(), "NULLS [NOT] DISTINCT"),
        (!ci.with.is_empty(), "WITH"),
        (ci.predicate.is_some(), "WHERE"),
        (
            !ci.index_options.is_empty() || !ci.alter_options.is_empty(),
            "index options",
        ),
    ]
    .into_iter()
    .find_map(|(set, clause)| set.then_some(clause));
    if let Some(clause) = unsupported_clause {
        return Err(Unsupported::new(format!(
            "index {name}: {clause} is not supported; an index here only names key columns: CREATE INDEX {name} \
             ON {on} (column, ...)"
        )));
    }
    if ci.columns.is_empty() {
        return Err(Unsupported::new(format!("index {name} names no columns")));
    }
    let mut columns: Vec<String> = Vec::new();
    for c in &ci.columns {
        let order = &c.column.options;
        let plain =
            order.asc.is_none() && order.nulls_first.is_none() && c.operator_class.is_none();
        let column = match &c.column.expr {
            Expr::Identifier(ident) if plain => normalize(ident),
            other => {
                return Err(Unsupported::new(format!(
                    "index {name}: {other} is not a plain column of view {on} (no expressions, ASC/DESC or \
                     NULLS FIRST/LAST)"
                )))
            }
        };
        if !view.fields.iter().any(|f| f.name == column) {
            return Err(Unsupported::new(format!(
                "index {name}: view {on} has no column {column}"
            )));
        }
        if columns.contains(&column) {
            return Err(Unsupported::new(format!(
                "index {name} names column {column} twice"
            )));
        }
        columns.push(column);
    }
    Ok(IndexDef {
        name,
        view: on,
        columns,
    })
}
