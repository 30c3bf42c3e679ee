//! The `kafka_output` transport config: a few first-class fields plus every librdkafka producer option.
//!
//! ```json
//! {"bootstrap.servers": "localhost:9092", "topic": "total-sales", "headers": [{"key": "source", "value": "sluice"}],
//!  "message.max.bytes": 1000000, "compression.type": "zstd"}
//! ```
//! Keys that are not first-class fields are librdkafka options. Their values must be strings, as librdkafka takes
//! them; a JSON number or boolean is accepted and converted to its plain text form (`1000000`, `true`, `0.5`),
//! which is exactly what librdkafka would parse from the string. Anything else is rejected naming the key.
//!
//! `create_topic` (see [`KafkaCreateTopic`]) is a first-class field, not a librdkafka option: with it, a missing
//! topic is created when the connector starts.
//!
//! Longer than 600 lines: the last third is the tests of the hand-written (de)serializer and its checks, which
//! belong beside them.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ConfigError;

/// Configuration of the `kafka_output` transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaOutputConfig {
    /// The topic every message goes to. Required; must be a legal Kafka topic name.
    pub topic: String,
    /// Static headers added to every message, in this order.
    pub headers: Vec<KafkaHeader>,
    /// librdkafka's log level; `None` follows the process log level.
    pub log_level: Option<KafkaLogLevel>,
    /// How long the connector waits at start for the broker to answer and the topic to be found. Default 60 s.
    pub initialization_timeout_secs: u32,
    /// Every other key: librdkafka producer options, values as strings. Sorted by name.
    pub kafka_options: BTreeMap<String, String>,
    /// How the connector delivers exactly once under `fault_tolerance.model = "exactly_once"` (Feldera's field,
    /// with Sluice's mode and transactional id prefix).
    pub fault_tolerance: Option<KafkaOutputFaultTolerance>,
    /// How to create the topic when it does not exist at start; `None`: a missing topic fails the start.
    pub create_topic: Option<KafkaCreateTopic>,
}

/// How `kafka_output` creates its topic when the topic is missing at start (the `create_topic` field).
///
/// ```json
/// {"partitions": 6, "replication_factor": 1, "config": {"cleanup.policy": "compact"}}
/// ```
/// Every field is optional: without `partitions` or `replication_factor` the broker's defaults apply
/// (`num.partitions`, `default.replication.factor`). An existing topic is never altered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaCreateTopic {
    /// The partition count of the new topic; `None`: the broker's default. Also the count an existing topic is
    /// expected to have (fewer is reported in a warning, never changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<i32>,
    /// The replication factor of the new topic; `None`: the broker's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_factor: Option<i32>,
    /// Topic configs of the new topic (`cleanup.policy`, `retention.ms`, ...), values as strings; numbers and
    /// booleans are accepted and converted to their plain text, like librdkafka options.
    #[serde(default, deserialize_with = "topic_config_values")]
    pub config: BTreeMap<String, String>,
}

/// Kafka's own limit on the partitions of one topic is far higher, but a request for more than this is a typo.
const MAX_CREATE_PARTITIONS: i32 = 100_000;
/// A replication factor is an int16 in the Kafka protocol.
const MAX_REPLICATION_FACTOR: i32 = i16::MAX as i32;

impl KafkaCreateTopic {
    /// Checks the counts and the config names; errors name `create_topic.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(p) = self.partitions {
            if !(1..=MAX_CREATE_PARTITIONS).contains(&p) {
                return Err(ConfigError::new(
                    "create_topic.partitions",
                    format!(
                        "{p} is not a partition count: use 1 to {MAX_CREATE_PARTITIONS}, or leave it out for \
                         the broker's default"
                    ),
                ));
            }
        }
        if let Some(r) = self.replication_factor {
            if !(1..=MAX_REPLICATION_FACTOR).contains(&r) {
                return Err(ConfigError::new(
                    "create_topic.replication_factor",
                    format!(
                        "{r} is not a replication factor: use 1 to {MAX_REPLICATION_FACTOR}, or leave it out \
                         for the broker's default"
                    ),
                ));
            }
        }
        if self.config.keys().any(|k| k.trim().is_empty()) {
            return Err(ConfigError::new(
                "create_topic.config",
                "a topic config name must not be empty",
            ));
        }
        Ok(())
    }
}

