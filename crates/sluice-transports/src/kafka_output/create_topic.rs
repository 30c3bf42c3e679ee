//! `create_topic`: creating the destination topic when it is missing at start.
//!
//! Why here, at start, and not by letting the broker auto-create the topic on the first message: the producer
//! keeps `allow.auto.create.topics=false`, so that a misspelt topic fails the start instead of silently
//! appearing; and a topic auto-created by the broker gets the broker's partition count and configs, where an
//! upsert or compacted output needs `cleanup.policy=compact` from its first message on. So the connector creates
//! the topic only when the user asked for it (`create_topic`), with the counts and configs asked for, before the
//! first message.
//!
//! The order of things at start ([`TopicCreator::ensure`]):
//!
//! 1. The usual topic check ([`crate::kafka_common::TopicCheck`]) ran first. A topic that exists is used as it is:
//!    Sluice never deletes, alters or repartitions an existing topic. When it has fewer partitions than
//!    `create_topic.partitions` asks, that is logged as a warning (the connector's stats have no place for
//!    notes that are not errors) and the connector writes to the partitions there are.
//! 2. A missing topic is created with the admin API (`CreateTopics`) within what is left of
//!    `initialization_timeout_secs`. Another creator winning the race (`TopicAlreadyExists`) is success: the
//!    topic is there, which is all the connector needs.
//! 3. `CreateTopics` returns once the controller has recorded the topic, not once every broker knows it and every
//!    partition has a leader. A message sent in between fails with an unknown topic or partition, which is a
//!    permanent error for this endpoint. So the start waits, polling the producer's own metadata (which also fills
//!    the producer's metadata cache), until the topic shows all its partitions with a leader, bounded by the same
//!    timeout.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use sluice_types::transport::kafka::KafkaCreateTopic;
use sluice_types::{KafkaLogLevel, KafkaOutputConfig};

use crate::kafka_common::{client_config, forward_log, KafkaConnectError};

/// Producer options that have no business in the admin client that creates the topic. The admin client is a
/// producer-type librdkafka client: with `transactional.id` it would act for the connector's transactional id,
/// and with idempotence it would ask the broker for a producer id it never uses.
const PRODUCER_ONLY_OPTIONS: &[&str] = &[
    "transactional.id",
    "transaction.timeout.ms",
    "enable.idempotence",
    "enable.gapless.guarantee",
];

/// Asks the broker for its default (`num.partitions`, `default.replication.factor`); brokers from Kafka 2.4 on
/// (CreateTopics v4, KIP-464) take it.
const BROKER_DEFAULT: i32 = -1;

/// What to do about the broker refusals that do not point at one field of `create_topic`.
const POLICY_VIOLATION: &str = "the broker's create.topic.policy.class.name refuses this topic";
const NOT_AUTHORIZED: &str =
    "the connector's principal may not create topics (it needs the CREATE \
     permission on the topic or the cluster): grant it, or create the topic yourself";
const INVALID_NAME: &str =
    "the broker refuses the name (a topic whose name differs only in '.' versus '_' may exist)";
const NO_BROKER_DEFAULTS: &str =
    "the broker is older than Kafka 2.4 and cannot apply its defaults: \
     set create_topic.partitions and create_topic.replication_factor";

/// How long one metadata request may take while waiting for the new topic's partitions.
const METADATA_POLL_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause between two metadata requests while waiting.
const METADATA_POLL_PAUSE: Duration = Duration::from_millis(100);

/// What the missing-topic error advises a `kafka_output` connector without `create_topic`.
pub(super) const CREATE_IT_OR_SET_CREATE_TOPIC: &str = "create it first, or set create_topic in the connector's \
     transport config (e.g. \"create_topic\": {\"partitions\": 1}) to have Sluice create it at start";

/// The `create_topic` part of an endpoint: what to create, and how to reach the brokers to create it.
pub(super) struct TopicCreator {
    wanted: KafkaCreateTopic,
    /// The producer's librdkafka options (security, addresses) less [`PRODUCER_ONLY_OPTIONS`].
    admin_options: BTreeMap<String, String>,
    log_level: Option<KafkaLogLevel>,
}

/// Where the endpoint stands when [`TopicCreator::ensure`] runs.
pub(super) struct Start<'a> {
    /// The destination topic.
    pub topic: &'a str,
    /// The `bootstrap.servers` list, for errors.
    pub servers: &'a str,
    /// `initialization_timeout_secs`, for errors.
    pub timeout_secs: u32,
    /// When the start must be done: the start of `connect` plus `initialization_timeout_secs`.
    pub deadline: Instant,
}

