//! [`KafkaOutputEndpoint`]: what the pipeline calls to put encoded messages on a Kafka topic.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use sluice_types::{ConfigError, KafkaOutputConfig};

use super::client_config::{max_payload_bytes, producer_options, HEADER_OVERHEAD_BYTES};
use super::context::{OutputContext, Retry, Shared};
use super::create_topic::{Start, TopicCreator, CREATE_IT_OR_SET_CREATE_TOPIC};
use super::exactly_once::{progress_value, Delivery, ExactlyOnceStats, Mode, PROGRESS_HEADER};
use super::stats::{KafkaOutputStats, MessageSize};
use crate::kafka_common::errors::{classify_code, Severity};
use crate::kafka_common::{client_config, KafkaConnectError, TopicCheck};

/// Why the endpoint could not start or could not take a message.
#[derive(Debug, thiserror::Error)]
pub enum KafkaOutputError {
    /// The config is invalid (normally caught when the connector is created).
    #[error("invalid kafka_output config: {0}")]
    Config(#[from] ConfigError),
    /// librdkafka refused to create the producer.
    #[error("cannot create a Kafka producer for topic '{topic}': {reason}")]
    Create {
        /// The destination topic.
        topic: String,
        /// librdkafka's reason.
        reason: String,
    },
    /// No broker answered within `initialization_timeout_secs`, or the topic is missing or unusable.
    #[error(transparent)]
    Connect(#[from] KafkaConnectError),
    /// One message is larger than the producer allows; the encoder should have split it.
    #[error("a {size}-byte message exceeds the {limit}-byte limit of topic '{topic}'")]
    TooLarge {
        /// The destination topic.
        topic: String,
        /// Key + value bytes.
        size: usize,
        /// [`KafkaOutputEndpoint::max_payload_bytes`].
        limit: usize,
    },
    /// The endpoint failed earlier with a permanent error and takes no more messages.
    #[error("{0}")]
    Failed(String),
    /// Exactly-once output cannot start: what an earlier run wrote cannot be found, or the topic or the broker
    /// does not allow it.
    #[error("exactly-once output to Kafka topic '{topic}': {reason}")]
    ExactlyOnce {
        /// The destination topic.
        topic: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The broker has no transactions (mode `auto` then uses markers).
    #[error("Kafka topic '{topic}': the broker does not support transactions: {reason}")]
    NoTransactions {
        /// The destination topic.
        topic: String,
        /// librdkafka's error.
        reason: String,
    },
    /// `flush` ran out of time with messages still unacknowledged (they are kept, not dropped).
    #[error(
        "{in_flight} messages to Kafka topic '{topic}' were still unacknowledged after {timeout:?}"
    )]
    FlushTimeout {
        /// The destination topic.
        topic: String,
        /// Messages not yet acknowledged.
        in_flight: u64,
        /// The timeout that expired.
        timeout: Duration,
    },
}

/// One message for [`KafkaOutputEndpoint::send_message`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OutgoingMessage<'a> {
    /// The key, if any.
    pub key: Option<&'a [u8]>,
    /// The value; `None` sends a tombstone.
    pub value: Option<&'a [u8]>,
    /// The message's own headers, after the connector's static ones.
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
    /// How many records it carries, for the counters.
    pub records: usize,
}

impl OutgoingMessage<'_> {
    /// The bytes counted against the size limit: key, value, and each own header's name, value and framing
    /// ([`HEADER_OVERHEAD_BYTES`]).
    pub fn size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.map_or(0, <[u8]>::len) + HEADER_OVERHEAD_BYTES)
            .sum();
        self.key.map_or(0, <[u8]>::len) + self.value.map_or(0, <[u8]>::len) + headers
    }
}

/// A Kafka producer for one connector.
///
/// `send` blocks while librdkafka's local queue is full: that is the backpressure that eventually stops the
/// pipeline from stepping. Messages are counted as transmitted only in the delivery report of a successful
/// acknowledgement. Dropping the endpoint without [`KafkaOutputEndpoint::flush`] purges unsent messages and counts
/// them as failed.
pub struct KafkaOutputEndpoint {
    pub(super) shared: Arc<Shared>,
    pub(super) producer: ThreadedProducer<OutputContext>,
    headers: Option<OwnedHeaders>,
    servers: String,
    pub(super) initialization_timeout: u32,
    max_payload_bytes: usize,
    /// Exactly-once output's state (see `exactly_once`); `None` for at-least-once.
    pub(super) delivery: Option<Delivery>,
    /// `create_topic`: how `connect` creates a missing topic; `None`: a missing topic fails the start.
    create_topic: Option<TopicCreator>,
}