/// Topic config values: strings, or numbers and booleans turned into their plain text (`604800000`, `true`).
fn topic_config_values<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
    map.into_iter()
        .map(|(key, value)| match option_value_text(&value) {
            Some(text) => Ok((key, text)),
            None => Err(D::Error::custom(format!(
                "config.{key}: topic config values must be strings (numbers and booleans are converted), found {}",
                json_kind(&value)
            ))),
        })
        .collect()
}

/// Feldera's default startup timeout.
const fn default_initialization_timeout_secs() -> u32 {
    60
}

/// A static Kafka message header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaHeader {
    /// Header key.
    pub key: String,
    /// Header value as bytes; `None` for a header without a value.
    pub value: Option<Vec<u8>>,
}

/// librdkafka log levels (syslog severities).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum KafkaLogLevel {
    Emerg,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Info,
    Debug,
}

/// Options that only a Kafka consumer reads. The seed document puts `auto.offset.reset` into an output config;
/// librdkafka would ignore it for a producer anyway, so Sluice accepts such options, drops them from the producer
/// config and says so in a warning rather than failing a config that works on Feldera.
const CONSUMER_ONLY_OPTIONS: &[&str] = &[
    "auto.offset.reset",
    "group.id",
    "group.instance.id",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "partition.assignment.strategy",
    "isolation.level",
    "enable.partition.eof",
    "fetch.wait.max.ms",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.message.max.bytes",
    "fetch.error.backoff.ms",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "check.crcs",
];

/// Feldera-specific fields of `kafka_output` that Sluice does not use, with what to do instead.
const FOREIGN_FIELDS: &[(&str, &str)] = &[
    (
        "max_inflight_messages",
        "Sluice bounds in-flight data with librdkafka's queue.buffering.max.messages and never drops a message; remove this field",
    ),
];

/// Feldera-specific fields of both Kafka transports that Sluice does not use, with what to do instead.
pub(crate) const FOREIGN_KAFKA_FIELDS: &[(&str, &str)] = &[
    (
        "kafka_service",
        "the services API does not exist in Sluice; put bootstrap.servers and the security options in this config",
    ),
    (
        "region",
        "AWS MSK IAM authentication is not supported yet; use SASL/SCRAM or mTLS options",
    ),
];

impl KafkaOutputConfig {
    /// A config for `topic` on `bootstrap_servers` with every default.
    pub fn new(bootstrap_servers: &str, topic: &str) -> Self {
        KafkaOutputConfig {
            topic: topic.to_string(),
            headers: Vec::new(),
            log_level: None,
            initialization_timeout_secs: default_initialization_timeout_secs(),
            kafka_options: BTreeMap::from([(
                "bootstrap.servers".to_string(),
                bootstrap_servers.to_string(),
            )]),
            fault_tolerance: None,
            create_topic: None,
        }
    }

    /// The `bootstrap.servers` option, if set.
    pub fn bootstrap_servers(&self) -> Option<&str> {
        bootstrap_servers(&self.kafka_options)
    }

    /// The librdkafka options meant for a producer, and a warning for each consumer-only option left out.
    pub fn producer_options(&self) -> (BTreeMap<String, String>, Vec<String>) {
        let mut options = BTreeMap::new();
        let mut warnings = Vec::new();
        for (key, value) in &self.kafka_options {
            if CONSUMER_ONLY_OPTIONS.contains(&key.as_str()) {
                warnings.push(format!(
                    "'{key}' is a Kafka consumer option; the kafka_output producer ignores it"
                ));
            } else {
                options.insert(key.clone(), value.clone());
            }
        }
        (options, warnings)
    }

    /// Checks the first-class fields; librdkafka options are checked by the transport, which owns librdkafka.
    /// Returns warnings for accepted-but-ignored options.
    pub fn validate(&self) -> Result<Vec<String>, ConfigError> {
        validate_topic_name(&self.topic).map_err(|reason| ConfigError::new("topic", reason))?;
        if self.initialization_timeout_secs == 0 {
            return Err(ConfigError::new(
                "initialization_timeout_secs",
                "must be at least 1 second",
            ));
        }
        validate_bootstrap_servers_present(&self.kafka_options)?;
        if self.kafka_options.contains_key("transactional.id") {
            return Err(ConfigError::new(
                "transactional.id",
                "Sluice sets it for exactly-once output (fault_tolerance.model \"exactly_once\" on the pipeline) \
                 from the pipeline and the connector; remove this option (fault_tolerance.transactional_id_prefix \
                 sets its start)",
            ));
        }
        if let Some(ft) = &self.fault_tolerance {
            ft.validate()?;
        }
        if let Some(ct) = &self.create_topic {
            ct.validate()?;
        }
        Ok(self.producer_options().1)
    }
}

