//! An output connector's `index`: the name of a `CREATE INDEX` on its view, whose columns key its messages.
//! Resolved at start into the format's `key_fields`, so the encoders know one way of naming a key.
//!
//! A format that sends one message per key (`upsert`, keyed `debezium`) with `enforce_unique_key` needs a key that
//! names at most one row. Either the plan proves it (`sluice_sql::proves_unique`: GROUP BY columns, a primary key
//! carried through), or an index on exactly those columns makes the engine count the rows per key, so that a key's
//! second row fails the connector whichever step brings it. A key with neither could repeat unseen across steps:
//! it is refused at start, saying what to do.

use sluice_sql::{proves_unique, Program};
use sluice_types::{AvroUpdateFormat, ConnectorConfig, FormatConfig};

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
        Some(FormatConfig::Avro(avro)) => &mut avro.key_fields,
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
    let key_fields = unique_key(config)?;
    if let Some(name) = &config.index {
        return Some(canonical(name));
    }
    let key_fields = key_fields?;
    program
        .indexes
        .iter()
        .find(|i| i.view == o.view && i.columns == key_fields)
        .map(|i| i.name.clone())
}

/// Refuses `o` (with its resolved `config`) when its format promises one row per key and nothing guarantees it:
/// the plan does not prove the key unique and no index counts its rows.
pub(super) fn check_unique_key(
    o: &OutputSpec,
    config: &ConnectorConfig,
    program: &Program,
) -> Result<(), PipelineError> {
    let Some(key_fields) = unique_key(config) else {
        return Ok(());
    };
    if unique_index(o, config, program).is_some() {
        return Ok(());
    }
    let Some((v, view)) = program
        .views
        .iter()
        .enumerate()
        .find(|(_, v)| v.relation.name == o.view)
    else {
        return Ok(());
    };
    let names: Vec<String> = match key_fields {
        Some(fields) => fields.to_vec(),
        None => view
            .relation
            .fields
            .iter()
            .map(|f| f.name.clone())
            .collect(),
    };
    let Some(columns) = names
        .iter()
        .map(|n| view.relation.field_index(n))
        .collect::<Option<Vec<usize>>>()
    else {
        // An unknown column: the connector's start names it.
        return Ok(());
    };
    if proves_unique(program, v, &columns) {
        return Ok(());
    }
    let key = match key_fields {
        Some(_) => format!("format.config.key_fields {names:?}"),
        None => "the whole record (no key_fields)".to_string(),
    };
    Err(PipelineError::UniqueKey {
        connector: o.name.clone(),
        reason: format!(
            "{key} must name at most one row of view '{}' (one message per key, enforce_unique_key), and \
             nothing guarantees it: they are not its GROUP BY columns or a primary key it keeps, and no index \
             counts its rows. Declare CREATE INDEX {}_key ON {} ({}) so that a key's second row fails the \
             connector in whichever step it comes, key by columns the view keeps unique, or set \
             enforce_unique_key to false to let the last row of a key win",
            o.view,
            o.view,
            o.view,
            names.join(", ")
        ),
    })
}

/// `Some(key_fields)` when `config`'s format sends one message per key and promises one row per key (JSON
/// `upsert` and keyed `debezium` with `enforce_unique_key`, Avro `confluent_jdbc` and keyed `debezium`);
/// `key_fields` is `None` for a key of the whole record.
fn unique_key(config: &ConnectorConfig) -> Option<Option<&[String]>> {
    match &config.format {
        Some(FormatConfig::Json(json)) if json.enforces_unique_key() => {
            Some(json.key_fields.as_deref())
        }
        Some(FormatConfig::Avro(avro))
            if avro.update_format == AvroUpdateFormat::ConfluentJdbc
                || (avro.update_format == AvroUpdateFormat::Debezium
                    && avro.key_fields.is_some()) =>
        {
            Some(avro.key_fields.as_deref())
        }
        _ => None,
    }
}