impl TopicCreator {
    /// The creator for `config`, or `None` without `create_topic`. `producer_options` are the effective options of
    /// the endpoint's producer.
    pub fn new(
        config: &KafkaOutputConfig,
        producer_options: &BTreeMap<String, String>,
    ) -> Option<Self> {
        let wanted = config.create_topic.clone()?;
        let mut admin_options = producer_options.clone();
        for key in PRODUCER_ONLY_OPTIONS {
            admin_options.remove(*key);
        }
        Some(TopicCreator {
            wanted,
            admin_options,
            log_level: config.log_level,
        })
    }

    /// Finishes the start-up topic check `checked`: an existing topic is kept (with a warning when it has fewer
    /// partitions than asked); a missing one is created and waited for. Returns the topic's partition count.
    pub fn ensure<C: ClientContext>(
        &self,
        producer: &Client<C>,
        start: &Start<'_>,
        checked: Result<usize, KafkaConnectError>,
    ) -> Result<usize, KafkaConnectError> {
        match checked {
            Ok(partitions) => {
                self.warn_if_fewer(start.topic, partitions);
                Ok(partitions)
            }
            Err(KafkaConnectError::TopicMissing { .. }) => {
                let created = self.create(start)?;
                let partitions = self.wait_until_ready(producer, start, created)?;
                if created {
                    tracing::info!(
                        topic = start.topic,
                        partitions,
                        "Created the Kafka topic (create_topic)."
                    );
                } else {
                    self.warn_if_fewer(start.topic, partitions);
                }
                Ok(partitions)
            }
            Err(other) => Err(other),
        }
    }

    /// Logs a warning when the topic has fewer partitions than `create_topic.partitions` asks for.
    fn warn_if_fewer(&self, topic: &str, existing: usize) {
        let Some(asked) = self.wanted.partitions else {
            return;
        };
        if existing < asked as usize {
            tracing::warn!(
                topic,
                existing,
                asked,
                "Kafka topic '{topic}' already exists with {existing} partition(s), fewer than the {asked} that \
                 create_topic.partitions asks for; Sluice never alters an existing topic and writes to the \
                 {existing} it has (add partitions with the Kafka tools if you need them)."
            );
        }
    }

    /// Sends `CreateTopics` for the topic. Returns whether this call created it (`false`: it already existed,
    /// another creator was first).
    fn create(&self, start: &Start<'_>) -> Result<bool, KafkaConnectError> {
        let fail = |reason: String| KafkaConnectError::CreateTopic {
            topic: start.topic.to_string(),
            servers: start.servers.to_string(),
            reason,
        };
        let mut client = client_config(&self.admin_options, self.log_level);
        if self.log_level.is_none() {
            // Its connection errors would repeat the producer's; the result of the call says what matters.
            client.set_log_level(RDKafkaLogLevel::Error);
        }
        let admin: AdminClient<AdminContext> = client
            .create_with_context(AdminContext {
                topic: start.topic.to_string(),
            })
            .map_err(|e| fail(format!("cannot create a Kafka admin client: {e}")))?;
        let left = time_left(start).ok_or_else(|| {
            fail(format!(
                "initialization_timeout_secs ({} s) ran out before the topic could be created",
                start.timeout_secs
            ))
        })?;
        let partitions = self.wanted.partitions.unwrap_or(BROKER_DEFAULT);
        let replication = self.wanted.replication_factor.unwrap_or(BROKER_DEFAULT);
        let new_topic = self.wanted.config.iter().fold(
            NewTopic::new(
                start.topic,
                partitions,
                TopicReplication::Fixed(replication),
            ),
            |t, (k, v)| t.set(k, v),
        );
        let options = AdminOptions::new()
            .request_timeout(Some(left))
            .operation_timeout(Some(left));
        let results = futures_executor::block_on(admin.create_topics([&new_topic], &options))
            .map_err(|e| fail(self.call_failed(&e, start.timeout_secs)))?;
        let mut created = false;
        for result in results {
            match result {
                Ok(_) => created = true,
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(fail(self.refusal(&admin, code))),
            }
        }
        Ok(created)
    }