/// How a `kafka_output` connector delivers exactly once when its pipeline's `fault_tolerance.model` is
/// `exactly_once` (see `docs/fault-tolerance.md`). Outside that model the object is accepted and has no effect.
///
/// ```json
/// {"mode": "markers", "transactional_id_prefix": "sluice-", "producer_options": {}, "consumer_options": {}}
/// ```
/// `producer_options` and `consumer_options` are Feldera's fields of the same object: librdkafka options that
/// override `kafka_options` for the producer, and for the consumer that reads where an earlier run stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaOutputFaultTolerance {
    /// Which mechanism keeps the output exactly-once. Default `auto`.
    #[serde(default)]
    pub mode: ExactlyOnceMode,
    /// The start of the producer's `transactional.id`, which Sluice completes with the pipeline and the
    /// connector (`<prefix><pipeline>.<connector>`), so that a restarted pipeline fences its predecessor.
    #[serde(default = "default_transactional_id_prefix")]
    pub transactional_id_prefix: String,
    /// librdkafka options for the producer only, over `kafka_options`.
    #[serde(default)]
    pub producer_options: BTreeMap<String, String>,
    /// librdkafka options for the consumer Sluice uses at start to find what an earlier run wrote.
    #[serde(default)]
    pub consumer_options: BTreeMap<String, String>,
}

impl Default for KafkaOutputFaultTolerance {
    fn default() -> Self {
        KafkaOutputFaultTolerance {
            mode: ExactlyOnceMode::default(),
            transactional_id_prefix: default_transactional_id_prefix(),
            producer_options: BTreeMap::new(),
            consumer_options: BTreeMap::new(),
        }
    }
}

fn default_transactional_id_prefix() -> String {
    "sluice-".to_string()
}

/// The two exactly-once mechanisms of `kafka_output`, or the choice between them at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExactlyOnceMode {
    /// Transactions where the broker supports them, markers where it does not (probed when the connector starts).
    #[default]
    Auto,
    /// Kafka transactions, one per checkpoint: consumers must read with `isolation.level=read_committed` and see
    /// output when the checkpoint that covers it commits.
    Transactions,
    /// Progress headers on every message and deterministic partitions: any broker, output visible at once, and
    /// the connector must be the topic's only writer.
    Markers,
}

impl ExactlyOnceMode {
    /// The name used in configs and stats.
    pub fn name(self) -> &'static str {
        match self {
            ExactlyOnceMode::Auto => "auto",
            ExactlyOnceMode::Transactions => "transactions",
            ExactlyOnceMode::Markers => "markers",
        }
    }
}

impl KafkaOutputFaultTolerance {
    /// Checks the prefix (it becomes part of a Kafka id) and that no option overrides what Sluice must set.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let prefix = &self.transactional_id_prefix;
        if let Some(c) = prefix
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(ConfigError::new(
                "fault_tolerance.transactional_id_prefix",
                format!("'{prefix}' contains {c:?}; use only letters, digits, '.', '_' and '-'"),
            ));
        }
        if prefix.len() > 128 {
            return Err(ConfigError::new(
                "fault_tolerance.transactional_id_prefix",
                "at most 128 characters",
            ));
        }
        for (map, name) in [
            (&self.producer_options, "producer_options"),
            (&self.consumer_options, "consumer_options"),
        ] {
            if map.contains_key("transactional.id") {
                return Err(ConfigError::new(
                    format!("fault_tolerance.{name}.transactional.id"),
                    "Sluice sets it from the pipeline and the connector; use fault_tolerance.transactional_id_prefix",
                ));
            }
        }
        Ok(())
    }
}

/// The `bootstrap.servers` librdkafka option, if set.
pub(crate) fn bootstrap_servers(options: &BTreeMap<String, String>) -> Option<&str> {
    options.get("bootstrap.servers").map(String::as_str)
}

/// `bootstrap.servers` is set and names at least one broker (its syntax is checked by the transport).
pub(crate) fn validate_bootstrap_servers_present(
    options: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    match bootstrap_servers(options) {
        None => Err(ConfigError::new(
            "bootstrap.servers",
            "required: a comma-separated list of host:port broker addresses",
        )),
        Some(servers) if servers.split(',').all(|s| s.trim().is_empty()) => Err(ConfigError::new(
            "bootstrap.servers",
            "must name at least one broker as host:port",
        )),
        Some(_) => Ok(()),
    }
}

