//! Avro connectors with `registry_urls`: their key and value schemas are registered in the schema registry at
//! start, before anything is sent, and the encoder writes the ids the registry assigned. A registry that refuses a
//! schema (incompatible with the subject's earlier versions, say) fails the start with the registry's reason.
//!
//! Subjects follow Confluent's strategies: `topic_name` (the default) `{topic}-value` and `{topic}-key`;
//! `record_name` the record's full name; `topic_record_name` `{topic}-{full name}`.

use sluice_data::Relation;
use sluice_registry::{Registry, RegistryConfig};
use sluice_types::format::avro::SubjectNameStrategy;
use sluice_types::{ConnectorConfig, FormatConfig, TransportConfig};

use super::spec::{OutputSpec, PipelineError};

/// The full name of the named schema `text` (`namespace.name`, or the name).
fn full_name(text: &str) -> String {
    let schema: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let name = schema["name"].as_str().unwrap_or_default();
    match schema["namespace"].as_str() {
        Some(ns) if !ns.is_empty() && !name.contains('.') => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

/// The subject of `schema` (`role`: `key` or `value`) under `strategy`.
fn subject(
    strategy: SubjectNameStrategy,
    topic: Option<&str>,
    schema: &str,
    role: &str,
) -> Result<String, String> {
    let topic = || {
        topic.ok_or_else(|| {
            "subject_name_strategy 'topic_name' and 'topic_record_name' need a Kafka topic; use 'record_name'"
                .to_string()
        })
    };
    Ok(match strategy {
        SubjectNameStrategy::TopicName => format!("{}-{role}", topic()?),
        SubjectNameStrategy::RecordName => full_name(schema),
        SubjectNameStrategy::TopicRecordName => format!("{}-{}", topic()?, full_name(schema)),
    })
}

/// `config` with its schemas registered: the registry's ids in `schema_id` / `key_schema_id` and the registry
/// settings gone, ready for the encoder. Other configs come back as they are.
pub(super) fn register_schemas(
    o: &OutputSpec,
    config: ConnectorConfig,
    view: &Relation,
) -> Result<ConnectorConfig, PipelineError> {
    let Some(FormatConfig::Avro(avro)) = &config.format else {
        return Ok(config);
    };
    if avro.registry_urls.is_empty() {
        return Ok(config);
    }
    let refuse = |reason: String| PipelineError::Registry {
        connector: o.name.clone(),
        reason,
    };
    let mut plain = (**avro).clone();
    let registry = RegistryConfig::of_avro(&plain);
    plain.registry_urls.clear();
    plain.registry_headers.clear();
    plain.registry_proxy = None;
    plain.registry_timeout_secs = None;
    plain.registry_username = None;
    plain.registry_password = None;
    plain.registry_authorization_token = None;
    plain.registry_tls_ca_pem = None;
    let strategy = plain
        .subject_name_strategy
        .take()
        .unwrap_or(SubjectNameStrategy::TopicName);
    let (value_schema, key_schema) = sluice_formats::avro_schemas(&plain, view)
        .map_err(|e| refuse(format!("invalid config: {}", e.within("format.config"))))?;
    let topic = match &config.transport {
        TransportConfig::KafkaOutput(kafka) => Some(kafka.topic.as_str()),
        _ => None,
    };
    let client = Registry::new(&registry).map_err(|e| refuse(e.to_string()))?;
    let value_subject = subject(strategy, topic, &value_schema, "value").map_err(refuse)?;
    let id = client
        .register(&value_subject, &value_schema)
        .map_err(|e| refuse(e.to_string()))?;
    plain.schema_id = Some(id);
    if let Some(key_schema) = key_schema {
        let key_subject = subject(strategy, topic, &key_schema, "key").map_err(refuse)?;
        let id = client
            .register(&key_subject, &key_schema)
            .map_err(|e| refuse(e.to_string()))?;
        plain.key_schema_id = Some(id);
    }
    tracing::info!(connector = %o.name, subject = %value_subject, "Avro schemas registered.");
    let mut config = config;
    config.format = Some(FormatConfig::Avro(Box::new(plain)));
    Ok(config)
}
