//! [`KafkaOutputEndpoint`] in exactly-once mode: opening it (choosing the mode, reading what an earlier run wrote),
//! the transaction around each checkpoint's steps, and aborting an open one when the endpoint goes away. The
//! mechanism itself is described in `exactly_once`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::Producer;
use sluice_types::{ExactlyOnceMode, KafkaOutputConfig};

use super::client_config::producer_options;
use super::endpoint::{KafkaOutputEndpoint, KafkaOutputError};
use super::exactly_once::{
    end_offsets, marker_offsets, read_marker, read_tails, resume_consumer, Cursor, Delivery,
    ExactlyOnceSetup, Mode, WriterState,
};

/// The broker's default `transaction.max.timeout.ms`: a longer transaction timeout is refused unless the broker
/// was configured for it.
const BROKER_DEFAULT_MAX_TRANSACTION_TIMEOUT_MS: u64 = 900_000;
/// The shortest transaction timeout Sluice asks for.
const MIN_TRANSACTION_TIMEOUT_MS: u64 = 60_000;
/// How long one transactional call may take before it is tried again.
const TXN_CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl KafkaOutputEndpoint {
    /// Creates an exactly-once endpoint and finds what an earlier run of the same connector wrote: checks the
    /// broker and topic, picks the mode (`auto`: the one stored from an earlier run, else transactions when the
    /// broker has them, else markers), and with transactions fences any earlier producer of the connector.
    pub fn open_exactly_once(
        endpoint_name: &str,
        config: &KafkaOutputConfig,
        setup: &ExactlyOnceSetup,
    ) -> Result<Self, KafkaOutputError> {
        config.validate()?;
        let eo_err = |reason: String| KafkaOutputError::ExactlyOnce {
            topic: config.topic.clone(),
            reason,
        };
        let ft = config.fault_tolerance.clone().unwrap_or_default();
        let stored = WriterState::load(&setup.state_file).map_err(eo_err)?;
        if let Some(s) = &stored {
            if s.topic != config.topic {
                return Err(eo_err(format!(
                    "this connector wrote exactly once to topic '{}' and its pipeline's state still covers that; \
                     clear the pipeline's state (POST /clear on the stopped pipeline) to write to another topic",
                    s.topic
                )));
            }
        }
        let mode = match (stored.as_ref().map(|s| s.mode), ft.mode) {
            (Some(m), ExactlyOnceMode::Auto) => Some(m),
            (Some(m), wanted) if m.name() == wanted.name() => Some(m),
            (Some(m), wanted) => {
                return Err(eo_err(format!(
                    "this connector wrote in mode \"{}\", and fault_tolerance.mode now asks for \"{}\": the mode \
                     can change only with the pipeline's state cleared (POST /clear on the stopped pipeline)",
                    m.name(),
                    wanted.name()
                )))
            }
            (None, ExactlyOnceMode::Transactions) => Some(Mode::Transactions),
            (None, ExactlyOnceMode::Markers) => Some(Mode::Markers),
            (None, ExactlyOnceMode::Auto) => None,
        };
        match mode {
            Some(mode) => Self::open_mode(endpoint_name, config, setup, stored, mode),
            None => match Self::open_mode(endpoint_name, config, setup, None, Mode::Transactions) {
                Err(KafkaOutputError::NoTransactions { reason, .. }) => {
                    tracing::warn!(endpoint = endpoint_name, %reason, "The broker has no transactions: exactly-once output uses markers.");
                    Self::open_mode(endpoint_name, config, setup, None, Mode::Markers)
                }
                other => other,
            },
        }
    }

    fn open_mode(
        endpoint_name: &str,
        config: &KafkaOutputConfig,
        setup: &ExactlyOnceSetup,
        stored: Option<WriterState>,
        mode: Mode,
    ) -> Result<Self, KafkaOutputError> {
        let topic = config.topic.clone();
        let eo_err = |reason: String| KafkaOutputError::ExactlyOnce {
            topic: topic.clone(),
            reason,
        };
        let transactional_id = format!(
            "{}{}",
            config
                .fault_tolerance
                .as_ref()
                .map_or("sluice-", |f| f.transactional_id_prefix.as_str()),
            setup.writer
        );
        let options = exactly_once_options(config, setup, mode, &transactional_id)?;
        let mut endpoint = Self::with_options(config, &options, true)?;
        let partitions = endpoint.connect()? as i32;
        let timeout = Duration::from_secs(u64::from(endpoint.initialization_timeout));
        let group = (mode == Mode::Transactions).then_some(transactional_id.as_str());
        let consumer = resume_consumer(config, group).map_err(&eo_err)?;
        let fresh = stored.is_none();
        let state = match stored {
            Some(s) => {
                if mode == Mode::Markers && s.partitions != partitions {
                    return Err(eo_err(format!(
                        "the topic had {} partitions when this connector first wrote to it and has {partitions} \
                         now: markers mode places every message by the partition count, so it cannot go on; clear \
                         the pipeline's state (POST /clear on the stopped pipeline) to start anew",
                        s.partitions
                    )));
                }
                WriterState { partitions, ..s }
            }
            None => {
                let s = WriterState {
                    version: 1,
                    incarnation: WriterState::new_incarnation(),
                    mode,
                    topic: topic.clone(),
                    partitions,
                    start_offsets: end_offsets(&consumer, &topic, partitions, timeout)
                        .map_err(&eo_err)?,
                };
                // Stored below, once the mode has proven itself: a connector that never wrote must not be held to
                // a mode.
                s
            }
        };
        let (group, resume_step, tails) = match mode {
            Mode::Transactions => {
                endpoint
                    .producer
                    .init_transactions(timeout)
                    .map_err(|e| init_error(&topic, &transactional_id, e))?;
                let metadata = consumer
                    .group_metadata()
                    .ok_or_else(|| eo_err("the Kafka consumer has no group metadata".into()))?;
                if fresh {
                    // Some brokers take `init_transactions` and lack the rest (tansu: no EndTxn): before anything
                    // depends on them, one empty transaction carries the first marker (step 0) all the way.
                    endpoint.probe_transactions(&metadata, &state.incarnation, timeout)?;
                }
                let step =
                    read_marker(&consumer, &topic, &state.incarnation, timeout).map_err(&eo_err)?;
                (Some((metadata, transactional_id)), step, Vec::new())
            }
            Mode::Markers => {
                let tails = read_tails(&consumer, &state, timeout).map_err(&eo_err)?;
                (None, 0, tails)
            }
        };
        if fresh {
            // Before the first message: from here on, what the topic holds of this incarnation must be found again.
            state.store(&setup.state_file).map_err(&eo_err)?;
        }
        let delivery = Delivery {
            mode,
            state,
            group,
            resume_step,
            tails,
            cursor: Mutex::new(Cursor::default()),
            skipped: AtomicU64::new(0),
            committed_step: AtomicU64::new(resume_step),
            transactions: AtomicU64::new(0),
        };
        tracing::info!(
            endpoint = endpoint_name,
            mode = mode.name(),
            resumed_after_step = delivery.resumed_after(),
            "Exactly-once output ready."
        );
        endpoint.delivery = Some(delivery);
        Ok(endpoint)
    }

    /// Runs one empty transaction that commits the marker of step 0: proves that the broker has every
    /// transactional call Sluice needs. A broker without them is [`KafkaOutputError::NoTransactions`].
    fn probe_transactions(
        &self,
        group: &rdkafka::consumer::ConsumerGroupMetadata,
        incarnation: &str,
        timeout: Duration,
    ) -> Result<(), KafkaOutputError> {
        let topic = &self.shared.topic;
        let failed = |e: KafkaError| {
            if is_unsupported(&e) {
                KafkaOutputError::NoTransactions {
                    topic: topic.clone(),
                    reason: e.to_string(),
                }
            } else {
                KafkaOutputError::ExactlyOnce {
                    topic: topic.clone(),
                    reason: format!(
                        "the first transaction (an empty one, carrying the marker) failed: {e}"
                    ),
                }
            }
        };
        let marker = marker_offsets(topic, incarnation, 0).map_err(failed)?;
        self.producer.begin_transaction().map_err(failed)?;
        let outcome = self
            .producer
            .send_offsets_to_transaction(&marker, group, timeout)
            .and_then(|()| self.producer.commit_transaction(timeout));
        if let Err(e) = outcome {
            let _ = self.producer.abort_transaction(Duration::from_secs(1));
            return Err(failed(e));
        }
        Ok(())
    }

    /// Opens a transaction for the messages of `step` onwards, unless one is open.
    pub(super) fn begin_transaction(
        &self,
        d: &Delivery,
        step: u64,
    ) -> Result<(), KafkaOutputError> {
        let mut c = d.cursor.lock().unwrap_or_else(|p| p.into_inner());
        if c.open_since.is_some() {
            return Ok(());
        }
        self.producer
            .begin_transaction()
            .map_err(|e| self.txn_failed("cannot begin a transaction", &e))?;
        c.open_since = Some(step);
        Ok(())
    }

    /// The barrier of checkpoint `step`, after every message up to it was acknowledged: commits the open
    /// transaction (with its marker) in transactions mode; notes the step in markers mode. Retries through
    /// outages; fails when the transaction cannot be committed (it is aborted then, and the pipeline's restart
    /// sends its steps again, exactly once).
    pub fn commit_step(&self, step: u64) -> Result<(), KafkaOutputError> {
        let Some(d) = &self.delivery else {
            return Ok(());
        };
        let open = d
            .cursor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .open_since;
        if let (Mode::Transactions, Some(first)) = (d.mode, open) {
            let (group, _) = d.group.as_ref().expect("transactions mode has a group");
            let marker = marker_offsets(&self.shared.topic, &d.state.incarnation, step)
                .map_err(|e| self.txn_failed("cannot build the transaction marker", &e))?;
            self.retry_txn(first, step, |p| {
                p.send_offsets_to_transaction(&marker, group, TXN_CALL_TIMEOUT)
            })?;
            self.retry_txn(first, step, |p| p.commit_transaction(TXN_CALL_TIMEOUT))?;
            d.cursor
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .open_since = None;
            d.transactions.fetch_add(1, Relaxed);
        }
        d.committed_step.fetch_max(step, Relaxed);
        Ok(())
    }

    /// Runs a transactional call until it succeeds; retriable errors (an outage) are tried again while the
    /// endpoint has not failed or been aborted.
    fn retry_txn(
        &self,
        first: u64,
        step: u64,
        call: impl Fn(
            &rdkafka::producer::ThreadedProducer<super::context::OutputContext>,
        ) -> Result<(), KafkaError>,
    ) -> Result<(), KafkaOutputError> {
        loop {
            if let Some(failure) = self.shared.counters.failure() {
                return Err(KafkaOutputError::Failed(failure));
            }
            let error = match call(&self.producer) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let retriable = match &error {
                _ if is_unsupported(&error) => false,
                KafkaError::Transaction(e) => e.is_retriable(),
                KafkaError::Flush(_) => true,
                _ => false,
            };
            if retriable {
                self.shared.counters.trouble(format!(
                    "committing the transaction of steps {first}..={step}: {error}; retrying"
                ));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            return Err(self.txn_failed(
                &format!("cannot commit the transaction of steps {first}..={step}"),
                &error,
            ));
        }
    }

    /// Fails the endpoint over a transaction error: aborts the transaction when Kafka asks for that, and says what
    /// happens to its messages.
    fn txn_failed(&self, what: &str, error: &KafkaError) -> KafkaOutputError {
        let fenced = matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch)
        );
        if let KafkaError::Transaction(e) = error {
            if e.txn_requires_abort() {
                let _ = self.producer.abort_transaction(TXN_CALL_TIMEOUT);
            }
        }
        let why = if fenced {
            "another producer with the same transactional id started (a second instance of this pipeline), or \
             the transaction outlived transaction.timeout.ms and the broker aborted it"
        } else {
            "the transaction is aborted"
        };
        let message = format!(
            "{what} on Kafka topic '{}': {error} ({why}); nothing of it is visible to read_committed consumers, \
             and the pipeline's restart sends it again, exactly once",
            self.shared.topic
        );
        self.shared.counters.fail(message.clone());
        KafkaOutputError::Failed(message)
    }

    /// Aborts the open transaction, if any (the endpoint is going away without a checkpoint): read_committed
    /// consumers would otherwise wait for it until `transaction.timeout.ms`.
    pub(super) fn abort_open_transaction(&self) {
        let Some(d) = &self.delivery else { return };
        let open = d
            .cursor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .open_since
            .take();
        if let (Mode::Transactions, Some(first)) = (d.mode, open) {
            if let Err(e) = self.producer.abort_transaction(Duration::from_secs(5)) {
                tracing::warn!(topic = %self.shared.topic, first_step = first, error = %e, "Cannot abort the open transaction; the broker aborts it when it times out or when the pipeline starts again.");
            }
        }
    }
}