/// Kafka's own rule for topic names: 1 to 249 characters from `[a-zA-Z0-9._-]`, and not `.` or `..`.
pub(crate) fn validate_topic_name(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("required: the name of a Kafka topic".into());
    }
    if topic.len() > 249 {
        return Err(format!(
            "'{topic}' is {} characters long; Kafka allows at most 249",
            topic.len()
        ));
    }
    if topic == "." || topic == ".." {
        return Err(format!("'{topic}' is not a legal Kafka topic name"));
    }
    if let Some(c) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "'{topic}' contains {c:?}; Kafka topic names may use only letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for KafkaOutputConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
        let mut config = KafkaOutputConfig {
            topic: String::new(),
            headers: Vec::new(),
            log_level: None,
            initialization_timeout_secs: default_initialization_timeout_secs(),
            kafka_options: BTreeMap::new(),
            fault_tolerance: None,
            create_topic: None,
        };
        let mut topic = None;
        for (key, value) in map {
            let field_err = |e: serde_json::Error| field_error::<D::Error>(&key, e);
            match key.as_str() {
                "topic" => {
                    topic = Some(String::deserialize(&value).map_err(field_err)?);
                }
                "headers" => {
                    config.headers = Vec::<HeaderRepr>::deserialize(&value)
                        .map_err(field_err)?
                        .into_iter()
                        .map(|h| KafkaHeader {
                            key: h.key,
                            value: h.value.map(|v| v.0),
                        })
                        .collect();
                }
                "log_level" => {
                    config.log_level = Option::deserialize(&value).map_err(field_err)?;
                }
                "initialization_timeout_secs" => {
                    config.initialization_timeout_secs =
                        u32::deserialize(&value).map_err(field_err)?;
                }
                "fault_tolerance" => {
                    config.fault_tolerance = Option::deserialize(&value).map_err(field_err)?;
                }
                "create_topic" => {
                    config.create_topic = Option::deserialize(&value).map_err(field_err)?;
                }
                _ => {
                    let text = librdkafka_option(&key, &value, FOREIGN_FIELDS)?;
                    config.kafka_options.insert(key, text);
                }
            }
        }
        config.topic = topic.ok_or_else(|| {
            D::Error::custom("transport.config.topic: required: the Kafka topic to write to")
        })?;
        Ok(config)
    }
}

/// A deserialization error about `transport.config.<key>`.
pub(crate) fn field_error<E: serde::de::Error>(key: &str, reason: impl std::fmt::Display) -> E {
    E::custom(format!("transport.config.{key}: {reason}"))
}

/// The value of a key that is not a first-class field: a librdkafka option, as text. A Feldera-only field (in
/// `foreign` or common to both Kafka transports) is rejected with advice; a value without a text form is rejected
/// naming the key.
pub(crate) fn librdkafka_option<E: serde::de::Error>(
    key: &str,
    value: &serde_json::Value,
    foreign: &[(&str, &str)],
) -> Result<String, E> {
    if let Some((_, advice)) = foreign
        .iter()
        .chain(FOREIGN_KAFKA_FIELDS)
        .find(|(f, _)| *f == key)
    {
        return Err(field_error(key, advice));
    }
    option_value_text(value).ok_or_else(|| {
        field_error(
            key,
            format!(
                "librdkafka option values must be strings (numbers and booleans are converted), found {}",
                json_kind(value)
            ),
        )
    })
}

/// The predictable text form of a librdkafka option value, or `None` for a value that has none.
fn option_value_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        serde_json::Value::Number(n) => n.as_f64().filter(|f| f.is_finite()).map(|f| f.to_string()),
        _ => None,
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

impl Serialize for KafkaOutputConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // librdkafka options first (sorted), then the declared fields: the order Feldera's API returns.
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in &self.kafka_options {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("topic", &self.topic)?;
        let headers: Vec<HeaderRepr> = self
            .headers
            .iter()
            .map(|h| HeaderRepr {
                key: h.key.clone(),
                value: h.value.clone().map(HeaderValue),
            })
            .collect();
        map.serialize_entry("headers", &headers)?;
        map.serialize_entry("log_level", &self.log_level)?;
        map.serialize_entry(
            "initialization_timeout_secs",
            &self.initialization_timeout_secs,
        )?;
        if let Some(ft) = &self.fault_tolerance {
            map.serialize_entry("fault_tolerance", ft)?;
        }
        if let Some(ct) = &self.create_topic {
            map.serialize_entry("create_topic", ct)?;
        }
        map.end()
    }
}