/// The longest pause between two attempts to put a message into a full queue.
const MAX_QUEUE_BACKOFF: Duration = Duration::from_millis(20);

impl KafkaOutputEndpoint {
    /// Creates the producer without contacting the broker. `endpoint_name` names it in logs.
    pub fn new(endpoint_name: &str, config: &KafkaOutputConfig) -> Result<Self, KafkaOutputError> {
        config.validate()?;
        let (options, warnings) = producer_options(config);
        for warning in warnings {
            tracing::warn!(endpoint = endpoint_name, "{warning}");
        }
        Self::with_options(config, &options, false)
    }

    /// Creates the producer from `options` (the effective librdkafka options) without contacting the broker.
    pub(super) fn with_options(
        config: &KafkaOutputConfig,
        options: &BTreeMap<String, String>,
        exactly_once: bool,
    ) -> Result<Self, KafkaOutputError> {
        // The progress header of markers mode takes room in every message, like a static header.
        let progress_room = if exactly_once {
            PROGRESS_HEADER.len()
                + super::exactly_once::MAX_PROGRESS_VALUE_BYTES
                + HEADER_OVERHEAD_BYTES
        } else {
            0
        };
        let max_payload_bytes = max_payload_bytes(options, config)?.saturating_sub(progress_room);
        let shared = Arc::new(Shared {
            topic: config.topic.clone(),
            counters: Default::default(),
            retries: Mutex::new(VecDeque::new()),
            exactly_once,
        });
        let producer = client_config(options, config.log_level)
            .create_with_context(OutputContext::new(shared.clone()))
            .map_err(|e| KafkaOutputError::Create {
                topic: config.topic.clone(),
                reason: e.to_string(),
            })?;
        let headers = (!config.headers.is_empty()).then(|| {
            config.headers.iter().fold(OwnedHeaders::new(), |acc, h| {
                acc.insert(Header {
                    key: &h.key,
                    value: h.value.as_deref(),
                })
            })
        });
        Ok(KafkaOutputEndpoint {
            shared,
            producer,
            headers,
            servers: config.bootstrap_servers().unwrap_or_default().to_string(),
            initialization_timeout: config.initialization_timeout_secs,
            max_payload_bytes,
            delivery: None,
            create_topic: TopicCreator::new(config, options),
        })
    }

    /// Checks that a broker answers within `initialization_timeout_secs` and that the topic exists; with
    /// `create_topic`, creates a missing topic and waits until its partitions have leaders, all within the same
    /// timeout (see `create_topic`). Returns the topic's partition count.
    pub fn connect(&self) -> Result<usize, KafkaOutputError> {
        let check = TopicCheck {
            servers: &self.servers,
            timeout_secs: self.initialization_timeout,
            last_trouble: Box::new(|| self.shared.counters.last_trouble()),
            missing_advice: CREATE_IT_OR_SET_CREATE_TOPIC,
        };
        let timeout = Duration::from_secs(u64::from(self.initialization_timeout));
        let deadline = Instant::now() + timeout;
        let checked = check.run(self.producer.client(), &self.shared.topic, timeout);
        let Some(creator) = &self.create_topic else {
            return Ok(checked?);
        };
        let start = Start {
            topic: &self.shared.topic,
            servers: &self.servers,
            timeout_secs: self.initialization_timeout,
            deadline,
        };
        Ok(creator.ensure(self.producer.client(), &start, checked)?)
    }

    /// The largest key + value this endpoint takes: `message.max.bytes` less framing and static headers.
    pub fn max_payload_bytes(&self) -> usize {
        self.max_payload_bytes
    }

    /// The destination topic.
    pub fn topic(&self) -> &str {
        &self.shared.topic
    }