/// The producer options of an exactly-once endpoint: the user's, the fault-tolerance producer options over them,
/// and what the mode needs.
fn exactly_once_options(
    config: &KafkaOutputConfig,
    setup: &ExactlyOnceSetup,
    mode: Mode,
    transactional_id: &str,
) -> Result<BTreeMap<String, String>, KafkaOutputError> {
    let (mut options, _) = producer_options(config);
    let ft_options = config
        .fault_tolerance
        .as_ref()
        .map(|f| f.producer_options.clone())
        .unwrap_or_default();
    let user_set =
        |key: &str| config.kafka_options.contains_key(key) || ft_options.contains_key(key);
    let config_err = |field: &str, reason: String| {
        KafkaOutputError::Config(sluice_types::ConfigError::new(field, reason))
    };
    options.extend(ft_options.clone());
    if options.get("enable.idempotence").map(String::as_str) == Some("false") {
        return Err(config_err(
            "enable.idempotence",
            "exactly-once output needs the idempotent producer; remove enable.idempotence=false"
                .into(),
        ));
    }
    options.insert("enable.idempotence".into(), "true".into());
    match mode {
        Mode::Markers => {
            options.insert("enable.gapless.guarantee".into(), "true".into());
        }
        Mode::Transactions => {
            // A transaction stays open for a checkpoint interval, and while the checkpoint waits for the outputs.
            let needed_ms = setup.checkpoint_interval.as_millis() as u64 * 2 + 30_000;
            let timeout_ms = match options
                .get("transaction.timeout.ms")
                .filter(|_| user_set("transaction.timeout.ms"))
            {
                Some(text) => {
                    let ms: u64 = text.trim().parse().map_err(|_| {
                        config_err(
                            "transaction.timeout.ms",
                            format!("'{text}' is not a whole number of milliseconds"),
                        )
                    })?;
                    let interval_ms = setup.checkpoint_interval.as_millis() as u64;
                    if ms <= interval_ms {
                        return Err(config_err(
                            "transaction.timeout.ms",
                            format!(
                                "{ms} ms is not longer than the pipeline's checkpoint interval ({interval_ms} ms), \
                                 and a transaction stays open that long; raise it or lower \
                                 fault_tolerance.checkpoint_interval_secs"
                            ),
                        ));
                    }
                    ms
                }
                None => {
                    let ms = needed_ms.max(MIN_TRANSACTION_TIMEOUT_MS);
                    if ms > BROKER_DEFAULT_MAX_TRANSACTION_TIMEOUT_MS {
                        return Err(config_err(
                            "transaction.timeout.ms",
                            format!(
                                "a checkpoint interval of {} s keeps a transaction open up to {ms} ms, more than \
                                 Kafka brokers allow by default (transaction.max.timeout.ms = {} ms): lower \
                                 fault_tolerance.checkpoint_interval_secs to at most 435, or set \
                                 fault_tolerance.producer_options.transaction.timeout.ms (with the broker's \
                                 transaction.max.timeout.ms raised to match)",
                                setup.checkpoint_interval.as_secs(),
                                BROKER_DEFAULT_MAX_TRANSACTION_TIMEOUT_MS
                            ),
                        ));
                    }
                    ms
                }
            };
            options.insert("transaction.timeout.ms".into(), timeout_ms.to_string());
            if !user_set("message.timeout.ms") {
                options.insert("message.timeout.ms".into(), timeout_ms.to_string());
            }
            options.insert("transactional.id".into(), transactional_id.to_string());
        }
    }
    Ok(options)
}