/// Wire form of a header: `{"key": "k", "value": "text" | [1, 2, 3] | null}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderRepr {
    key: String,
    #[serde(default)]
    value: Option<HeaderValue>,
}

/// Header bytes: written as a string when they are UTF-8 (the common case, and how users wrote them), as a byte
/// array otherwise; read from either.
struct HeaderValue(Vec<u8>);

impl Serialize for HeaderValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(s) => serializer.serialize_str(s),
            Err(_) => self.0.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for HeaderValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Bytes(Vec<u8>),
        }
        match Repr::deserialize(deserializer) {
            Ok(Repr::Text(s)) => Ok(HeaderValue(s.into_bytes())),
            Ok(Repr::Bytes(b)) => Ok(HeaderValue(b)),
            Err(_) => Err(D::Error::custom(
                "a header value must be a string or an array of byte values (0-255)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<KafkaOutputConfig, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_and_booleans_become_option_strings() {
        let c = parse(
            json!({"topic": "t", "bootstrap.servers": "b:1", "message.max.bytes": 2000,
                             "enable.idempotence": false, "linger.ms": 0.5}),
        )
        .unwrap();
        assert_eq!(c.kafka_options["message.max.bytes"], "2000");
        assert_eq!(c.kafka_options["enable.idempotence"], "false");
        assert_eq!(c.kafka_options["linger.ms"], "0.5");
    }

    #[test]
    fn object_option_value_is_rejected_naming_the_key() {
        let err = parse(json!({"topic": "t", "acks": {"x": 1}})).unwrap_err();
        assert!(err.contains("transport.config.acks"), "{err}");
        assert!(err.contains("found an object"), "{err}");
    }

    #[test]
    fn missing_topic_is_an_error_naming_topic() {
        let err = parse(json!({"bootstrap.servers": "b:1"})).unwrap_err();
        assert!(err.contains("transport.config.topic"), "{err}");
    }

    #[test]
    fn illegal_topic_names_are_rejected() {
        for bad in ["", "a b", "x/y", ".."] {
            let c = parse(json!({"topic": bad, "bootstrap.servers": "b:1"})).unwrap();
            let err = c.validate().unwrap_err();
            assert_eq!(err.field, "topic", "{bad}: {err}");
        }
        let long = "t".repeat(250);
        let c = parse(json!({"topic": long, "bootstrap.servers": "b:1"})).unwrap();
        assert!(c.validate().unwrap_err().reason.contains("249"));
    }

    #[test]
    fn bootstrap_servers_is_required() {
        let c = parse(json!({"topic": "t"})).unwrap();
        assert_eq!(c.validate().unwrap_err().field, "bootstrap.servers");
    }

    #[test]
    fn headers_accept_text_bytes_and_no_value() {
        let c = parse(json!({"topic": "t", "headers": [
            {"key": "a", "value": "foo"}, {"key": "b", "value": [1, 2, 255]}, {"key": "c"}]}))
        .unwrap();
        assert_eq!(c.headers[0].value.as_deref(), Some(&b"foo"[..]));
        assert_eq!(c.headers[1].value.as_deref(), Some(&[1u8, 2, 255][..]));
        assert_eq!(c.headers[2].value, None);
        let err = parse(json!({"topic": "t", "headers": [{"key": "a", "value": 5}]})).unwrap_err();
        assert!(err.contains("transport.config.headers"), "{err}");
    }

    #[test]
    fn feldera_only_fields_are_rejected_with_advice() {
        let err = parse(json!({"topic": "t", "max_inflight_messages": 10})).unwrap_err();
        assert!(err.contains("queue.buffering.max.messages"), "{err}");
    }

    #[test]
    fn consumer_options_are_dropped_from_the_producer_with_a_warning() {
        let c = parse(
            json!({"topic": "t", "bootstrap.servers": "b:1", "auto.offset.reset": "earliest"}),
        )
        .unwrap();
        let (options, warnings) = c.producer_options();
        assert!(!options.contains_key("auto.offset.reset"));
        assert!(options.contains_key("bootstrap.servers"));
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn create_topic_parses_round_trips_and_is_no_librdkafka_option() {
        let c = parse(json!({"topic": "t", "bootstrap.servers": "b:1", "create_topic": {
            "partitions": 6, "replication_factor": 1,
            "config": {"cleanup.policy": "compact", "retention.ms": 86400000, "preallocate": false}}}))
        .unwrap();
        let ct = c.create_topic.clone().unwrap();
        assert_eq!(ct.partitions, Some(6));
        assert_eq!(ct.replication_factor, Some(1));
        assert_eq!(ct.config["cleanup.policy"], "compact");
        assert_eq!(ct.config["retention.ms"], "86400000");
        assert_eq!(ct.config["preallocate"], "false");
        assert!(!c.kafka_options.contains_key("create_topic"));
        assert!(!c.producer_options().0.contains_key("create_topic"));
        assert_eq!(c.validate(), Ok(vec![]));

        let stored = serde_json::to_value(&c).unwrap();
        assert_eq!(
            stored["create_topic"],
            json!({"partitions": 6, "replication_factor": 1,
                   "config": {"cleanup.policy": "compact", "preallocate": "false", "retention.ms": "86400000"}})
        );
        assert_eq!(parse(stored).unwrap(), c);
    }

    #[test]
    fn create_topic_fields_are_optional_and_absent_when_not_set() {
        let c =
            parse(json!({"topic": "t", "bootstrap.servers": "b:1", "create_topic": {}})).unwrap();
        assert_eq!(c.create_topic, Some(KafkaCreateTopic::default()));
        assert_eq!(c.validate(), Ok(vec![]));
        let stored = serde_json::to_value(&c).unwrap();
        assert_eq!(stored["create_topic"], json!({"config": {}}));
        assert_eq!(parse(stored).unwrap(), c);

        let c = parse(json!({"topic": "t", "bootstrap.servers": "b:1"})).unwrap();
        assert_eq!(c.create_topic, None);
        assert!(serde_json::to_value(&c)
            .unwrap()
            .get("create_topic")
            .is_none());
        let c = parse(json!({"topic": "t", "create_topic": null})).unwrap();
        assert_eq!(c.create_topic, None);
    }

    #[test]
    fn create_topic_refusals_name_the_field() {
        let refused = |create_topic: serde_json::Value| {
            let c = parse(
                json!({"topic": "t", "bootstrap.servers": "b:1", "create_topic": create_topic}),
            )
            .unwrap();
            c.validate().unwrap_err()
        };
        for (bad, field) in [
            (json!({"partitions": 0}), "create_topic.partitions"),
            (json!({"partitions": -1}), "create_topic.partitions"),
            (json!({"partitions": 100_001}), "create_topic.partitions"),
            (
                json!({"replication_factor": 0}),
                "create_topic.replication_factor",
            ),
            (
                json!({"replication_factor": 32_768}),
                "create_topic.replication_factor",
            ),
            (json!({"config": {"": "x"}}), "create_topic.config"),
            (json!({"config": {" ": "x"}}), "create_topic.config"),
        ] {
            let err = refused(bad.clone());
            assert_eq!(err.field, field, "{bad}: {err}");
        }
        assert!(refused(json!({"partitions": 0})).reason.contains("100000"));
        for good in [
            json!({"partitions": 1, "replication_factor": 1}),
            json!({"partitions": 100_000, "replication_factor": 32_767}),
        ] {
            let c = parse(json!({"topic": "t", "bootstrap.servers": "b:1", "create_topic": good}))
                .unwrap();
            assert_eq!(c.validate(), Ok(vec![]));
        }
    }

    #[test]
    fn create_topic_shape_errors_name_the_field() {
        for bad in [
            json!({"partitions": "six"}),
            json!({"partitions": 5_000_000_000_i64}),
            json!({"partitons": 6}),
            json!({"config": {"cleanup.policy": ["compact"]}}),
            json!(6),
        ] {
            let err = parse(
                json!({"topic": "t", "bootstrap.servers": "b:1", "create_topic": bad.clone()}),
            )
            .unwrap_err();
            assert!(
                err.contains("transport.config.create_topic"),
                "{bad}: {err}"
            );
        }
        let err =
            parse(json!({"topic": "t", "create_topic": {"config": {"cleanup.policy": null}}}))
                .unwrap_err();
        assert!(
            err.contains("config.cleanup.policy") && err.contains("found null"),
            "{err}"
        );
    }
}
