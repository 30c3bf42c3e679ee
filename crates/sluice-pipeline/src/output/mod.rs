//! [`OutputConnector`]: a view's deltas → queue → encoder → transport endpoint ([`OutputEndpoint`]), on a thread
//! of its own. The endpoints live beside it, one file each (`kafka.rs`, `file.rs`, `null.rs`), and
//! [`registry::open`] is the one place that knows them all.
//!
//! The controller calls [`OutputConnector::push`] once per step with the view's delta and checks
//! [`OutputConnector::is_full`] before stepping again: a connector whose queue holds `max_queued_records` or more
//! records is the backpressure signal that stops the pipeline. `push` itself never refuses and never drops.
//!
//! The connector's thread takes batches in step order, encodes them and sends every message to the transport.
//! Records the encoder cannot encode are counted and listed (with the reason); by default (`on_encode_error:
//! "fail"`) the connector then fails, naming the view and the record, since a change that cannot be delivered must
//! not pass unnoticed; with `"skip"` the rest of the batch goes out and the connector carries on. When the transport fails permanently the thread stops taking batches: they stay queued and counted, the
//! queue fills, the pipeline stalls, and the connector reports `failed` with the transport's error. Nothing is
//! ever counted as delivered that the destination did not acknowledge.
//!
//! A durable pipeline marks the step it checkpoints as a *barrier*: after sending that step's messages the thread
//! waits until the transport acknowledged every message so far, then records the step as
//! [`OutputConnector::acknowledged_step`]. The checkpoint is committed only once every connector got there, so
//! a restart never needs to send anything from before it again. An exactly-once endpoint commits there too (its
//! Kafka transaction), before the checkpoint does, and during a restart's replay skips what it already delivered.
//!
//! A connector with `send_snapshot` gets the view's contents first, through [`OutputConnector::push_snapshot`], in
//! chunks queued like steps (so the queue bound holds for them too) and encoded as a snapshot (Debezium's `r`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use sluice_data::{Delta, Relation};
use sluice_formats::{build_encoder, BatchInfo, Encoder, MessageLimits, SinkError};
use sluice_transports::health::{now_ms, EndpointHealth, OutputTransportStats};
use sluice_transports::kafka_output::{ExactlyOnceSetup, ExactlyOnceStats};
use sluice_types::{ConfigError, ConnectorConfig, EncodeErrorPolicy};

use endpoint::needs_keys;
pub use endpoint::{EndpointError, Message, OutputEndpoint};
pub use error::OutputError;

pub mod endpoint;
mod error;
mod file;
mod kafka;
mod null;
pub mod registry;

use crate::util::lock;
pub use sluice_transports::health::ErrorRecord;
use sluice_transports::health::RecentErrors;

/// A snapshot of an output connector's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutputConnectorStats {
    /// The connector's (endpoint's) name.
    pub endpoint_name: String,
    /// The view it is attached to.
    pub view: String,
    /// Records (delta entries) waiting in the queue, including the batch being encoded.
    pub queued_records: u64,
    /// Batches (steps) waiting in the queue.
    pub queued_batches: u64,
    /// The backpressure threshold.
    pub max_queued_records: u64,
    /// Steps fully handed to the transport.
    pub processed_steps: u64,
    /// Delta entries fully handed to the transport (or reported as encode errors), snapshot rows included.
    pub processed_records: u64,
    /// Rows of the view's snapshot (`send_snapshot`) fully handed to the transport.
    pub snapshot_records: u64,
    /// Messages handed to the transport.
    pub encoded_messages: u64,
    /// Records that could not be encoded.
    pub num_encode_errors: u64,
    /// The most recent encode errors, oldest first.
    pub encode_errors: Vec<ErrorRecord>,
    /// The first fatal error: the transport failed and the connector stopped taking batches.
    pub fatal_error: Option<String>,
    /// The transport: `kafka_output`, `file_output` or `null_output`.
    pub transport_name: String,
    /// The transport's own counters and health (transmitted = acknowledged), the same shape for every transport.
    pub transport: OutputTransportStats,
    /// Exactly-once delivery (`fault_tolerance.model = "exactly_once"`): the mode, the committed step, the open
    /// transaction, what the replay skipped. Absent for at-least-once output.
    pub exactly_once: Option<ExactlyOnceStats>,
}

