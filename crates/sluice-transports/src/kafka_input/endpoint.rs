//! [`KafkaInputEndpoint`]: what the pipeline calls to read messages from Kafka topics.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use sluice_types::{ConfigError, KafkaInputConfig};

use super::client_config::consumer_options;
use super::close::ClosingConsumer;
use super::context::InputContext;
use super::stats::{InputCounters, KafkaInputStats};
use crate::kafka_common::{client_config, KafkaConnectError, TopicCheck, CREATE_IT_FIRST};

/// Why the endpoint could not start or could not read.
#[derive(Debug, thiserror::Error)]
pub enum KafkaInputError {
    /// The config is invalid (normally caught when the connector is created).
    #[error("invalid kafka_input config: {0}")]
    Config(#[from] ConfigError),
    /// librdkafka refused to create the consumer.
    #[error("cannot create a Kafka consumer for topic(s) '{topics}': {reason}")]
    Create {
        /// The topics, comma-separated.
        topics: String,
        /// librdkafka's reason.
        reason: String,
    },
    /// No broker answered within `group_join_timeout_secs`, or a topic is missing or unusable.
    #[error(transparent)]
    Connect(#[from] KafkaConnectError),
    /// The consumer group did not assign partitions within `group_join_timeout_secs`.
    #[error("could not join Kafka consumer group '{group}' within {timeout_secs} s: {reason}")]
    GroupJoin {
        /// The `group.id`.
        group: String,
        /// The timeout that expired.
        timeout_secs: u32,
        /// The last transport error, if any.
        reason: String,
    },
    /// librdkafka refused an operation (subscribe, pause, resume).
    #[error("Kafka consumer for topic(s) '{topics}': {reason}")]
    Consumer {
        /// The topics, comma-separated.
        topics: String,
        /// What failed and librdkafka's reason.
        reason: String,
    },
    /// A permanent error (unknown topic or partition, authorization, authentication): the endpoint reads no more.
    #[error("{0}")]
    Failed(String),
}

/// One message read from Kafka.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputMessage {
    /// The message value; empty for a message without one.
    pub payload: Vec<u8>,
    /// The topic it was read from.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset within the partition.
    pub offset: i64,
}

impl InputMessage {
    fn from_kafka(m: &BorrowedMessage<'_>) -> Self {
        InputMessage {
            payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            topic: m.topic().to_string(),
            partition: m.partition(),
            offset: m.offset(),
        }
    }
}

/// How often a stalled endpoint asks the brokers whether they are back, when no message shows it.
const RECOVERY_PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// A Kafka consumer for one connector, in a consumer group of its own unless `group.id` says otherwise.
///
/// Messages come in offset order within each partition; partitions interleave. No offsets are committed: after a
/// restart, reading starts again where `auto.offset.reset` says, unless the caller knows where it stopped
/// ([`KafkaInputEndpoint::start_from`]). A partition the group assigns again (a rebalance) continues after the last
/// message taken from it, never from `auto.offset.reset`. Everything happens on the thread that calls
/// [`KafkaInputEndpoint::poll`]; keep calling it while paused (it then returns nothing), or the group considers
/// the consumer dead after `max.poll.interval.ms`.
pub struct KafkaInputEndpoint {
    consumer: ClosingConsumer,
    counters: Arc<InputCounters>,
    topics: Vec<String>,
    group: String,
    servers: String,
    join_timeout_secs: u32,
    /// Messages that arrived while `connect` waited for the group to assign partitions.
    pending: Mutex<VecDeque<InputMessage>>,
    last_probe: Mutex<Option<Instant>>,
    /// The next offset to read per (topic, partition): one past the last message taken from librdkafka, or where
    /// [`KafkaInputEndpoint::start_from`] said. Shared with the context, which starts reassigned partitions there.
    next_offsets: Arc<Mutex<HashMap<(String, i32), i64>>>,
}

impl KafkaInputEndpoint {
    /// Creates the consumer without contacting the broker. `connector_name` names it in logs and makes the default
    /// `group.id` (`sluice-<connector_name>`).
    pub fn new(connector_name: &str, config: &KafkaInputConfig) -> Result<Self, KafkaInputError> {
        Self::scoped(connector_name, None, config)
    }

