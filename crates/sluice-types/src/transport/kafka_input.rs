//! The `kafka_input` transport config: the topics to read, a few first-class fields, and every librdkafka
//! consumer option.
//!
//! ```json
//! {"bootstrap.servers": "localhost:9092", "topics": ["orders", "refunds"], "auto.offset.reset": "earliest",
//!  "group_join_timeout_secs": 20, "fetch.wait.max.ms": 100}
//! ```
//! As for `kafka_output`, keys that are not first-class fields are librdkafka options; JSON numbers and booleans
//! are converted to their plain text form, anything else is rejected naming the key.
//!
//! Options the `kafka_input` endpoint decides itself (see `sluice_transports::kafka_input`):
//! - `group.id`: when absent, the endpoint uses `sluice-<connector name>`, so that every connector has a group of
//!   its own. A config type cannot make up a per-connector value, hence it stays absent here.
//! - `enable.auto.commit`: always `false`. This version commits no offsets at all; on restart, reading starts
//!   again where `auto.offset.reset` says (librdkafka's default is `latest`; Feldera users set `earliest`).
//! - `auto.offset.reset`: passed through unchanged.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::kafka::{
    bootstrap_servers, field_error, librdkafka_option, validate_bootstrap_servers_present,
    validate_topic_name, KafkaLogLevel,
};
use crate::ConfigError;

/// Configuration of the `kafka_input` transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaInputConfig {
    /// The topics to read, every partition of each. Required: a non-empty list of existing topics.
    pub topics: Vec<String>,
    /// librdkafka's log level; `None` follows the process log level.
    pub log_level: Option<KafkaLogLevel>,
    /// How long the connector waits at start for the broker to answer, the topics to be found and the consumer
    /// group to be joined. Default 10 s (Feldera's default).
    pub group_join_timeout_secs: u32,
    /// Every other key: librdkafka consumer options, values as strings. Sorted by name.
    pub kafka_options: BTreeMap<String, String>,
}

/// Feldera's default group join timeout.
const fn default_group_join_timeout_secs() -> u32 {
    10
}

/// Feldera-specific fields of `kafka_input` that Sluice does not use, with what to do instead.
const FOREIGN_INPUT_FIELDS: &[(&str, &str)] = &[
    (
        "topic",
        "kafka_input reads a list of topics: write \"topics\": [\"name\"]",
    ),
    (
        "start_from",
        "set the librdkafka option auto.offset.reset to \"earliest\" or \"latest\" instead",
    ),
    (
        "partitions",
        "reading a subset of partitions is not supported yet; every partition of each topic is read",
    ),
    (
        "poller_threads",
        "Sluice reads each connector with one consumer; remove this field",
    ),
    (
        "fault_tolerance",
        "obsolete (Feldera refuses it too): a Kafka input's offsets are journaled with its records under the \
         pipeline's fault_tolerance.model, so every record read is processed once; remove this field",
    ),
];

impl KafkaInputConfig {
    /// A config reading `topics` on `bootstrap_servers` with every default.
    pub fn new(bootstrap_servers: &str, topics: &[&str]) -> Self {
        KafkaInputConfig {
            topics: topics.iter().map(|t| (*t).to_string()).collect(),
            log_level: None,
            group_join_timeout_secs: default_group_join_timeout_secs(),
            kafka_options: BTreeMap::from([(
                "bootstrap.servers".to_string(),
                bootstrap_servers.to_string(),
            )]),
        }
    }

    /// The `bootstrap.servers` option, if set.
    pub fn bootstrap_servers(&self) -> Option<&str> {
        bootstrap_servers(&self.kafka_options)
    }