    /// Why the `CreateTopics` call itself failed (no answer in time, or the request could not be built).
    fn call_failed(&self, error: &KafkaError, timeout_secs: u32) -> String {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::OperationTimedOut | RDKafkaErrorCode::RequestTimedOut) => format!(
                "no answer to the topic creation request within initialization_timeout_secs ({timeout_secs} s): \
                 {error}; the topic may have been created all the same"
            ),
            _ => error.to_string(),
        }
    }

    /// The broker's refusal `code`, with what in `create_topic` it points at.
    fn refusal(&self, admin: &AdminClient<AdminContext>, code: RDKafkaErrorCode) -> String {
        let wanted = &self.wanted;
        let advice = match code {
            RDKafkaErrorCode::InvalidReplicationFactor => {
                let brokers = admin
                    .inner()
                    .fetch_metadata(None, METADATA_POLL_TIMEOUT)
                    .map(|m| format!("the cluster has {} broker(s)", m.brokers().len()))
                    .unwrap_or_else(|_| "the cluster has fewer brokers".to_string());
                match wanted.replication_factor {
                    Some(r) => format!("create_topic.replication_factor is {r} and {brokers}"),
                    None => {
                        format!("the broker's default.replication.factor is above what {brokers}")
                    }
                }
            }
            RDKafkaErrorCode::InvalidPartitions => match wanted.partitions {
                Some(p) => format!("the broker does not take create_topic.partitions = {p}"),
                None => "the broker's num.partitions is not usable".to_string(),
            },
            RDKafkaErrorCode::InvalidConfig if !wanted.config.is_empty() => {
                let names: Vec<&str> = wanted.config.keys().map(String::as_str).collect();
                format!(
                    "check the topic config names and values in create_topic.config ({})",
                    names.join(", ")
                )
            }
            RDKafkaErrorCode::PolicyViolation => POLICY_VIOLATION.to_string(),
            RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed => NOT_AUTHORIZED.to_string(),
            RDKafkaErrorCode::InvalidTopic => INVALID_NAME.to_string(),
            RDKafkaErrorCode::UnsupportedVersion
                if wanted.partitions.is_none() || wanted.replication_factor.is_none() =>
            {
                NO_BROKER_DEFAULTS.to_string()
            }
            _ => return format!("the broker refused: {code}"),
        };
        format!("the broker refused: {code}; {advice}")
    }

    /// Polls the producer's metadata until the topic shows every partition with a leader, at most until the
    /// deadline. With `created` and a partition count asked for, also until all of them show. Returns the count.
    fn wait_until_ready<C: ClientContext>(
        &self,
        producer: &Client<C>,
        start: &Start<'_>,
        created: bool,
    ) -> Result<usize, KafkaConnectError> {
        let expected = match self.wanted.partitions {
            Some(p) if created => p as usize,
            _ => 1,
        };
        let mut last = "no metadata yet".to_string();
        loop {
            let Some(left) = time_left(start) else {
                return Err(KafkaConnectError::CreateTopic {
                    topic: start.topic.to_string(),
                    servers: start.servers.to_string(),
                    reason: format!(
                        "the topic {} but was not ready within initialization_timeout_secs ({} s): {last}",
                        if created { "was created" } else { "exists" },
                        start.timeout_secs
                    ),
                });
            };
            match producer.fetch_metadata(Some(start.topic), left.min(METADATA_POLL_TIMEOUT)) {
                Err(e) => last = format!("metadata request failed: {e}"),
                Ok(metadata) => match metadata.topics().iter().find(|t| t.name() == start.topic) {
                    None => last = "the brokers do not list it yet".to_string(),
                    Some(t) => match t.error().map(RDKafkaErrorCode::from) {
                        Some(code) => last = format!("its metadata carries {code}"),
                        None => {
                            let partitions = t.partitions();
                            let led = partitions
                                .iter()
                                .filter(|p| p.error().is_none() && p.leader() >= 0)
                                .count();
                            if partitions.len() >= expected && led == partitions.len() {
                                return Ok(partitions.len());
                            }
                            last = format!(
                                "{led} of {} partition(s) have a leader (expected {expected} or more partitions)",
                                partitions.len()
                            );
                        }
                    },
                },
            }
            std::thread::sleep(METADATA_POLL_PAUSE.min(time_left(start).unwrap_or_default()));
        }
    }
}

/// What is left until the deadline, or `None` when it has passed.
fn time_left(start: &Start<'_>) -> Option<Duration> {
    Some(start.deadline.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero())
}

/// The admin client's context: its log lines go to `tracing` under the `librdkafka` target like the producer's,
/// its client errors to a debug line (the result of the call is what is reported).
struct AdminContext {
    topic: String,
}

impl ClientContext for AdminContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        forward_log(level, facility, message, &self.topic);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(topic = %self.topic, error = %error, "Kafka admin client error: {reason}");
    }
}