    /// [`KafkaInputEndpoint::new`] with the default group scoped to `group_scope` (`sluice-<scope>-<connector>`),
    /// whose one member is then static (`group.instance.id`): after a crash the restarted consumer takes the dead
    /// one's place at once. The scope must make the group this consumer's alone (a pipeline gives its id).
    pub fn scoped(
        connector_name: &str,
        group_scope: Option<&str>,
        config: &KafkaInputConfig,
    ) -> Result<Self, KafkaInputError> {
        for warning in config.validate()? {
            tracing::warn!(endpoint = connector_name, "{warning}");
        }
        let options = consumer_options(connector_name, group_scope, config);
        let counters = Arc::new(InputCounters::default());
        let topics = config.topics.join(",");
        let next_offsets = Arc::new(Mutex::new(HashMap::new()));
        let consumer = client_config(&options, config.log_level)
            .create_with_context(InputContext {
                topics: topics.clone(),
                counters: counters.clone(),
                positions: next_offsets.clone(),
            })
            .map_err(|e| KafkaInputError::Create {
                topics,
                reason: e.to_string(),
            })?;
        Ok(KafkaInputEndpoint {
            consumer: ClosingConsumer::new(consumer),
            counters,
            topics: config.topics.clone(),
            group: options["group.id"].clone(),
            servers: config.bootstrap_servers().unwrap_or_default().to_string(),
            join_timeout_secs: config.group_join_timeout_secs,
            pending: Mutex::new(VecDeque::new()),
            last_probe: Mutex::new(None),
            next_offsets,
        })
    }

    /// Before [`KafkaInputEndpoint::connect`]: reading of these partitions starts at these offsets (a durable
    /// pipeline's position after a restart) instead of where `auto.offset.reset` says, and so does every later
    /// assignment of them by the group. Other partitions start as usual.
    pub fn start_from(&self, positions: impl IntoIterator<Item = ((String, i32), i64)>) {
        self.next_offsets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(positions);
    }

