//! [`InputConnector`]: an [`InputEndpoint`] → parser → a table of the pipeline, on a thread of its own.
//!
//! The thread polls the endpoint, parses each message and hands the records to the pipeline's input buffer through
//! a [`RecordSink`]. Each message is all or nothing (see the module's documentation); while the sink is full or
//! the pipeline paused, the endpoint is paused and the held records are offered again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sluice_data::{Relation, Row};
use sluice_formats::{build_avro_parser, build_parser, Parser, SchemaLookup};
use sluice_registry::{Registry, RegistryConfig};
use sluice_transports::health::{InputTransportStats, RecentErrors};
use sluice_types::{ConfigError, FormatConfig};

use super::endpoint::{EndpointError, InputEndpoint, InputMessage, Position};
use super::registry;
use super::sink::{RecordSink, Refusal};
use super::spec::{InputConnectorStats, InputError, InputSpec};
use crate::durable::journal::SourceProgress;
use crate::rows::check_rows;
use crate::util::lock;

/// How long one poll of the consumer waits for a message.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// How long one offer of records to a full input buffer waits before the thread polls again.
const OFFER_WAIT: Duration = Duration::from_millis(100);
/// How long the last offer at shutdown waits for room.
const FINAL_OFFER_WAIT: Duration = Duration::from_secs(5);

struct Counters {
    messages: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
    pending: AtomicU64,
    rejected: AtomicU64,
    rejections: Mutex<RecentErrors>,
    paused_reason: Mutex<Option<String>>,
    fatal: Mutex<Option<String>>,
    transport: Mutex<InputTransportStats>,
}

impl Counters {
    fn new(transport: InputTransportStats) -> Self {
        Counters {
            messages: AtomicU64::new(0),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            rejections: Mutex::default(),
            paused_reason: Mutex::new(None),
            fatal: Mutex::new(None),
            transport: Mutex::new(transport),
        }
    }
}

/// A connected input connector that does not read yet; [`ConnectedInput::run`] starts its thread.
pub(crate) struct ConnectedInput {
    name: String,
    table: String,
    t: usize,
    endpoint: Box<dyn InputEndpoint>,
    parser: Box<dyn Parser>,
}

