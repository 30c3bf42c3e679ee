//! Connector config validation: everything a connector config must pass before it is stored.
//!
//! [`validate_connector_config`] is the single entry point: it deserializes the JSON as a
//! [`ConnectorConfig`], refuses the transports users may not create, runs [`ConnectorConfig::validate`], and
//! checks the librdkafka options of Kafka transports (`kafka_output` and `kafka_input`). Errors name the field by
//! its path in the request body (`config.transport.config.topic`). Warnings (accepted settings that have no effect)
//! are logged.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_transports::kafka_input::validate_input_config;
use sluice_transports::kafka_output::validate_config;
use sluice_types::{ConnectorConfig, TransportConfig};

use crate::model::connectors::ConnectorConfigError;
use crate::model::decode::{from_value, serde_reason};
use crate::secrets::Secrets;

/// Where the config sits in the request body; error paths start with it.
const BODY_FIELD: &str = "config";

/// `config` (the request's `config` member) deserialized, with the transports users may not create refused; no
/// other check.
pub fn parse_connector_config(config: &Value) -> Result<ConnectorConfig, ConnectorConfigError> {
    let parsed: ConnectorConfig = from_value(config).map_err(|(path, e)| {
        let (field, reason) = split_field(&path, &serde_reason(&e));
        invalid(&field, reason)
    })?;
    if let TransportConfig::HttpInput | TransportConfig::HttpOutput = parsed.transport {
        return Err(ConnectorConfigError::Transport {
            reason: format!(
                "Transport type {} cannot be created directly",
                parsed.transport.name()
            ),
        });
    }
    Ok(parsed)
}

/// Checks `config` (the request's `config` member) and returns it normalized, with its warnings.
pub fn validate_connector_config(
    config: &Value,
) -> Result<(ConnectorConfig, Vec<String>), ConnectorConfigError> {
    let parsed = parse_connector_config(config)?;
    let mut warnings = parsed.validate().map_err(|e| invalid(&e.field, e.reason))?;
    // librdkafka itself checks every option of a Kafka transport, without a network.
    let kafka_warnings = match &parsed.transport {
        TransportConfig::KafkaOutput(kafka) => validate_config(kafka),
        TransportConfig::KafkaInput(kafka) => validate_input_config(kafka),
        TransportConfig::FileOutput(_)
        | TransportConfig::NullOutput
        | TransportConfig::HttpInput
        | TransportConfig::HttpOutput => Ok(Vec::new()),
    }
    .map_err(|e| e.within("transport.config"))
    .map_err(|e| invalid(&e.field, e.reason))?;
    for warning in kafka_warnings {
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }
    for warning in &warnings {
        tracing::warn!(warning = %warning, "Connector config accepted with a warning.");
    }
    Ok((parsed, warnings))
}

/// Every check of a connector config before it is stored: secret references resolved where they can be now
/// ([`Secrets::for_validation`]), [`validate_connector_config`], the file output directory. Returns the config
/// parsed as given (references unresolved).
pub fn check_new_config(
    secrets: &Secrets,
    config: &Value,
    file_output_dir: &Path,
) -> Result<ConnectorConfig, ConnectorConfigError> {
    let (checked, warnings) = secrets.for_validation(config)?;
    validate_connector_config(&checked)?;
    for warning in &warnings {
        tracing::warn!(warning = %warning, "Connector config accepted with a warning.");
    }
    let parsed = parse_connector_config(config)?;
    check_file_output(&parsed, file_output_dir)?;
    Ok(parsed)
}

/// Where a `file_output` connector's file is: its `path` under `dir`, the server's output directory (an absolute
/// path must already lie there). Whoever may write a connector must not be able to write any file of the server.
pub fn file_output_path(dir: &Path, path: &str) -> Result<PathBuf, String> {
    let given = Path::new(path);
    if path.split('/').any(|segment| segment == "..") {
        return Err(format!("'{path}' must not contain '..'"));
    }
    let full = if given.is_absolute() {
        given.to_path_buf()
    } else {
        dir.join(given)
    };
    if full.starts_with(dir) && full != dir {
        Ok(full)
    } else {
        Err(format!(
            "'{path}' is not under the server's output directory {} (give a path relative to it; the operator sets \
             it with `sluice serve --file-output-dir`)",
            dir.display()
        ))
    }
}

/// Checks a `file_output` connector's path against the output directory `dir`.
pub fn check_file_output(config: &ConnectorConfig, dir: &Path) -> Result<(), ConnectorConfigError> {
    if let TransportConfig::FileOutput(file) = &config.transport {
        file_output_path(dir, &file.path)
            .map_err(|reason| invalid("transport.config.path", reason))?;
    }
    Ok(())
}

