//! Connectors declared in SQL: `CREATE TABLE t (...) WITH ('connectors' = '[...]')` and the same on views, the way
//! Feldera's current API attaches connectors.
//!
//! Each element of the JSON array is a connector config as `POST /v0/connectors` takes it (`transport`, `format`
//! and the endpoint settings), plus an optional `name`. It goes through the same checks
//! ([`check_new_config`]); a refusal becomes a compiler message at the `'connectors'` option, naming the
//! relation, the connector and the field. Two rules are added: the connector's direction must fit the relation
//! (inputs on tables, outputs on views), and a secret must be a reference (`${secret:NAME}`), because the
//! program's SQL is shown as written.

use std::path::Path;

use serde_json::{json, Map, Value};
use sluice_sql::{DeclaredConnectors, Program, SqlError};
use sluice_types::Direction;

use crate::compiler::message;
use crate::model::connectors::ConnectorConfigError;
use crate::model::embedded::DeclaredConnector;
use crate::model::programs::SqlCompilerMessage;
use crate::secrets::{redact, written_out_secrets, Secrets};
use crate::validate::{check_new_config, parse_connector_config};

/// Why declared connectors were refused.
#[derive(Debug)]
pub enum Refused {
    /// Compiler messages, one per relation whose connectors are wrong (the program is stored as not compiling).
    Messages(Vec<SqlCompilerMessage>),
    /// A secret written out in the SQL: the request is refused and nothing is stored, since the program text would
    /// show it. The field, and what to do.
    WrittenOutSecret {
        /// `{relation}.{connector}.transport.config.KEY` and the position.
        field: String,
        /// What to write instead.
        reason: String,
    },
}

/// The connectors `program` declares, checked.
pub fn declared_connectors(
    program: &Program,
    secrets: &Secrets,
    file_output_dir: &Path,
) -> Result<Vec<DeclaredConnector>, Refused> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for d in &program.connectors {
        match relation_connectors(d, secrets, file_output_dir) {
            Ok(found) => out.extend(found),
            Err(Refusal::Sql(reason)) => errors.push(message(SqlError::at(d.at, reason))),
            Err(Refusal::Secret { field, reason }) => {
                return Err(Refused::WrittenOutSecret {
                    field,
                    reason: format!("{reason} (line {}, column {})", d.at.line, d.at.column),
                })
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Refused::Messages(errors))
    }
}

enum Refusal {
    Sql(String),
    Secret { field: String, reason: String },
}

impl From<String> for Refusal {
    fn from(reason: String) -> Refusal {
        Refusal::Sql(reason)
    }
}

fn relation_connectors(
    d: &DeclaredConnectors,
    secrets: &Secrets,
    file_output_dir: &Path,
) -> Result<Vec<DeclaredConnector>, Refusal> {
    let kind = if d.is_table { "table" } else { "view" };
    let whose = format!("{kind} {}", d.relation);
    let list: Value = serde_json::from_str(&d.json)
        .map_err(|e| format!("{whose}: 'connectors' is not valid JSON: {e}"))?;
    let Value::Array(items) = list else {
        return Err(
            format!("{whose}: 'connectors' must be a JSON array of connector objects").into(),
        );
    };
    let mut out: Vec<DeclaredConnector> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(mut config) = item else {
            return Err(format!("{whose}: connector #{} is not a JSON object", i + 1).into());
        };
        let name = match config.remove("name") {
            None | Some(Value::Null) => format!("unnamed-{i}"),
            Some(Value::String(n)) if !n.trim().is_empty() => n,
            Some(other) => {
                return Err(format!(
                    "{whose}: connector #{}: 'name' must be a non-empty string, not {other}",
                    i + 1
                )
                .into())
            }
        };
        let endpoint = format!("{}.{name}", d.relation);
        let label = format!("{whose}, connector '{name}'");
        if out.iter().any(|c| c.endpoint == endpoint) {
            return Err(format!("{label}: two connectors of {} have this name", d.relation).into());
        }
        let config = Value::Object(config);
        if let Some(field) = written_out_secrets(&config).first() {
            return Err(Refusal::Secret {
                field: format!("{}.{name}.{field}", d.relation),
                reason: format!(
                    "{label}: {field} holds a secret written out in the SQL, which the API shows as written; \
                     reference it instead, e.g. '${{secret:NAME}}' (a file NAME in the server's secrets directory)"
                ),
            });
        }
        // The direction first: a connector on the wrong kind of relation is wrong whatever its options.
        let transport = parse_connector_config(&config)
            .map_err(|e| format!("{label}: {}", refusal(e)))?
            .transport;
        let is_input = transport.direction() == Direction::Input;
        if is_input != d.is_table {
            return Err(format!(
                "{label}: the {} transport is an {} connector, which belongs on a {}",
                transport.name(),
                if is_input { "input" } else { "output" },
                if is_input { "table" } else { "view" },
            )
            .into());
        }
        let parsed = check_new_config(secrets, &config, file_output_dir)
            .map_err(|e| format!("{label}: {}", refusal(e)))?;
        out.push(DeclaredConnector {
            endpoint,
            relation: d.relation.clone(),
            is_input,
            config: serde_json::to_value(parsed).map_err(|e| format!("{label}: {e}"))?,
        });
    }
    Ok(out)
}

/// A validation refusal without the request-body prefix (`config.`) its field carries.
fn refusal(e: ConnectorConfigError) -> String {
    match e {
        ConnectorConfigError::Invalid { field, reason } => {
            let field = field.strip_prefix("config.").unwrap_or(&field);
            format!("{field}: {reason}")
        }
        other => other.to_string(),
    }
}

/// Feldera's `program_info.input_connectors` / `output_connectors`: endpoint name → `{stream, connector_config}`,
/// secret values masked.
pub fn connector_map(connectors: &[DeclaredConnector], inputs: bool) -> Value {
    let mut map = Map::new();
    for c in connectors.iter().filter(|c| c.is_input == inputs) {
        let mut config = c.config.clone();
        redact(&mut config);
        map.insert(
            c.endpoint.clone(),
            json!({"stream": c.relation, "connector_config": config}),
        );
    }
    Value::Object(map)
}