/// Whether the broker lacks a call (librdkafka reports a missing transactional request as retriable, with
/// "not supported by broker"; trying again cannot help).
fn is_unsupported(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::UnsupportedFeature | RDKafkaErrorCode::UnsupportedVersion)
    ) || error.to_string().contains("not supported by broker")
}

/// What `init_transactions` failing means: a broker without transactions (for `auto`), a timeout the broker
/// refuses, or an unreachable coordinator.
fn init_error(topic: &str, transactional_id: &str, error: KafkaError) -> KafkaOutputError {
    match error.rdkafka_error_code() {
        _ if is_unsupported(&error) => KafkaOutputError::NoTransactions {
            topic: topic.to_string(),
            reason: error.to_string(),
        },
        Some(RDKafkaErrorCode::InvalidTransactionTimeout) => KafkaOutputError::ExactlyOnce {
            topic: topic.to_string(),
            reason: format!(
                "the broker refuses the transaction timeout ({error}): it is longer than the broker's \
                 transaction.max.timeout.ms; lower fault_tolerance.checkpoint_interval_secs or \
                 fault_tolerance.producer_options.transaction.timeout.ms, or raise the broker's limit"
            ),
        },
        _ => KafkaOutputError::ExactlyOnce {
            topic: topic.to_string(),
            reason: format!("cannot start transactions as '{transactional_id}': {error}"),
        },
    }
}

impl Drop for KafkaOutputEndpoint {
    fn drop(&mut self) {
        self.abort_open_transaction();
    }
}
