//! What the Kafka producer and consumer endpoints share: building a librdkafka config from options and a log level,
//! checking options with librdkafka without a network, checking a topic's metadata, forwarding librdkafka's log,
//! and sorting errors into transient and permanent (`errors`). Health and recent errors are [`crate::health`]'s.

pub(crate) mod errors;

pub use crate::health::{EndpointHealth, TransportErrorRecord};

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::client::{Client, ClientContext};
use rdkafka::config::{FromClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;
use sluice_types::{ConfigError, KafkaLogLevel};

/// Sets each of `defaults` in `options` unless the user set it.
pub(crate) fn apply_defaults(options: &mut BTreeMap<String, String>, defaults: &[(&str, &str)]) {
    for (key, value) in defaults {
        options
            .entry((*key).to_string())
            .or_insert_with(|| (*value).to_string());
    }
}

/// A librdkafka `ClientConfig` holding `options` and the log level.
pub(crate) fn client_config(
    options: &BTreeMap<String, String>,
    log_level: Option<KafkaLogLevel>,
) -> ClientConfig {
    let mut client = ClientConfig::new();
    for (key, value) in options {
        client.set(key, value);
    }
    client.set_log_level(match log_level {
        Some(KafkaLogLevel::Emerg) => RDKafkaLogLevel::Emerg,
        Some(KafkaLogLevel::Alert) => RDKafkaLogLevel::Alert,
        Some(KafkaLogLevel::Critical) => RDKafkaLogLevel::Critical,
        Some(KafkaLogLevel::Error) => RDKafkaLogLevel::Error,
        Some(KafkaLogLevel::Warning) | None => RDKafkaLogLevel::Warning,
        Some(KafkaLogLevel::Notice) => RDKafkaLogLevel::Notice,
        Some(KafkaLogLevel::Info) => RDKafkaLogLevel::Info,
        Some(KafkaLogLevel::Debug) => RDKafkaLogLevel::Debug,
    });
    client
}

/// Checks `options` with librdkafka itself, without opening a connection: builds a client of type `T` (a producer
/// or a consumer, named by `role` in errors) from them minus `bootstrap.servers`, whose syntax is checked here.
/// librdkafka parses every option name and value and cross-checks them.
pub(crate) fn check_options<T: FromClientConfig>(
    mut options: BTreeMap<String, String>,
    role: &str,
) -> Result<(), ConfigError> {
    validate_bootstrap_servers(options.get("bootstrap.servers").map(String::as_str))?;
    // Without brokers librdkafka opens no connection.
    options.remove("bootstrap.servers");
    // With GSSAPI, librdkafka runs its kinit command when a client is created unless re-login is disabled: a check
    // must not run anything.
    options.insert(
        "sasl.kerberos.min.time.before.relogin".to_string(),
        "0".to_string(),
    );
    let mut client = client_config(&options, None);
    client.set_log_level(RDKafkaLogLevel::Emerg);
    match client.create::<T>() {
        Ok(_) => Ok(()),
        Err(KafkaError::ClientConfig(_, reason, key, _)) => Err(ConfigError::new(
            key,
            format!("librdkafka rejects this option: {reason}"),
        )),
        Err(KafkaError::ClientCreation(reason)) => Err(ConfigError::new(
            "",
            format!("librdkafka rejects the {role} options: {reason}"),
        )),
        Err(other) => Err(ConfigError::new(
            "",
            format!("librdkafka rejects the {role} options: {other}"),
        )),
    }
}

/// `host:port[,host:port...]`, each entry non-empty and free of spaces; a port, when given, is a number.
fn validate_bootstrap_servers(servers: Option<&str>) -> Result<(), ConfigError> {
    let err = |reason: String| ConfigError::new("bootstrap.servers", reason);
    let servers =
        servers.ok_or_else(|| err("required: a comma-separated list of host:port".into()))?;
    for entry in servers.split(',').map(str::trim) {
        let address = entry.rsplit_once("://").map_or(entry, |(_, a)| a);
        if address.is_empty() || address.contains(char::is_whitespace) {
            return Err(err(format!("'{entry}' is not a host:port address")));
        }
        if let Some((_, port)) = address.rsplit_once(':') {
            if !address.ends_with(']') && port.parse::<u16>().is_err() {
                return Err(err(format!("'{entry}': '{port}' is not a port number")));
            }
        }
    }
    Ok(())
}

/// Why a Kafka endpoint could not start on a topic: no broker answering, or the topic missing or unusable.
#[derive(Debug, thiserror::Error)]
pub enum KafkaConnectError {
    /// No broker answered within the endpoint's start-up timeout.
    #[error("Kafka broker(s) '{servers}' did not answer within {timeout_secs} s: {reason}")]
    Unreachable {
        /// The `bootstrap.servers` list.
        servers: String,
        /// The timeout that expired.
        timeout_secs: u32,
        /// librdkafka's reason, with the last connection error when there was one.
        reason: String,
    },
    /// The broker answered but does not have the topic.
    #[error(
        "Kafka topic '{topic}' does not exist on broker(s) '{servers}'{}; {advice}",
        .reason.as_ref().map(|r| format!(" (librdkafka: {r})")).unwrap_or_default()
    )]
    TopicMissing {
        /// The topic.
        topic: String,
        /// The `bootstrap.servers` list.
        servers: String,
        /// librdkafka's reason, when the metadata carried an error for the topic.
        reason: Option<String>,
        /// What to do: create the topic, or (`kafka_output`) have Sluice create it with `create_topic`.
        advice: &'static str,
    },
    /// `kafka_output`'s `create_topic`: the topic could not be created, or did not become usable in time.
    #[error("cannot create Kafka topic '{topic}' on broker(s) '{servers}': {reason}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// The `bootstrap.servers` list.
        servers: String,
        /// The broker's reason (its error code) and what to change, or what was still missing at the timeout.
        reason: String,
    },
    /// The broker reported an error for the topic (e.g. not authorized).
    #[error("Kafka topic '{topic}' cannot be used: {reason}")]
    Topic {
        /// The topic.
        topic: String,
        /// What the broker said.
        reason: String,
    },
}