    /// Sends one message carrying `records` records, with `payload` as its value and no headers of its own. See
    /// [`KafkaOutputEndpoint::send_message`].
    pub fn send(
        &self,
        key: Option<&[u8]>,
        payload: &[u8],
        records: usize,
    ) -> Result<(), KafkaOutputError> {
        self.send_message(OutgoingMessage {
            key,
            value: Some(payload),
            headers: &[],
            records,
        })
    }

    /// Sends one message. Blocks while the local queue is full; fails only when the endpoint has failed
    /// permanently or the message is too large. A message over [`KafkaOutputEndpoint::max_payload_bytes`] (key,
    /// value and its own headers) fails the endpoint, as the broker's refusal of one would: the encoder broke the
    /// size contract, and going on would leave a hole in the stream.
    pub fn send_message(&self, message: OutgoingMessage<'_>) -> Result<(), KafkaOutputError> {
        self.check_failed()?;
        self.resend_retries()?;
        let size = MessageSize {
            records: message.records as u64,
            bytes: message.size() as u64,
        };
        if size.bytes > self.max_payload_bytes as u64 {
            return Err(self.too_large(size));
        }
        let (key, value) = (message.key, message.value);
        let Some(d) = &self.delivery else {
            let headers = self.headers_for(message.headers, None);
            return self.produce(key, value, size, None, headers);
        };
        let (partition, place, written) = d.next(key);
        if written {
            // An earlier run wrote it: the replay only counts it.
            return Ok(());
        }
        match d.mode {
            Mode::Transactions => {
                self.begin_transaction(d, place.step)?;
                let headers = self.headers_for(message.headers, None);
                self.produce(key, value, size, Some(partition), headers)
            }
            Mode::Markers => {
                let progress = progress_value(&d.state.incarnation, place);
                let headers = self.headers_for(message.headers, Some(&progress));
                self.produce(key, value, size, Some(partition), headers)
            }
        }
    }

    /// The headers of a message: the static ones, then the message's own, then the progress header (markers
    /// mode). Cloned from the prepared static headers when the message adds none.
    fn headers_for(
        &self,
        own: &[(&str, Option<&[u8]>)],
        progress: Option<&str>,
    ) -> Option<OwnedHeaders> {
        if own.is_empty() && progress.is_none() {
            return self.headers.clone();
        }
        let mut headers = self.headers.clone().unwrap_or_default();
        for (key, value) in own {
            headers = headers.insert(Header { key, value: *value });
        }
        if let Some(progress) = progress {
            headers = headers.insert(Header {
                key: PROGRESS_HEADER,
                value: Some(progress),
            });
        }
        Some(headers)
    }

    /// Exactly-once output: the messages that follow belong to `step` (numbered from 0 within it).
    pub fn begin_step(&self, step: u64) {
        if let Some(d) = &self.delivery {
            let mut c = d.cursor.lock().unwrap_or_else(|p| p.into_inner());
            c.step = step;
            c.seq = 0;
        }
    }

    /// The exactly-once state shown in stats; `None` for at-least-once output.
    pub fn exactly_once_stats(&self) -> Option<ExactlyOnceStats> {
        self.delivery.as_ref().map(Delivery::stats)
    }

    /// Gives up for good: the endpoint turns failed with `reason`, a `send` waiting for room in the local queue
    /// returns at once (within the queue backoff), and every later `send` and `flush` fails. For a shutdown that ran
    /// out of time: no thread may go on producing for a pipeline that is gone.
    pub fn abort(&self, reason: &str) {
        self.shared.counters.fail(reason.to_string());
    }

    /// Fails the endpoint because of a message over the size limit, and returns the error for the caller.
    fn too_large(&self, size: MessageSize) -> KafkaOutputError {
        let error = KafkaOutputError::TooLarge {
            topic: self.shared.topic.clone(),
            size: size.bytes as usize,
            limit: self.max_payload_bytes,
        };
        self.shared.counters.fail(error.to_string());
        error
    }

    fn check_failed(&self) -> Result<(), KafkaOutputError> {
        match self.shared.counters.failure() {
            Some(error) => Err(KafkaOutputError::Failed(error)),
            None => Ok(()),
        }
    }