    /// Within `group_join_timeout_secs`: checks that a broker answers and that every topic exists, subscribes, and
    /// waits until the consumer group has assigned partitions. Returns the total partition count of the topics.
    pub fn connect(&self) -> Result<usize, KafkaInputError> {
        let timeout = Duration::from_secs(u64::from(self.join_timeout_secs));
        let deadline = Instant::now() + timeout;
        let check = self.topic_check();
        let mut partitions = 0;
        for topic in &self.topics {
            let left = deadline.saturating_duration_since(Instant::now());
            partitions += check.run(self.consumer.client(), topic, left)?;
        }
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        self.consumer
            .subscribe(&topics)
            .map_err(|e| self.consumer_error("cannot subscribe", e))?;
        // The group assigns partitions in a rebalance, which librdkafka delivers through poll.
        while !self.counters.joined() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(KafkaInputError::GroupJoin {
                    group: self.group.clone(),
                    timeout_secs: self.join_timeout_secs,
                    reason: self.counters.last_trouble().unwrap_or_else(|| {
                        "no partition assignment from the group coordinator".into()
                    }),
                });
            }
            if let Some(message) = self.poll_consumer(left.min(Duration::from_millis(100)))? {
                self.lock_pending().push_back(message);
            }
        }
        Ok(partitions)
    }

    /// The next message, waiting at most `timeout`. `Ok(None)` when there is none yet, when reading is paused, and
    /// after a transient error (counted and shown in [`KafkaInputEndpoint::stats`]); `Err` for a permanent error,
    /// after which every call fails the same way.
    pub fn poll(&self, timeout: Duration) -> Result<Option<InputMessage>, KafkaInputError> {
        self.check_failed()?;
        if !self.counters.paused() {
            if let Some(message) = self.lock_pending().pop_front() {
                return Ok(Some(message));
            }
        }
        let deadline = Instant::now() + timeout;
        self.probe_if_stalled(timeout);
        self.poll_consumer(deadline.saturating_duration_since(Instant::now()))
    }

    fn poll_consumer(&self, timeout: Duration) -> Result<Option<InputMessage>, KafkaInputError> {
        let result = match self.consumer.poll(timeout) {
            None => None,
            Some(Ok(m)) => {
                let message = InputMessage::from_kafka(&m);
                self.counters.received(message.payload.len());
                self.next_offsets
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(
                        (message.topic.clone(), message.partition),
                        message.offset + 1,
                    );
                Some(message)
            }
            Some(Err(KafkaError::PartitionEOF(_))) => None,
            Some(Err(e)) => match self.consumer.context().record(&e) {
                // The first permanent error is the endpoint's error for good (it may have come through the
                // context's error callback, worded differently).
                Some(permanent) => {
                    self.check_failed()?;
                    return Err(KafkaInputError::Failed(permanent));
                }
                None => None,
            },
        };
        // Client errors reach the context during poll too; a permanent one fails the endpoint.
        self.check_failed()?;
        Ok(result)
    }

    /// While stalled with nothing arriving, asks the brokers now and then whether they are back, so that the stall
    /// ends even when the topics are idle.
    fn probe_if_stalled(&self, timeout: Duration) {
        if !self.counters.stalled() || timeout.is_zero() {
            return;
        }
        {
            let mut last = self.last_probe.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < RECOVERY_PROBE_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        let probe = timeout.min(RECOVERY_PROBE_INTERVAL);
        let check = self.topic_check();
        if check
            .run(self.consumer.client(), &self.topics[0], probe)
            .is_ok()
        {
            self.counters.recovered();
        }
    }

    /// Stops reading: the assigned partitions (and any the group assigns later) deliver nothing until
    /// [`KafkaInputEndpoint::resume`]. Messages already handed out are not affected; reading resumes after the last
    /// one.
    pub fn pause(&self) -> Result<(), KafkaInputError> {
        self.set_paused(true)
    }

    /// Continues reading after [`KafkaInputEndpoint::pause`].
    pub fn resume(&self) -> Result<(), KafkaInputError> {
        self.set_paused(false)
    }

    fn set_paused(&self, paused: bool) -> Result<(), KafkaInputError> {
        self.counters.set_paused(paused);
        let assignment = self
            .consumer
            .assignment()
            .map_err(|e| self.consumer_error("cannot read the assignment", e))?;
        if paused {
            // Take everything librdkafka already fetched (whole fetch responses, so the next offset starts a
            // record batch) before pausing drops it; it is handed out after resume, before anything newer.
            while let Some(message) = self.poll_consumer(Duration::ZERO)? {
                self.lock_pending().push_back(message);
            }
            return self
                .consumer
                .pause(&assignment)
                .map_err(|e| self.consumer_error("cannot pause", e));
        }
        self.consumer
            .resume(&assignment)
            .map_err(|e| self.consumer_error("cannot resume", e))?;
        // Restart every partition read so far right after the last message taken from librdkafka, which is the
        // start of a record batch (see pause). librdkafka on its own restarts after the last message handed out,
        // possibly inside a batch, and a broker that cannot serve a fetch from inside a batch (tansu 0.6) then
        // returns nothing, for ever.
        let positions = {
            let next = self.next_offsets.lock().unwrap_or_else(|p| p.into_inner());
            let mut tpl = TopicPartitionList::new();
            for e in assignment.elements() {
                if let Some(offset) = next.get(&(e.topic().to_string(), e.partition())) {
                    tpl.add_partition_offset(e.topic(), e.partition(), Offset::Offset(*offset))
                        .map_err(|e| self.consumer_error("cannot resume", e))?;
                }
            }
            tpl
        };
        if positions.count() > 0 {
            let result = self
                .consumer
                .seek_partitions(positions, Duration::from_secs(10))
                .map_err(|e| self.consumer_error("cannot seek after resume", e))?;
            for e in result.elements() {
                if let Err(error) = e.error() {
                    return Err(self.consumer_error("cannot seek after resume", error));
                }
            }
        }
        Ok(())
    }

    /// The endpoint's counters and health.
    pub fn stats(&self) -> KafkaInputStats {
        self.counters.snapshot()
    }

    /// The topics read.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// Commits these positions (topic, partition, next offset to read) to the consumer group, without waiting
    /// for the broker's answer: for Kafka's tools (lag, `kafka-consumer-groups`), since a durable pipeline keeps
    /// its true position itself. A commit the broker refuses is logged by librdkafka, never fatal.
    pub fn commit_offsets(&self, positions: &[(String, i32, i64)]) -> Result<(), KafkaInputError> {
        let mut tpl = TopicPartitionList::new();
        for (topic, partition, offset) in positions {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .map_err(|e| self.consumer_error("cannot commit offsets", e))?;
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        self.consumer
            .commit(&tpl, rdkafka::consumer::CommitMode::Async)
            .map_err(|e| self.consumer_error("cannot commit offsets", e))
    }

    /// The consumer group's id.
    pub fn group_id(&self) -> &str {
        &self.group
    }

    fn check_failed(&self) -> Result<(), KafkaInputError> {
        match self.counters.failure() {
            Some(error) => Err(KafkaInputError::Failed(error)),
            None => Ok(()),
        }
    }

    fn topic_check(&self) -> TopicCheck<'_> {
        TopicCheck {
            servers: &self.servers,
            timeout_secs: self.join_timeout_secs,
            last_trouble: Box::new(|| self.counters.last_trouble()),
            missing_advice: CREATE_IT_FIRST,
        }
    }

    fn consumer_error(&self, what: &str, e: KafkaError) -> KafkaInputError {
        KafkaInputError::Consumer {
            topics: self.topics.join(","),
            reason: format!("{what}: {e}"),
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, VecDeque<InputMessage>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}