fn invalid(field: &str, reason: String) -> ConnectorConfigError {
    ConnectorConfigError::Invalid {
        field: if field.is_empty() {
            BODY_FIELD.to_string()
        } else {
            format!("{BODY_FIELD}.{field}")
        },
        reason,
    }
}

/// The field and the reason of a deserialization error at `path`.
///
/// The config types report errors inside hand-written deserializers as `"<dotted.field>: <reason>"`, which is
/// more precise than the path serde can see; serde's own "missing field `x`" is reported at the parent.
fn split_field(path: &str, message: &str) -> (String, String) {
    if let Some((field, reason)) = message.split_once(": ") {
        let looks_like_path =
            (field.starts_with("transport") || field.starts_with("format")) && !field.contains(' ');
        if looks_like_path {
            return (field.to_string(), reason.to_string());
        }
    }
    if let Some(missing) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
    {
        let field = if path.is_empty() {
            missing.to_string()
        } else {
            format!("{path}.{missing}")
        };
        return (field, message.to_string());
    }
    (path.to_string(), message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed() -> Value {
        json!({
            "transport": {"name": "kafka_output", "config": {
                "bootstrap.servers": "example.com:9092", "auto.offset.reset": "earliest", "topic": "total-sales"}},
            "format": {"name": "json", "config": {"update_format": "insert_delete", "array": false}}
        })
    }

    fn field_of(config: Value) -> String {
        match validate_connector_config(&config).unwrap_err() {
            ConnectorConfigError::Invalid { field, .. } => field,
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn seed_config_is_valid_with_a_warning() {
        let (_, warnings) = validate_connector_config(&seed()).unwrap();
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn errors_name_the_field_in_the_body() {
        let mut c = seed();
        c["transport"]["config"]
            .as_object_mut()
            .unwrap()
            .remove("topic");
        assert_eq!(field_of(c), "config.transport.config.topic");

        let mut c = seed();
        c["transport"]["config"]["topic"] = json!("bad topic");
        assert_eq!(field_of(c), "config.transport.config.topic");

        let mut c = seed();
        c.as_object_mut().unwrap().remove("transport");
        assert_eq!(field_of(c), "config.transport");

        let mut c = seed();
        c["format"]["config"]["update_format"] = json!("weighted");
        assert_eq!(field_of(c), "config.format.config.update_format");

        let mut c = seed();
        c["transport"]["config"]["compression.type"] = json!("brotli");
        assert_eq!(field_of(c), "config.transport.config.compression.type");

        let mut c = seed();
        c["transport"]["config"]["no.such.option"] = json!("1");
        assert_eq!(field_of(c), "config.transport.config.no.such.option");

        let mut c = seed();
        c["max_queued_records"] = json!("many");
        assert_eq!(field_of(c), "config.max_queued_records");

        assert_eq!(field_of(json!(3)), "config");
    }

    fn kafka_input() -> Value {
        json!({
            "transport": {"name": "kafka_input", "config": {
                "bootstrap.servers": "example.com:9092", "auto.offset.reset": "earliest", "topics": ["orders"]}},
            "format": {"name": "json", "config": {"update_format": "raw"}}
        })
    }

    #[test]
    fn kafka_input_is_valid_and_its_errors_name_the_field_in_the_body() {
        let (parsed, warnings) = validate_connector_config(&kafka_input()).unwrap();
        assert_eq!(parsed.transport.name(), "kafka_input");
        assert!(warnings.is_empty(), "{warnings:?}");

        let mut c = kafka_input();
        c["transport"]["config"]
            .as_object_mut()
            .unwrap()
            .remove("topics");
        assert_eq!(field_of(c), "config.transport.config.topics");

        let mut c = kafka_input();
        c["transport"]["config"]["topics"] = json!([""]);
        assert_eq!(field_of(c), "config.transport.config.topics");

        let mut c = kafka_input();
        c["transport"]["config"]["auto.offset.reset"] = json!("oldest");
        assert_eq!(field_of(c), "config.transport.config.auto.offset.reset");

        let mut c = kafka_input();
        c["transport"]["config"]["no.such.option"] = json!("1");
        assert_eq!(field_of(c), "config.transport.config.no.such.option");

        let mut c = kafka_input();
        c["transport"]["config"]["start_from"] = json!("earliest");
        assert_eq!(field_of(c), "config.transport.config.start_from");
    }

    #[test]
    fn http_transports_cannot_be_created() {
        for name in ["http_input", "http_output"] {
            let c = json!({"transport": {"name": name}});
            let err = validate_connector_config(&c).unwrap_err();
            assert!(
                matches!(err, ConnectorConfigError::Transport { .. }),
                "{err}"
            );
        }
    }
}