    /// Sends again, oldest first, the messages whose delivery failed transiently.
    fn resend_retries(&self) -> Result<(), KafkaOutputError> {
        if self.shared.counters.queued() == 0 {
            return Ok(());
        }
        loop {
            let next = {
                let mut retries = self
                    .shared
                    .retries
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let next = retries.pop_front();
                if let Some(retry) = &next {
                    self.shared.counters.retry_taken(retry.size, retries.len());
                }
                next
            };
            let Some(retry) = next else {
                return Ok(());
            };
            let sent = self.produce(
                retry.key.as_deref(),
                retry.payload.as_deref(),
                retry.size,
                None,
                retry.headers.clone(),
            );
            if let Err(error) = sent {
                self.give_back(retry);
                return Err(error);
            }
        }
    }

    /// A retry that could not be sent again: counted as failed if the endpoint has failed, otherwise put back at
    /// the front of the queue. Never forgotten.
    fn give_back(&self, retry: Retry) {
        let counters = &self.shared.counters;
        if counters.failure().is_some() {
            counters.retry_abandoned(retry.size);
            return;
        }
        let mut retries = self
            .shared
            .retries
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let size = retry.size;
        retries.push_front(retry);
        counters.retry_queued(size, retries.len());
    }

    /// Puts one message into librdkafka's queue: to `partition` when given (exactly-once output picks it), with
    /// `headers` as they are (static, own and progress headers already merged). No `value`: a tombstone.
    fn produce(
        &self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        size: MessageSize,
        partition: Option<i32>,
        headers: Option<OwnedHeaders>,
    ) -> Result<(), KafkaOutputError> {
        let topic = self.shared.topic.as_str();
        let mut record: BaseRecord<'_, [u8], [u8], Box<MessageSize>> =
            BaseRecord::with_opaque_to(topic, Box::new(size));
        if let Some(value) = value {
            record = record.payload(value);
        }
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(p) = partition {
            record = record.partition(p);
        }
        if let Some(headers) = headers {
            record = record.headers(headers);
        }
        let mut backoff = Duration::from_micros(50);
        let counters = &self.shared.counters;
        loop {
            match self.producer.send(record) {
                Ok(()) => {
                    counters.accepted(size);
                    counters.queue_full(false);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    // Backpressure: wait for acknowledgements to make room. Never drop.
                    record = returned;
                    counters.queue_full(true);
                    self.check_failed()?;
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_QUEUE_BACKOFF);
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _)) => {
                    // librdkafka's own check (`send` checks first with a stricter limit, so this is a backstop).
                    return Err(self.too_large(size));
                }
                Err((error, _)) => {
                    let message = format!("cannot send to Kafka topic '{topic}': {error}");
                    let code = error.rdkafka_error_code();
                    if code.map(classify_code) == Some(Severity::Permanent) || code.is_none() {
                        counters.fail(message.clone());
                    }
                    return Err(KafkaOutputError::Failed(message));
                }
            }
        }
    }

    /// Waits until every message sent so far is acknowledged (or failed), at most `timeout`. Messages still
    /// unacknowledged then are kept and reported in the error.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaOutputError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.resend_retries()?;
            let left = deadline.saturating_duration_since(Instant::now());
            let flushed = self.producer.flush(left.min(Duration::from_millis(200)));
            let retries_empty = self.shared.retries.lock().map_or(true, |r| r.is_empty());
            if flushed.is_ok() && retries_empty && self.shared.counters.in_flight() == 0 {
                return self.check_failed();
            }
            if left.is_zero() {
                self.check_failed()?;
                return Err(KafkaOutputError::FlushTimeout {
                    topic: self.shared.topic.clone(),
                    in_flight: self.shared.counters.in_flight()
                        + self.shared.retries.lock().map_or(0, |r| r.len() as u64),
                    timeout,
                });
            }
        }
    }

    /// The endpoint's counters and health.
    pub fn stats(&self) -> KafkaOutputStats {
        self.shared.counters.snapshot()
    }
}

/// The effective producer options of a config, with Sluice's defaults applied (for diagnostics and tests).
pub fn effective_options(config: &KafkaOutputConfig) -> BTreeMap<String, String> {
    producer_options(config).0
}
