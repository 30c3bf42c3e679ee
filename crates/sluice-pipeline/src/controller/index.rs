//! An output connector's `index`: the name of a `CREATE INDEX` on its view, whose columns key its messages.
//! Resolved at start into the format's `key_fields`, so the encoders know one way of naming a key.

use sluice_sql::Program;
use sluice_types::{ConnectorConfig, FormatConfig};

use super::spec::{OutputSpec, PipelineError};

/// An index name as SQL resolves it: unquoted names are case-insensitive (lower case), double-quoted ones verbatim.
fn canonical(name: &str) -> String {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.to_string(),
        None => name.to_lowercase(),
    }
}

/// `o`'s config with the columns of its `index` as the format's `key_fields` (the config itself without one).
pub(super) fn keyed_by_index(
    o: &OutputSpec,
    program: &Program,
) -> Result<ConnectorConfig, PipelineError> {
    let mut config = o.config.clone();
    let Some(name) = &o.config.index else {
        return Ok(config);
    };
    let refuse = |reason: String| PipelineError::Index {
        connector: o.name.clone(),
        reason,
    };
    let index = program.index(&canonical(name)).ok_or_else(|| {
        let known: Vec<_> = program
            .indexes
            .iter()
            .filter(|i| i.view == o.view)
            .map(|i| i.name.as_str())
            .collect();
        refuse(format!(
            "index '{name}' is not declared in the program (CREATE INDEX {name} ON {} (columns)); indexes of \
             view '{}': {}",
            o.view,
            o.view,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
    })?;
    if index.view != o.view {
        return Err(refuse(format!(
            "index '{name}' is on view '{}', but the connector is attached to view '{}'",
            index.view, o.view
        )));
    }
    let key_fields = match config.format.as_mut() {
        Some(FormatConfig::Json(json)) => &mut json.key_fields,
        Some(FormatConfig::Csv(csv)) => &mut csv.key_fields,
        None => {
            return Err(refuse(
                "index keys the messages of a format; this connector has none".into(),
            ))
        }
    };
    match key_fields {
        Some(given) if *given != index.columns => {
            return Err(refuse(format!(
                "format.config.key_fields {given:?} and index '{name}' ({:?}) name different keys; remove one",
                index.columns
            )))
        }
        _ => *key_fields = Some(index.columns.clone()),
    }
    // The key may need what the format's other settings forbid (one record per message): check it again.
    config
        .validate()
        .map_err(|e| refuse(format!("with the key of index '{name}': {e}")))?;
    Ok(config)
}

/// The index (its name in the program) whose keys `config`'s messages promise to be unique, when its format
/// enforces one row per key: the connector's `index`, or else an index of its view on exactly its `key_fields`.
pub(super) fn unique_index(
    o: &OutputSpec,
    config: &ConnectorConfig,
    program: &Program,
) -> Option<String> {
    let Some(FormatConfig::Json(json)) = &config.format else {
        return None;
    };
    if !json.enforces_unique_key() {
        return None;
    }
    if let Some(name) = &config.index {
        return Some(canonical(name));
    }
    let key_fields = json.key_fields.as_ref()?;
    program
        .indexes
        .iter()
        .find(|i| i.view == o.view && i.columns == *key_fields)
        .map(|i| i.name.clone())
}