    /// Checks the first-class fields; librdkafka options are checked by the transport, which owns librdkafka.
    /// Returns warnings for accepted-but-ignored options.
    pub fn validate(&self) -> Result<Vec<String>, ConfigError> {
        if self.topics.is_empty() {
            return Err(ConfigError::new(
                "topics",
                "must name at least one Kafka topic to read",
            ));
        }
        for (i, topic) in self.topics.iter().enumerate() {
            validate_topic_name(topic).map_err(|reason| ConfigError::new("topics", reason))?;
            if self.topics[..i].contains(topic) {
                return Err(ConfigError::new(
                    "topics",
                    format!("'{topic}' is listed twice"),
                ));
            }
        }
        if self.group_join_timeout_secs == 0 {
            return Err(ConfigError::new(
                "group_join_timeout_secs",
                "must be at least 1 second",
            ));
        }
        validate_bootstrap_servers_present(&self.kafka_options)?;
        if self
            .kafka_options
            .get("group.id")
            .is_some_and(|g| g.trim().is_empty())
        {
            return Err(ConfigError::new(
                "group.id",
                "must not be empty; leave it out to use sluice-<connector name>",
            ));
        }
        let mut warnings = Vec::new();
        if self
            .kafka_options
            .get("enable.auto.commit")
            .map(String::as_str)
            == Some("true")
        {
            warnings.push(
                "'enable.auto.commit' is ignored: kafka_input commits no offsets in this version"
                    .to_string(),
            );
        }
        Ok(warnings)
    }
}

impl<'de> Deserialize<'de> for KafkaInputConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
        let mut config = KafkaInputConfig {
            topics: Vec::new(),
            log_level: None,
            group_join_timeout_secs: default_group_join_timeout_secs(),
            kafka_options: BTreeMap::new(),
        };
        let mut topics = None;
        for (key, value) in map {
            let field_err = |e: serde_json::Error| field_error::<D::Error>(&key, e);
            match key.as_str() {
                "topics" => topics = Some(Vec::<String>::deserialize(&value).map_err(field_err)?),
                "log_level" => {
                    config.log_level = Option::deserialize(&value).map_err(field_err)?;
                }
                "group_join_timeout_secs" => {
                    config.group_join_timeout_secs = u32::deserialize(&value).map_err(field_err)?;
                }
                _ => {
                    let text = librdkafka_option(&key, &value, FOREIGN_INPUT_FIELDS)?;
                    config.kafka_options.insert(key, text);
                }
            }
        }
        config.topics = topics.ok_or_else(|| {
            field_error::<D::Error>("topics", "required: a list of the Kafka topics to read")
        })?;
        Ok(config)
    }
}