/// A running input connector.
pub(crate) struct InputConnector {
    name: String,
    table: String,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl InputConnector {
    /// Checks the config against the table, opens the endpoint and connects it (a Kafka consumer: the broker
    /// answers, every topic exists, and the group assigned partitions), starting at `start` where given (a
    /// durable pipeline's stored offsets: topic, partition, next offset). `t` is the table's index in the program.
    pub(crate) fn connect(
        spec: &InputSpec,
        t: usize,
        table: &Relation,
        start: &[Position],
    ) -> Result<ConnectedInput, InputError> {
        let name = spec.name.as_str();
        let config_err = |error: ConfigError| InputError::Config {
            name: name.to_string(),
            error,
        };
        spec.config.validate().map_err(config_err)?;
        let transport_err = |error: EndpointError| InputError::Transport {
            name: name.to_string(),
            error,
        };
        let mut endpoint =
            match registry::open(name, spec.group_scope.as_deref(), &spec.config.transport) {
                None => {
                    return Err(InputError::Unsupported {
                        name: name.to_string(),
                        transport: spec.config.transport.name(),
                    })
                }
                Some(Err(EndpointError::Config(e))) => return Err(config_err(e)),
                Some(Err(e)) => return Err(transport_err(e)),
                Some(Ok(endpoint)) => endpoint,
            };
        let format = spec.config.format.as_ref().ok_or_else(|| {
            config_err(ConfigError::new(
                "format",
                "an input connector needs a format",
            ))
        })?;
        let parser = match format {
            // Avro read with the registry's schemas: each new id is looked up in the registry.
            FormatConfig::Avro(avro) if !avro.registry_urls.is_empty() => {
                let registry = Registry::new(&RegistryConfig::of_avro(avro)).map_err(|e| {
                    config_err(ConfigError::new(
                        "format.config.registry_urls",
                        e.to_string(),
                    ))
                })?;
                let lookup: SchemaLookup =
                    Box::new(move |id| registry.schema_by_id(id).map_err(|e| e.to_string()));
                build_avro_parser(avro, table, Some(lookup)).map_err(config_err)?
            }
            _ => build_parser(format, table).map_err(config_err)?,
        };
        endpoint.start_from(start).map_err(transport_err)?;
        endpoint.connect().map_err(transport_err)?;
        Ok(ConnectedInput {
            name: name.to_string(),
            table: table.name.clone(),
            t,
            endpoint,
            parser,
        })
    }

    /// Counters and state now.
    pub(crate) fn stats(&self) -> InputConnectorStats {
        snapshot(&self.name, &self.table, &self.counters)
    }

    /// Stops reading after offering the held records one last time; returns the final counters and, when
    /// records read from Kafka could not be handed over, an error that says how many.
    pub(crate) fn shutdown(mut self) -> (InputConnectorStats, Option<String>) {
        self.stop.store(true, Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let stats = self.stats();
        let error = (stats.pending_records > 0).then(|| {
            format!(
                "input connector '{}': {} records read from Kafka were not applied at shutdown (the input buffer stayed full); \
                 they are read again after a restart only if auto.offset.reset reaches them",
                self.name, stats.pending_records
            )
        });
        (stats, error)
    }
}

impl Drop for InputConnector {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl ConnectedInput {
    /// Starts reading into the pipeline behind `shared`.
    pub(crate) fn run(self, shared: Arc<dyn RecordSink>) -> Result<InputConnector, InputError> {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::new(self.endpoint.stats()));
        let (name, table) = (self.name.clone(), self.table.clone());
        let thread = {
            let (stop, counters) = (stop.clone(), counters.clone());
            std::thread::Builder::new()
                .name(format!("input-{name}"))
                .spawn(move || self.read(&*shared, &stop, &counters))
                .map_err(|source| InputError::Thread {
                    name: name.clone(),
                    source,
                })?
        };
        Ok(InputConnector {
            name,
            table,
            stop,
            counters,
            thread: Some(thread),
        })
    }

    /// The thread: poll, parse, offer; pause the consumer while the pipeline is paused or its buffer is full.
    fn read(mut self, shared: &dyn RecordSink, stop: &AtomicBool, counters: &Counters) {
        // Records of accepted messages not yet in the buffer, with the bytes that carried them and how far they
        // reach in the source.
        let mut held = Held::default();
        let mut consumer_paused = false;
        let mut committed = 0;
        while !stop.load(Relaxed) {
            if let Some((checkpoint, positions)) =
                shared.checkpointed_positions(&self.name, committed)
            {
                committed = checkpoint;
                if let Err(e) = self.endpoint.commit(&positions) {
                    tracing::warn!(endpoint = %self.name, error = %e, "Cannot commit offsets to the source.");
                }
            }
            let reason = if shared.paused() {
                Some("the pipeline is paused".to_string())
            } else if !held.records.is_empty() {
                match self.offer(shared, &mut held, OFFER_WAIT, counters) {
                    Ok(()) => None,
                    Err(Refusal::Busy(reason)) => {
                        Some(format!("the pipeline's input buffer is full: {reason}"))
                    }
                    // Failed or stopping: nothing more can be handed over.
                    Err(Refusal::Closed) => break,
                }
            } else {
                None
            };
            let want_paused = reason.is_some();
            if want_paused != consumer_paused {
                let result = if want_paused {
                    self.endpoint.pause()
                } else {
                    self.endpoint.resume()
                };
                match result {
                    Ok(()) => consumer_paused = want_paused,
                    Err(e) => {
                        tracing::warn!(endpoint = %self.name, error = %e, "Cannot pause or resume the consumer.")
                    }
                }
            }
            *lock(&counters.paused_reason) = reason;
            *lock(&counters.transport) = self.endpoint.stats();
            match self.endpoint.poll(POLL_TIMEOUT) {
                Ok(Some(message)) => self.accept(shared, &message, &mut held, counters),
                Ok(None) => {}
                Err(e) => {
                    let error = format!("input connector '{}': {e}", self.name);
                    tracing::error!(endpoint = %self.name, %error, "Input connector failed.");
                    *lock(&counters.fatal) = Some(error);
                    shared.input_failed(&self.name, e);
                    break;
                }
            }
        }
        if !held.records.is_empty() {
            let _ = self.offer(shared, &mut held, FINAL_OFFER_WAIT, counters);
        }
        self.endpoint.stop();
        *lock(&counters.transport) = self.endpoint.stats();
    }

    /// Parses one message; its records join `held` only if every one of them is valid.
    fn accept(
        &mut self,
        shared: &dyn RecordSink,
        message: &InputMessage,
        held: &mut Held,
        counters: &Counters,
    ) {
        counters.messages.fetch_add(1, Relaxed);
        // A rejected message moves the position too: the next batch handed over says it was read.
        if let Some(o) = &message.offset {
            held.progress
                .insert((o.topic.clone(), o.partition), o.offset + 1);
        }
        let mut records = Vec::new();
        let mut errors: Vec<String> = self
            .parser
            .parse(&message.payload, &mut records)
            .into_iter()
            .map(|e| e.message)
            .collect();
        let checked = match check_rows(shared.table(self.t), records) {
            Ok(checked) => checked,
            Err(invalid) => {
                errors.extend(invalid);
                Vec::new()
            }
        };
        if !errors.is_empty() {
            let at = match &message.position {
                Some(position) => format!("input connector '{}', {position}", self.name),
                None => format!("input connector '{}'", self.name),
            };
            let listed: Vec<String> = errors.iter().map(|e| format!("{at}: {e}")).collect();
            tracing::warn!(endpoint = %self.name, position = message.position.as_deref().unwrap_or(""),
                errors = errors.len(), "Message rejected: no record of it was applied.");
            shared.record_errors(self.t, &listed);
            counters.rejected.fetch_add(1, Relaxed);
            lock(&counters.rejections).push(format!(
                "{at}: {} invalid record(s), none of the message applied; first: {}",
                errors.len(),
                errors[0]
            ));
            return;
        }
        held.records.extend(checked);
        held.bytes += message.payload.len() as u64;
        counters.pending.store(held.records.len() as u64, Relaxed);
        // Hand over at once when there is room; otherwise the loop keeps offering.
        let _ = self.offer(shared, held, Duration::ZERO, counters);
    }

    /// Offers the held records to the input buffer, waiting up to `wait` for room.
    fn offer(
        &self,
        shared: &dyn RecordSink,
        held: &mut Held,
        wait: Duration,
        counters: &Counters,
    ) -> Result<(), Refusal> {
        if held.records.is_empty() {
            return Ok(());
        }
        let n = held.records.len() as u64;
        let progress: Vec<SourceProgress> = held
            .progress
            .iter()
            .map(|((topic, partition), next)| SourceProgress {
                connector: self.name.clone(),
                topic: topic.clone(),
                partition: *partition,
                next_offset: *next,
            })
            .collect();
        // `admit` consumes the records only when it accepts them; a refusal leaves them here.
        let records = std::mem::take(&mut held.records);
        match shared.admit(self.t, records, held.bytes, wait, &progress) {
            Ok(_) => {
                counters.records.fetch_add(n, Relaxed);
                counters.bytes.fetch_add(held.bytes, Relaxed);
                counters.pending.store(0, Relaxed);
                held.bytes = 0;
                held.progress.clear();
                Ok(())
            }
            Err((e, records)) => {
                held.records = records;
                Err(e)
            }
        }
    }
}

/// What the connector read and did not hand over yet.
#[derive(Default)]
struct Held {
    records: Vec<(Row, i64)>,
    /// Payload bytes of the messages that carried them.
    bytes: u64,
    /// The next offset per (topic, partition) after the messages they came from.
    progress: std::collections::BTreeMap<(String, i32), i64>,
}

fn snapshot(name: &str, table: &str, c: &Counters) -> InputConnectorStats {
    InputConnectorStats {
        endpoint_name: name.to_string(),
        table: table.to_string(),
        total_messages: c.messages.load(Relaxed),
        total_records: c.records.load(Relaxed),
        total_bytes: c.bytes.load(Relaxed),
        pending_records: c.pending.load(Relaxed),
        num_rejected_messages: c.rejected.load(Relaxed),
        rejected_messages: lock(&c.rejections).to_vec(),
        paused_reason: lock(&c.paused_reason).clone(),
        fatal_error: lock(&c.fatal).clone(),
        transport: lock(&c.transport).clone(),
    }
}