/// The start-up check of a topic: where it looks and, for its error messages, how long it was allowed.
pub(crate) struct TopicCheck<'a> {
    /// The `bootstrap.servers` list.
    pub servers: &'a str,
    /// The configured start-up timeout.
    pub timeout_secs: u32,
    /// The last transport error the client reported, if any.
    pub last_trouble: Box<dyn Fn() -> Option<String> + 'a>,
    /// The end of the missing-topic error: what the user can do.
    pub missing_advice: &'static str,
}

/// What the missing-topic error advises when the endpoint cannot create the topic itself.
pub(crate) const CREATE_IT_FIRST: &str = "create it first (Sluice does not auto-create topics)";

impl TopicCheck<'_> {
    /// Asks the brokers for `topic`'s metadata within `timeout`; returns its partition count.
    pub fn run<C: ClientContext>(
        &self,
        client: &Client<C>,
        topic: &str,
        timeout: Duration,
    ) -> Result<usize, KafkaConnectError> {
        let missing = |reason: Option<RDKafkaErrorCode>| KafkaConnectError::TopicMissing {
            topic: topic.to_string(),
            servers: self.servers.to_string(),
            reason: reason.map(|code| code.to_string()),
            advice: self.missing_advice,
        };
        let metadata = client.fetch_metadata(Some(topic), timeout).map_err(|e| {
            KafkaConnectError::Unreachable {
                servers: self.servers.to_string(),
                timeout_secs: self.timeout_secs,
                reason: match (self.last_trouble)() {
                    Some(last) => format!("{e} (last error: {last})"),
                    None => e.to_string(),
                },
            }
        })?;
        let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
            return Err(missing(None));
        };
        match found.error().map(RDKafkaErrorCode::from) {
            None if !found.partitions().is_empty() => Ok(found.partitions().len()),
            None => Err(missing(None)),
            Some(
                code @ (RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic),
            ) => Err(missing(Some(code))),
            Some(code) => Err(KafkaConnectError::Topic {
                topic: topic.to_string(),
                reason: code.to_string(),
            }),
        }
    }
}

/// Forwards one librdkafka log line to `tracing` under the `librdkafka` target, tagged with what the client
/// serves (`topic`).
pub(crate) fn forward_log(level: RDKafkaLogLevel, facility: &str, message: &str, topic: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", topic = %topic, "{facility} {message}")
        }
        RDKafkaLogLevel::Warning => {
            tracing::warn!(target: "librdkafka", topic = %topic, "{facility} {message}")
        }
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", topic = %topic, "{facility} {message}")
        }
        RDKafkaLogLevel::Debug => {
            tracing::debug!(target: "librdkafka", topic = %topic, "{facility} {message}")
        }
    }
}