impl Serialize for KafkaInputConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // librdkafka options first (sorted), then the declared fields, as for kafka_output.
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in &self.kafka_options {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("topics", &self.topics)?;
        map.serialize_entry("log_level", &self.log_level)?;
        map.serialize_entry("group_join_timeout_secs", &self.group_join_timeout_secs)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<KafkaInputConfig, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn missing_topics_is_an_error_naming_topics() {
        let err = parse(json!({"bootstrap.servers": "b:1"})).unwrap_err();
        assert!(
            err.starts_with("transport.config.topics: required"),
            "{err}"
        );
    }

    #[test]
    fn topics_must_be_a_list_of_strings() {
        let err = parse(json!({"topics": "orders"})).unwrap_err();
        assert!(err.starts_with("transport.config.topics:"), "{err}");
        let err = parse(json!({"topics": [1]})).unwrap_err();
        assert!(err.starts_with("transport.config.topics:"), "{err}");
    }

    #[test]
    fn empty_topic_list_and_empty_topic_are_rejected_naming_topics() {
        let c = parse(json!({"topics": [], "bootstrap.servers": "b:1"})).unwrap();
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "topics");
        assert!(err.reason.contains("at least one"), "{err}");

        let c = parse(json!({"topics": ["a", ""], "bootstrap.servers": "b:1"})).unwrap();
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "topics");
        assert!(err.reason.contains("required"), "{err}");

        let c = parse(json!({"topics": ["a b"], "bootstrap.servers": "b:1"})).unwrap();
        assert_eq!(c.validate().unwrap_err().field, "topics");
    }

    #[test]
    fn duplicate_topics_are_rejected() {
        let c = parse(json!({"topics": ["a", "b", "a"], "bootstrap.servers": "b:1"})).unwrap();
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "topics");
        assert!(err.reason.contains("twice"), "{err}");
    }

    #[test]
    fn numbers_and_booleans_become_option_strings() {
        let c = parse(
            json!({"topics": ["t"], "bootstrap.servers": "b:1", "fetch.wait.max.ms": 100,
                             "check.crcs": true, "fetch.queue.backoff.ms": 0.5}),
        )
        .unwrap();
        assert_eq!(c.kafka_options["fetch.wait.max.ms"], "100");
        assert_eq!(c.kafka_options["check.crcs"], "true");
        assert_eq!(c.kafka_options["fetch.queue.backoff.ms"], "0.5");
        assert_eq!(c.validate(), Ok(vec![]));
    }

    #[test]
    fn array_option_value_is_rejected_naming_the_key() {
        let err = parse(json!({"topics": ["t"], "group.id": ["g"]})).unwrap_err();
        assert!(err.contains("transport.config.group.id"), "{err}");
        assert!(err.contains("found an array"), "{err}");
    }

    #[test]
    fn defaults_and_first_class_fields() {
        let c = parse(json!({"topics": ["t"], "bootstrap.servers": "b:1"})).unwrap();
        assert_eq!(c, KafkaInputConfig::new("b:1", &["t"]));
        assert_eq!(c.group_join_timeout_secs, 10);
        let c = parse(json!({"topics": ["t"], "log_level": "debug", "group_join_timeout_secs": 3}))
            .unwrap();
        assert_eq!(c.log_level, Some(KafkaLogLevel::Debug));
        assert_eq!(c.group_join_timeout_secs, 3);
        assert!(c.kafka_options.is_empty());
    }

    #[test]
    fn zero_timeout_empty_group_and_missing_servers_are_rejected() {
        let mut c = KafkaInputConfig::new("b:1", &["t"]);
        c.group_join_timeout_secs = 0;
        assert_eq!(c.validate().unwrap_err().field, "group_join_timeout_secs");

        let mut c = KafkaInputConfig::new("b:1", &["t"]);
        c.kafka_options.insert("group.id".into(), " ".into());
        assert_eq!(c.validate().unwrap_err().field, "group.id");

        let mut c = KafkaInputConfig::new("b:1", &["t"]);
        c.kafka_options.clear();
        assert_eq!(c.validate().unwrap_err().field, "bootstrap.servers");
    }

    #[test]
    fn auto_commit_is_accepted_with_a_warning() {
        let mut c = KafkaInputConfig::new("b:1", &["t"]);
        c.kafka_options
            .insert("enable.auto.commit".into(), "true".into());
        let warnings = c.validate().unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("commits no offsets"), "{warnings:?}");
    }

    #[test]
    fn feldera_only_fields_are_rejected_with_advice() {
        let err = parse(json!({"topics": ["t"], "start_from": "earliest"})).unwrap_err();
        assert!(err.contains("transport.config.start_from"), "{err}");
        assert!(err.contains("auto.offset.reset"), "{err}");
        let err = parse(json!({"topic": "t"})).unwrap_err();
        assert!(err.contains("\"topics\""), "{err}");
        let err = parse(json!({"topics": ["t"], "kafka_service": "k"})).unwrap_err();
        assert!(err.contains("services API"), "{err}");
    }

    #[test]
    fn serialization_fills_in_defaults_after_the_options() {
        let c = parse(json!({"topics": ["a", "b"], "bootstrap.servers": "b:1", "auto.offset.reset": "earliest"}))
            .unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(
            text,
            r#"{"auto.offset.reset":"earliest","bootstrap.servers":"b:1","topics":["a","b"],"log_level":null,"group_join_timeout_secs":10}"#
        );
        assert_eq!(parse(serde_json::from_str(&text).unwrap()).unwrap(), c);
    }
}
