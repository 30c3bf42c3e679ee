//! The `WITH (...)` options of tables and views, Feldera's relation properties: `'append_only'` on tables and
//! `'connectors'` on both.
//!
//! Every option is read here or refused by name, so that nothing a user writes is silently ignored. The
//! connectors' JSON is not interpreted: the front end knows no transports or formats. It is handed over as
//! written, with the position of its option, for whoever builds connectors to validate and to blame the right
//! place when an option inside is wrong.

use datafusion::sql::sqlparser::ast::{CreateTableOptions, Expr, SqlOption, Value};

use crate::error::{Pos, Unsupported};
use crate::names::normalize;

/// Connectors declared on one relation with `WITH ('connectors' = '[...]')`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredConnectors {
    /// The table or view (case-normalised, as in its `Relation`).
    pub relation: String,
    /// A table's (input) connectors, or a view's (output) ones.
    pub is_table: bool,
    /// The option's value as written: a JSON array of connector objects.
    pub json: String,
    /// Where the `'connectors'` option is, for errors about its contents.
    pub at: Pos,
}

/// What a table's options say.
#[derive(Debug, Default)]
pub(crate) struct TableOptions {
    /// `'append_only' = 'true'`.
    pub append_only: bool,
    /// `'connectors' = '...'`, the JSON text.
    pub connectors: Option<String>,
}

/// A relation's options as key/value pairs, refusing the forms that are not `WITH (key = value, ...)`.
fn pairs<'a>(
    what: &str,
    options: &'a CreateTableOptions,
) -> Result<Vec<(String, &'a Expr)>, Unsupported> {
    let options = match options {
        CreateTableOptions::None => return Ok(vec![]),
        CreateTableOptions::With(options) => options,
        other => {
            return Err(Unsupported::new(format!(
                "{what}: only WITH ('name' = 'value', ...) options are supported, found {other}"
            )))
        }
    };
    options
        .iter()
        .map(|option| match option {
            SqlOption::KeyValue { key, value } => Ok((normalize(key).to_lowercase(), value)),
            other => Err(Unsupported::new(format!(
                "{what}: option {other} is not supported; options are written 'name' = 'value'"
            ))),
        })
        .collect()
}

/// The text of a string option, refusing any other expression.
fn text(what: &str, name: &str, value: &Expr) -> Result<String, Unsupported> {
    match value {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Ok(s.clone()),
            _ => Err(Unsupported::at_keyword(
                format!("{what}: option '{name}' takes a string in single quotes, not {value}"),
                name,
            )),
        },
        _ => Err(Unsupported::at_keyword(
            format!("{what}: option '{name}' takes a string in single quotes, not {value}"),
            name,
        )),
    }
}

/// Reads a table's options: `append_only` (`'true'`/`'false'`) and `connectors`.
pub(crate) fn table_options(
    table: &str,
    options: &CreateTableOptions,
) -> Result<TableOptions, Unsupported> {
    let what = format!("table {table}");
    let mut out = TableOptions::default();
    for (name, value) in pairs(&what, options)? {
        match name.as_str() {
            "append_only" => {
                let t = text(&what, &name, value)?;
                out.append_only = match t.to_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(Unsupported::at_keyword(
                            format!("{what}: 'append_only' is 'true' or 'false', not '{t}'"),
                            "append_only",
                        ))
                    }
                }
            }
            "connectors" => out.connectors = Some(text(&what, &name, value)?),
            _ => {
                return Err(Unsupported::at_keyword(
                    format!(
                        "{what}: option '{name}' is not supported (table options are 'append_only' and 'connectors')"
                    ),
                    name,
                ))
            }
        }
    }
    Ok(out)
}

/// Reads a view's options: `connectors`, the JSON text, if declared.
pub(crate) fn view_options(
    view: &str,
    options: &CreateTableOptions,
) -> Result<ViewOptions, Unsupported> {
    let what = format!("view {view}");
    let mut out = ViewOptions::default();
    for (name, value) in pairs(&what, options)? {
        match name.as_str() {
            "connectors" => out.connectors = Some(text(&what, &name, value)?),
            "emit_final" => out.emit_final = Some(text(&what, &name, value)?),
            _ => {
                return Err(Unsupported::at_keyword(
                    format!(
                        "{what}: option '{name}' is not supported (the view options are 'connectors' and \
                         'emit_final')"
                    ),
                    name,
                ))
            }
        }
    }
    Ok(out)
}

/// The `WITH (...)` options of a view.
#[derive(Default)]
pub(crate) struct ViewOptions {
    /// `'connectors'`, as written.
    pub connectors: Option<String>,
    /// `'emit_final' = 'column'`: the column whose waterline makes a row final (checked by the view compiler).
    pub emit_final: Option<String>,
}