struct Batch {
    step: u64,
    delta: Arc<Delta>,
    /// Wait for every acknowledgement after this batch (see the module's documentation).
    barrier: bool,
    /// A chunk of a snapshot rather than a step's changes.
    snapshot: bool,
    /// Why the batch must not be sent: the connector fails on it instead (see [`OutputConnector::refuse`]).
    refused: Option<Arc<str>>,
}

#[derive(Default)]
struct Queue {
    batches: VecDeque<Batch>,
    closing: bool,
}

/// State shared between the connector handle and its thread.
struct Shared {
    pipeline: String,
    name: String,
    view: String,
    max_queued_records: u64,
    queue: Mutex<Queue>,
    wakeup: Condvar,
    queued_records: AtomicU64,
    processed_steps: AtomicU64,
    processed_records: AtomicU64,
    snapshot_records: AtomicU64,
    encoded_messages: AtomicU64,
    encode_errors: AtomicU64,
    errors: Mutex<RecentErrors>,
    /// What ended the connector's thread, and when (ms since the Unix epoch): the transport's permanent failure, a
    /// step it cannot encode or must refuse. Shown as the transport's health too, whatever the transport says.
    fatal: Mutex<Option<(String, u64)>>,
    /// The last barrier step after which every message was acknowledged.
    acknowledged_step: AtomicU64,
    /// The handle was dropped: a thread waiting for acknowledgements gives up.
    abandoned: std::sync::atomic::AtomicBool,
    transport_name: &'static str,
    on_encode_error: EncodeErrorPolicy,
    endpoint: Box<dyn OutputEndpoint>,
}

/// An output connector of a running pipeline. Dropping it without [`OutputConnector::shutdown`] abandons the
/// queue (the thread stops after its current batch).
pub struct OutputConnector {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    /// See [`OutputConnector::unique_index`].
    unique_index: Option<String>,
}

impl OutputConnector {
    /// Validates `config` against `view`, starts the transport (checking that the destination is reachable and
    /// exists; with `exactly_once`, finding what an earlier run delivered) and the connector's thread. `pipeline`
    /// names the pipeline in the messages of the formats that say where a change comes from.
    pub fn start(
        pipeline: &str,
        name: &str,
        view: &Relation,
        config: &ConnectorConfig,
        exactly_once: Option<&ExactlyOnceSetup>,
    ) -> Result<Self, OutputError> {
        let config_err = |error: ConfigError| OutputError::Config {
            name: name.to_string(),
            error,
        };
        config.validate().map_err(config_err)?;
        let transport_err = |error: EndpointError| OutputError::Transport {
            name: name.to_string(),
            error,
        };
        let endpoint = match registry::open(name, &config.transport, exactly_once) {
            None => {
                return Err(OutputError::Unsupported {
                    name: name.to_string(),
                    transport: config.transport.name(),
                })
            }
            Some(Err(EndpointError::Config(e))) => return Err(config_err(e)),
            Some(Err(e)) => return Err(transport_err(e)),
            Some(Ok(endpoint)) => endpoint,
        };
        let format = config.format.as_ref().ok_or_else(|| {
            config_err(ConfigError::new(
                "format",
                "an output connector needs a format",
            ))
        })?;
        if !endpoint.carries_keys() {
            if let Some(field) = needs_keys(format) {
                return Err(config_err(ConfigError::new(
                    field,
                    format!(
                        "{} writes message values only, without keys, headers or tombstones; remove the setting \
                         or use kafka_output",
                        config.transport.name()
                    ),
                )));
            }
        }
        let encoder = build_encoder(
            format,
            view,
            MessageLimits {
                max_message_bytes: endpoint.max_payload_bytes(),
            },
        )
        .map_err(config_err)?;

        let shared = Arc::new(Shared {
            pipeline: pipeline.to_string(),
            name: name.to_string(),
            view: view.name.clone(),
            max_queued_records: config.max_queued_records,
            queue: Mutex::new(Queue::default()),
            wakeup: Condvar::new(),
            queued_records: AtomicU64::new(0),
            processed_steps: AtomicU64::new(0),
            processed_records: AtomicU64::new(0),
            snapshot_records: AtomicU64::new(0),
            encoded_messages: AtomicU64::new(0),
            encode_errors: AtomicU64::new(0),
            errors: Mutex::default(),
            fatal: Mutex::new(None),
            acknowledged_step: AtomicU64::new(0),
            abandoned: Default::default(),
            transport_name: config.transport.name(),
            on_encode_error: config.on_encode_error,
            endpoint,
        });
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("output-{name}"))
                .spawn(move || run(&shared, encoder))
                .map_err(|source| OutputError::Thread {
                    name: name.to_string(),
                    source,
                })?
        };
        Ok(OutputConnector {
            shared,
            worker: Some(worker),
            unique_index: None,
        })
    }

    /// Queues step `step`'s delta of the view. Never blocks and never drops: the controller must check
    /// [`OutputConnector::is_full`] before the next step. With `barrier`, the connector waits for every
    /// acknowledgement after sending it and then reports `step` as [`OutputConnector::acknowledged_step`] (an empty
    /// delta is queued then, for the barrier alone).
    pub fn push(&self, step: u64, delta: Arc<Delta>, barrier: bool) {
        if delta.is_empty() && !barrier {
            return;
        }
        self.enqueue(Batch {
            step,
            delta,
            barrier,
            snapshot: false,
            refused: None,
        });
    }

    /// Queues a chunk of the view's contents as of step `step` (its snapshot, see `send_snapshot`), ahead of the
    /// changes of the steps after it. Like [`OutputConnector::push`] it never blocks: the caller waits while
    /// [`OutputConnector::is_full`].
    pub fn push_snapshot(&self, step: u64, rows: Arc<Delta>) {
        if !rows.is_empty() {
            self.enqueue(Batch {
                step,
                delta: rows,
                barrier: false,
                snapshot: true,
                refused: None,
            });
        }
    }

    /// Queues step `step`'s delta of the view as refused for `reason`: when the connector reaches it (after sending
    /// the steps before it), it fails with the reason and sends nothing of the step.
    pub fn refuse(&self, step: u64, delta: Arc<Delta>, reason: String) {
        self.enqueue(Batch {
            step,
            delta,
            barrier: false,
            snapshot: false,
            refused: Some(reason.into()),
        });
    }

    /// The index (by its name in the program) whose keys this connector's messages promise to be unique, if it is
    /// keyed by an index and enforces the key (see [`OutputConnector::check_unique_keys_of`]).
    pub fn unique_index(&self) -> Option<&str> {
        self.unique_index.as_deref()
    }

    /// Makes the connector refuse steps after which a key of `index` has more than one row of the view (the
    /// pipeline tells it, from the engine's count per key).
    pub fn check_unique_keys_of(&mut self, index: String) {
        self.unique_index = Some(index);
    }

    fn enqueue(&self, batch: Batch) {
        self.shared
            .queued_records
            .fetch_add(batch.delta.len() as u64, Relaxed);
        lock(&self.shared.queue).batches.push_back(batch);
        self.shared.wakeup.notify_all();
    }

    /// The last barrier step (see [`OutputConnector::push`]) up to which every message is acknowledged; 0 before
    /// the first.
    pub fn acknowledged_step(&self) -> u64 {
        self.shared.acknowledged_step.load(Relaxed)
    }

    /// The connector's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The transport's permanent failure, once there is one.
    pub fn fatal_error(&self) -> Option<String> {
        lock(&self.shared.fatal).clone().map(|(message, _)| message)
    }

    /// The view the connector sends.
    pub fn view(&self) -> &str {
        &self.shared.view
    }

    /// Whether the queue holds `max_queued_records` or more records: the pipeline must not step until it drains.
    pub fn is_full(&self) -> bool {
        self.shared.queued_records.load(Relaxed) >= self.shared.max_queued_records
    }

    /// The connector's counters, errors and transport health.
    pub fn stats(&self) -> OutputConnectorStats {
        let s = &self.shared;
        let fatal = lock(&s.fatal).clone();
        let mut transport = s.endpoint.stats();
        // A connector whose thread ended moves nothing, whatever its transport reports (an encode error or a refused
        // step leaves the transport itself healthy).
        if let Some((error, since_ms)) = &fatal {
            if !matches!(transport.health, EndpointHealth::Failed { .. }) {
                transport.health = EndpointHealth::Failed {
                    error: error.clone(),
                    since_ms: *since_ms,
                };
            }
        }
        OutputConnectorStats {
            endpoint_name: s.name.clone(),
            view: s.view.clone(),
            queued_records: s.queued_records.load(Relaxed),
            queued_batches: lock(&s.queue).batches.len() as u64,
            max_queued_records: s.max_queued_records,
            processed_steps: s.processed_steps.load(Relaxed),
            processed_records: s.processed_records.load(Relaxed),
            snapshot_records: s.snapshot_records.load(Relaxed),
            encoded_messages: s.encoded_messages.load(Relaxed),
            num_encode_errors: s.encode_errors.load(Relaxed),
            encode_errors: lock(&s.errors).to_vec(),
            fatal_error: fatal.as_ref().map(|(message, _)| message.clone()),
            transport_name: s.transport_name.to_string(),
            transport,
            exactly_once: s.endpoint.exactly_once_stats(),
        }
    }

    /// Delivers everything queued and waits for the transport's acknowledgements, at most `timeout` in all.
    /// Records still undelivered then are reported, not silently discarded.
    pub fn shutdown(mut self, timeout: Duration) -> Result<OutputConnectorStats, OutputError> {
        let deadline = Instant::now() + timeout;
        {
            let mut queue = lock(&self.shared.queue);
            queue.closing = true;
            self.shared.wakeup.notify_all();
        }
        // The thread exits once the queue is empty, or at once after a fatal error.
        while self.worker.as_ref().is_some_and(|w| !w.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let undelivered = |reason: String, records: u64| OutputError::Undelivered {
            name: self.shared.name.clone(),
            undelivered_records: records,
            reason,
        };
        if let Some((fatal, _)) = lock(&self.shared.fatal).clone() {
            let records = self.shared.queued_records.load(Relaxed)
                + self.shared.endpoint.stats().in_flight_records;
            return Err(undelivered(fatal, records));
        }
        if let Some(w) = self.worker.take() {
            if !w.is_finished() {
                let records = self.shared.queued_records.load(Relaxed);
                self.worker = Some(w);
                return Err(undelivered(
                    format!("still encoding after {timeout:?}"),
                    records,
                ));
            }
            let _ = w.join();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.shared.endpoint.flush(left).map_err(|e| {
            undelivered(
                e.to_string(),
                self.shared.endpoint.stats().in_flight_records,
            )
        })?;
        Ok(self.stats())
    }
}

/// How long dropping a connector waits for its thread after aborting the endpoint.
const ABANDON_JOIN: Duration = Duration::from_secs(10);

impl Drop for OutputConnector {
    /// Abandons the queue and makes sure the thread ends: a thread still sending after its pipeline is gone would
    /// deliver stale changes, possibly between those of a restarted pipeline.
    fn drop(&mut self) {
        self.shared.abandoned.store(true, Relaxed);
        {
            let mut queue = lock(&self.shared.queue);
            queue.closing = true;
            queue.batches.clear();
            self.shared.wakeup.notify_all();
        }
        let Some(worker) = self.worker.take() else {
            return;
        };
        // An idle thread ends at once on `closing`; one still busy after a moment is stuck sending.
        let idle_deadline = Instant::now() + Duration::from_millis(50);
        while !worker.is_finished() && Instant::now() < idle_deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if !worker.is_finished() {
            self.shared.endpoint.abort(&format!(
                "output connector '{}' was shut down with messages still to send; a durable pipeline sends them \
                 again at its next start",
                self.shared.name
            ));
        }
        let deadline = Instant::now() + ABANDON_JOIN;
        while !worker.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if worker.is_finished() {
            let _ = worker.join();
        } else {
            tracing::error!(endpoint = %self.shared.name, "Output connector thread did not stop after abort.");
        }
    }
}

/// The connector's thread: batches in step order through the encoder to the transport.
fn run(shared: &Shared, mut encoder: Box<dyn Encoder>) {
    loop {
        let batch = {
            let mut queue = lock(&shared.queue);
            loop {
                if let Some(front) = queue.batches.front() {
                    break Batch {
                        step: front.step,
                        delta: front.delta.clone(),
                        barrier: front.barrier,
                        snapshot: front.snapshot,
                        refused: front.refused.clone(),
                    };
                }
                if queue.closing {
                    return;
                }
                queue = shared.wakeup.wait(queue).unwrap_or_else(|p| p.into_inner());
            }
        };
        if let Some(reason) = &batch.refused {
            let message = format!("step {}: {reason}", batch.step);
            tracing::error!(endpoint = %shared.name, error = %message, "Output connector refused a step.");
            lock(&shared.fatal).get_or_insert((message, now_ms()));
            return;
        }
        let mut messages = 0;
        shared.endpoint.begin_step(batch.step);
        encoder.begin_batch(BatchInfo {
            pipeline: &shared.pipeline,
            step: batch.step,
            snapshot: batch.snapshot,
        });
        let result = encoder.encode(&batch.delta, &mut |m| {
            messages += 1;
            shared
                .endpoint
                .send(Message {
                    key: m.key.as_deref(),
                    value: m.value.as_deref(),
                    headers: &m.headers,
                    records: m.records,
                })
                .map_err(SinkError::new)
        });
        let result = result.and_then(|errors| {
            shared
                .endpoint
                .batch_sent()
                .map(|()| errors)
                .map_err(SinkError::new)
        });
        shared.encoded_messages.fetch_add(messages, Relaxed);
        // Encode errors first: a connector that stops over them must not commit the step's other messages (an
        // exactly-once endpoint would then skip the whole step at the next start).
        let result = result.and_then(|errors| note_encode_errors(shared, batch.step, errors));
        let result = match result {
            Ok(()) if batch.barrier => acknowledge_all(shared).and_then(|()| {
                shared
                    .endpoint
                    .commit_step(batch.step)
                    .map_err(SinkError::new)
            }),
            other => other,
        };
        match result {
            Ok(()) => {
                lock(&shared.queue).batches.pop_front();
                if batch.barrier {
                    shared.acknowledged_step.store(batch.step, Relaxed);
                }
                if batch.snapshot {
                    shared
                        .snapshot_records
                        .fetch_add(batch.delta.len() as u64, Relaxed);
                } else {
                    shared.processed_steps.fetch_add(1, Relaxed);
                }
                shared
                    .processed_records
                    .fetch_add(batch.delta.len() as u64, Relaxed);
                shared
                    .queued_records
                    .fetch_sub(batch.delta.len() as u64, Relaxed);
            }
            Err(e) => {
                // The transport failed permanently, or records could not be encoded (`note_encode_errors`). The
                // batch stays queued (part of it may have gone out before the failure; the transport's counters say
                // exactly how much was acknowledged).
                let message = format!("step {}: {e}", batch.step);
                tracing::error!(endpoint = %shared.name, error = %message, "Output connector failed.");
                lock(&shared.fatal).get_or_insert((message, now_ms()));
                return;
            }
        }
    }
}

/// Counts and lists the records of step `step` that could not be encoded. With `on_encode_error: "fail"` the
/// connector then fails: returns the error, and the batch stays queued (nothing of it counts as processed; a
/// durable pipeline sends it again, and fails again, at its next start, until the config or the data changes).
fn note_encode_errors(
    shared: &Shared,
    step: u64,
    errors: Vec<sluice_formats::EncodeError>,
) -> Result<(), SinkError> {
    if errors.is_empty() {
        return Ok(());
    }
    shared.encode_errors.fetch_add(errors.len() as u64, Relaxed);
    let first = errors[0].to_string();
    let n = errors.len();
    for e in errors {
        tracing::warn!(endpoint = %shared.name, step, error = %e, "Record not encoded.");
        lock(&shared.errors).push(e.to_string());
    }
    if shared.on_encode_error == EncodeErrorPolicy::Skip {
        return Ok(());
    }
    Err(SinkError::new(format!(
        "{n} record(s) of view '{}' cannot be encoded (first: {first}); the connector stops (with \
         \"on_encode_error\": \"skip\" such records are skipped, counted and listed)",
        shared.view
    )))
}

/// Waits until the transport acknowledged every message sent so far, through outages (the transport stalls and
/// retries); fails only when the transport fails permanently, and gives up when the connector is dropped.
fn acknowledge_all(shared: &Shared) -> Result<(), SinkError> {
    loop {
        match shared.endpoint.flush(Duration::from_millis(500)) {
            Ok(()) => return Ok(()),
            Err(e) => {
                let failed = matches!(
                    shared.endpoint.stats().health,
                    EndpointHealth::Failed { .. }
                );
                if failed || shared.abandoned.load(Relaxed) {
                    return Err(SinkError::new(e));
                }
            }
        }
    }
}
