//! [`Pipeline`]: one running pipeline. Input is buffered per table, the controller thread turns the buffer into
//! engine steps, and every step's view deltas go to the attached output connectors and to HTTP watchers.
//!
//! # The controller loop
//! The controller thread owns the [`Engine`]. It sleeps until a step is due:
//! - the pipeline is running (not paused),
//! - there is buffered input, and either `min_batch_size_records` are buffered or the oldest buffered record has
//!   waited `max_buffering_delay`,
//! - and no output connector is full (backpressure: a full queue stops stepping; the input buffer then fills,
//!   and [`Pipeline::ingest`] blocks its callers — HTTP requests, Kafka readers — until there is room).
//!
//! A step takes the whole buffer, pushes it into the engine, runs one transaction and hands each view's delta to
//! the output connectors of that view (which encode and send on threads of their own) and to the watchers.
//!
//! # Failure
//! An engine error or a panic in the controller thread marks the pipeline failed with the message; the rest of
//! the process is untouched. A failed pipeline accepts no input; [`Pipeline::shutdown`] still flushes what its
//! output connectors hold.
//!
//! Longer than 600 lines because it still holds every role of the controller (spec and config types, stats,
//! admission, the step loop, watchers); splitting it by role is an open part of issue #12.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use sluice_data::{Delta, Relation, Row};
use sluice_engine::{Engine, EngineConfig};
use sluice_sql::Program;
use sluice_types::ConnectorConfig;

use crate::input::{InputConnector, InputConnectorStats, InputError, InputSpec};
use crate::output::{OutputConnector, OutputConnectorStats, OutputError};
use crate::util::{lock, now_ms, ErrorRecord, RecentErrors};

/// Batches a watcher may fall behind before it is disconnected.
const WATCH_QUEUE_BATCHES: usize = 1024;

/// How the controller batches and bounds input.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// dbsp worker threads.
    pub workers: usize,
    /// Records to wait for before a step (0: step as soon as anything arrives).
    pub min_batch_size_records: u64,
    /// The longest the oldest buffered record waits for `min_batch_size_records`.
    pub max_buffering_delay: Duration,
    /// Input records buffered (not yet stepped) at most; [`Pipeline::ingest`] waits while the buffer is full.
    pub max_buffered_records: u64,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            workers: 1,
            min_batch_size_records: 0,
            max_buffering_delay: Duration::ZERO,
            max_buffered_records: 1_000_000,
        }
    }
}

/// An output connector to attach: its name, the view it sends, and its config.
#[derive(Clone, Debug)]
pub struct OutputSpec {
    /// The attachment's name, shown in stats and errors.
    pub name: String,
    /// The view.
    pub view: String,
    /// The connector's config.
    pub config: ConnectorConfig,
}

/// Everything needed to run a pipeline.
#[derive(Clone, Debug)]
pub struct PipelineSpec {
    /// The pipeline's name, for logs and thread names.
    pub name: String,
    /// The compiled program.
    pub program: Program,
    /// Batching and bounds.
    pub config: ControllerConfig,
    /// Input connectors (Kafka topics into tables); HTTP ingress needs none.
    pub inputs: Vec<InputSpec>,
    /// Output connectors.
    pub outputs: Vec<OutputSpec>,
}

/// Why a pipeline call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// No table of that name.
    #[error("the program has no table '{0}'")]
    UnknownTable(String),
    /// No view of that name.
    #[error("the program has no view '{0}'")]
    UnknownView(String),
    /// An output connector could not start.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// An input connector could not start.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The engine could not start.
    #[error("the engine could not start: {0}")]
    Engine(String),
    /// Records that do not fit the table, one message per record (naming it); nothing of the request was applied.
    #[error("{}", .0.join("; "))]
    InvalidRecords(Vec<String>),
    /// The pipeline failed earlier; the message says why.
    #[error("the pipeline failed: {0}")]
    Failed(String),
    /// The pipeline is shutting down or shut down.
    #[error("the pipeline is shut down")]
    Stopped,
    /// The input buffer stayed full for the whole wait.
    #[error("the pipeline's input buffer is full ({buffered} records, the limit is {limit}); {reason}; retry later")]
    Busy {
        /// Records buffered.
        buffered: u64,
        /// `max_buffered_records`.
        limit: u64,
        /// Why the buffer does not drain (paused, an output connector is full).
        reason: String,
    },
}

/// Where a running pipeline is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum PipelineState {
    /// Stepping as input arrives.
    Running,
    /// Buffering input without stepping.
    Paused,
    /// Stopped by an error; only shutdown is left.
    Failed,
    /// Shut down.
    Stopped,
}

/// Counters of one table's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableInputStats {
    /// The table.
    pub table: String,
    /// Records accepted into the buffer.
    pub total_records: u64,
    /// Bytes of the requests or messages that carried them.
    pub total_bytes: u64,
    /// Records accepted but not yet stepped.
    pub buffered_records: u64,
    /// Records stepped into the engine.
    pub processed_records: u64,
    /// Records rejected (parse errors, invalid values).
    pub num_parse_errors: u64,
    /// The most recent errors, oldest first.
    pub parse_errors: Vec<ErrorRecord>,
}

/// Pipeline-wide counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GlobalStats {
    /// Running, paused, failed or stopped.
    pub state: PipelineState,
    /// Why the pipeline failed.
    pub error: Option<String>,
    /// Input records buffered for the next step.
    pub buffered_input_records: u64,
    /// Input records accepted since start.
    pub total_input_records: u64,
    /// Input records stepped into the engine.
    pub total_processed_records: u64,
    /// Steps run.
    pub steps: u64,
    /// View changes produced by all steps.
    pub total_output_records: u64,
    /// When stepping stopped because an output connector was full (ms since the Unix epoch).
    pub stalled_since_ms: Option<u64>,
    /// Which connector stopped stepping and why.
    pub stall_reason: Option<String>,
    /// HTTP watchers connected.
    pub watchers: u64,
}

/// A snapshot of a pipeline: global counters, per-table input and per-connector output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PipelineStats {
    /// Pipeline-wide counters.
    pub global_metrics: GlobalStats,
    /// One entry per table.
    pub inputs: Vec<TableInputStats>,
    /// One entry per input connector.
    pub input_connectors: Vec<InputConnectorStats>,
    /// One entry per output connector.
    pub outputs: Vec<OutputConnectorStats>,
}

/// What a watcher receives: one step's changes of its view, or the reason the watch ended.
#[derive(Clone, Debug)]
pub enum WatchEvent {
    /// The changes of step `step` (never empty).
    Changes {
        /// The step's number, from 1.
        step: u64,
        /// The changes.
        delta: Arc<Delta>,
    },
    /// The watch ended: the pipeline stopped, or the watcher fell too far behind.
    Ended(String),
}

#[derive(Default)]
struct TableCounters {
    total_records: AtomicU64,
    total_bytes: AtomicU64,
    processed_records: AtomicU64,
    parse_errors: AtomicU64,
    errors: RecentErrors,
}

/// The input buffer and the lifecycle flags, under one lock so the controller's wait sees both.
struct Buffer {
    pending: Vec<Vec<(Row, i64)>>,
    buffered: u64,
    oldest: Option<Instant>,
    paused: bool,
    stopping: bool,
    failed: Option<String>,
    stall: Option<(u64, String)>,
}

pub(crate) struct Shared {
    name: String,
    program: Arc<Program>,
    config: ControllerConfig,
    buffer: Mutex<Buffer>,
    /// Wakes the controller: input arrived, resumed, stopping, or an output drained.
    step_due: Condvar,
    /// Wakes ingest callers waiting for room.
    room: Condvar,
    tables: Vec<TableCounters>,
    outputs: Mutex<Vec<OutputConnector>>,
    watchers: Mutex<Vec<(usize, SyncSender<WatchEvent>)>>,
    steps: AtomicU64,
    output_records: AtomicU64,
    /// Test-only: panic at the next step.
    #[cfg(feature = "fault-injection")]
    panic_next_step: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// [`Pipeline::ingest`] into the table with index `t`.
    pub(crate) fn ingest(
        &self,
        t: usize,
        records: Vec<(Row, i64)>,
        bytes: u64,
        wait: Duration,
    ) -> Result<(), PipelineError> {
        let records = self.validate(t, records)?;
        self.admit(t, records, bytes, wait).map_err(|(e, _)| e)
    }

    /// Checks every record against the table; if any is invalid, counts and lists the errors and returns them.
    pub(crate) fn validate(
        &self,
        t: usize,
        records: Vec<(Row, i64)>,
    ) -> Result<Vec<(Row, i64)>, PipelineError> {
        check_rows(&self.program.tables[t].relation, records).map_err(|invalid| {
            self.record_errors(t, &invalid);
            PipelineError::InvalidRecords(invalid)
        })
    }

    /// Adds valid records to the buffer of table `t`, waiting up to `wait` for room. A refusal gives the records
    /// back, so that a caller holding them (an input connector) can offer them again without copying.
    pub(crate) fn admit(
        &self,
        t: usize,
        records: Vec<(Row, i64)>,
        bytes: u64,
        wait: Duration,
    ) -> Result<(), (PipelineError, Vec<(Row, i64)>)> {
        let s = self;
        let n = records.len() as u64;
        let deadline = Instant::now() + wait;
        let mut buffer = lock(&s.buffer);
        loop {
            if let Some(error) = &buffer.failed {
                return Err((PipelineError::Failed(error.clone()), records));
            }
            if buffer.stopping {
                return Err((PipelineError::Stopped, records));
            }
            // A request larger than the whole buffer is let in once the buffer is empty, so it cannot wait forever.
            if buffer.buffered == 0 || buffer.buffered + n <= s.config.max_buffered_records {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                let reason = match (&buffer.stall, buffer.paused) {
                    (_, true) => "the pipeline is paused".to_string(),
                    (Some((_, why)), _) => why.clone(),
                    _ => "the engine is still processing earlier input".to_string(),
                };
                return Err((
                    PipelineError::Busy {
                        buffered: buffer.buffered,
                        limit: s.config.max_buffered_records,
                        reason,
                    },
                    records,
                ));
            }
            buffer = s
                .room
                .wait_timeout(buffer, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        buffer.pending[t].extend(records);
        buffer.buffered += n;
        buffer.oldest.get_or_insert_with(Instant::now);
        s.tables[t].total_records.fetch_add(n, Relaxed);
        s.tables[t].total_bytes.fetch_add(bytes, Relaxed);
        s.step_due.notify_all();
        Ok(())
    }

    /// [`Pipeline::record_errors`] for the table with index `t`.
    pub(crate) fn record_errors(&self, t: usize, errors: &[String]) {
        let counters = &self.tables[t];
        counters
            .parse_errors
            .fetch_add(errors.len() as u64, Relaxed);
        for message in errors {
            counters.errors.push(message.clone());
        }
    }

    /// The schema of the table with index `t`.
    pub(crate) fn table(&self, t: usize) -> &Relation {
        &self.program.tables[t].relation
    }

    /// Whether stepping is paused (input connectors then stop reading).
    pub(crate) fn paused(&self) -> bool {
        lock(&self.buffer).paused
    }

    /// Marks the pipeline failed with `error` (the first failure wins) and wakes everyone waiting.
    pub(crate) fn fail(&self, error: String) {
        let mut b = lock(&self.buffer);
        b.failed.get_or_insert(error);
        self.room.notify_all();
        self.step_due.notify_all();
    }
}

/// A running pipeline. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Pipeline {
    shared: Arc<Shared>,
    controller: Mutex<Option<JoinHandle<()>>>,
    inputs: Mutex<Vec<InputConnector>>,
}

impl Pipeline {
    /// Starts the output connectors (each checks its broker and topic), the engine, and the controller thread.
    /// The pipeline starts paused when `paused` is true. On error nothing keeps running.
    pub fn start(spec: PipelineSpec, paused: bool) -> Result<Pipeline, PipelineError> {
        let program = Arc::new(spec.program);
        let mut outputs = Vec::new();
        for o in &spec.outputs {
            let view = view_relation(&program, &o.view)?;
            outputs.push(OutputConnector::start(&o.name, view, &o.config)?);
        }
        // Inputs connect (broker, topics, consumer group) before anything runs, so a failure names the connector
        // and leaves nothing behind; they start reading once the controller is there to take their records.
        let mut inputs = Vec::new();
        for i in &spec.inputs {
            let t = table_index(&program, &i.table)?;
            inputs.push(InputConnector::connect(i, t, &program.tables[t].relation)?);
        }
        let engine = Engine::start(
            (*program).clone(),
            EngineConfig::with_workers(spec.config.workers.max(1)),
        )
        .map_err(|e| PipelineError::Engine(e.to_string()))?;
        let shared = Arc::new(Shared {
            name: spec.name.clone(),
            tables: program.tables.iter().map(|_| Default::default()).collect(),
            buffer: Mutex::new(Buffer {
                pending: vec![Vec::new(); program.tables.len()],
                buffered: 0,
                oldest: None,
                paused,
                stopping: false,
                failed: None,
                stall: None,
            }),
            program,
            config: spec.config,
            step_due: Condvar::new(),
            room: Condvar::new(),
            outputs: Mutex::new(outputs),
            watchers: Mutex::new(Vec::new()),
            steps: AtomicU64::new(0),
            output_records: AtomicU64::new(0),
            #[cfg(feature = "fault-injection")]
            panic_next_step: Default::default(),
        });
        let controller = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("pipeline-{}", spec.name))
                .spawn(move || control(&shared, engine))
                .map_err(|e| PipelineError::Engine(e.to_string()))?
        };
        let inputs = inputs
            .into_iter()
            .map(|i| i.run(shared.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pipeline {
            shared,
            controller: Mutex::new(Some(controller)),
            inputs: Mutex::new(inputs),
        })
    }

    /// Test-only (feature `fault-injection`): the controller panics at its next step, as a bug in the engine
    /// would make it.
    #[cfg(feature = "fault-injection")]
    pub fn inject_panic(&self) {
        self.shared.panic_next_step.store(true, Relaxed);
    }

    /// The pipeline's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The program the pipeline runs (table and view schemas).
    pub fn program(&self) -> &Program {
        &self.shared.program
    }

    /// The schema of `table`.
    pub fn table(&self, table: &str) -> Result<&Relation, PipelineError> {
        let i = table_index(&self.shared.program, table)?;
        Ok(&self.shared.program.tables[i].relation)
    }

    /// The schema of `view`.
    pub fn view(&self, view: &str) -> Result<&Relation, PipelineError> {
        view_relation(&self.shared.program, view)
    }

    /// Adds records to `table` for a coming step (positive weight inserts, negative deletes; on a table with a
    /// primary key an insert replaces the row with the same key). `bytes` is the size of the input that carried
    /// them, for the stats.
    ///
    /// Every record is checked against the table first; if any is invalid nothing is added and the error lists
    /// the invalid records. Waits up to `wait` while the input buffer is full, then fails with
    /// [`PipelineError::Busy`]. Records accepted here are never dropped: they are stepped before shutdown ends.
    pub fn ingest(
        &self,
        table: &str,
        records: Vec<(Row, i64)>,
        bytes: u64,
        wait: Duration,
    ) -> Result<(), PipelineError> {
        let t = table_index(&self.shared.program, table)?;
        self.shared.ingest(t, records, bytes, wait)
    }

    /// Counts and lists input errors of `table` found before [`Pipeline::ingest`] (by a parser).
    pub fn record_errors(&self, table: &str, errors: &[String]) {
        if let Ok(t) = table_index(&self.shared.program, table) {
            self.shared.record_errors(t, errors);
        }
    }

    /// Stops stepping; input is still buffered up to the limit.
    pub fn pause(&self) {
        lock(&self.shared.buffer).paused = true;
    }

    /// Resumes stepping.
    pub fn resume(&self) {
        lock(&self.shared.buffer).paused = false;
        self.shared.step_due.notify_all();
    }

    /// Where the pipeline is, and the error when it failed.
    pub fn state(&self) -> (PipelineState, Option<String>) {
        let b = lock(&self.shared.buffer);
        if let Some(e) = &b.failed {
            (PipelineState::Failed, Some(e.clone()))
        } else if b.stopping {
            (PipelineState::Stopped, None)
        } else if b.paused {
            (PipelineState::Paused, None)
        } else {
            (PipelineState::Running, None)
        }
    }

    /// Streams the changes of `view` from the next step on. A watcher that falls more than 1024 steps behind is
    /// disconnected with [`WatchEvent::Ended`] rather than slowing the pipeline.
    pub fn watch(&self, view: &str) -> Result<Receiver<WatchEvent>, PipelineError> {
        let v = self
            .shared
            .program
            .views
            .iter()
            .position(|v| v.relation.name == view)
            .ok_or_else(|| PipelineError::UnknownView(view.to_string()))?;
        let (tx, rx) = sync_channel(WATCH_QUEUE_BATCHES);
        lock(&self.shared.watchers).push((v, tx));
        Ok(rx)
    }

    /// Counters of the pipeline, its tables and its output connectors.
    pub fn stats(&self) -> PipelineStats {
        let s = &self.shared;
        let (state, error) = self.state();
        let (buffered, per_table, stall) = {
            let b = lock(&s.buffer);
            let per_table: Vec<u64> = b.pending.iter().map(|p| p.len() as u64).collect();
            (b.buffered, per_table, b.stall.clone())
        };
        let inputs: Vec<TableInputStats> = s
            .program
            .tables
            .iter()
            .zip(&s.tables)
            .zip(per_table)
            .map(|((t, c), buffered_records)| TableInputStats {
                table: t.relation.name.clone(),
                total_records: c.total_records.load(Relaxed),
                total_bytes: c.total_bytes.load(Relaxed),
                buffered_records,
                processed_records: c.processed_records.load(Relaxed),
                num_parse_errors: c.parse_errors.load(Relaxed),
                parse_errors: c.errors.snapshot(),
            })
            .collect();
        // One lock at a time: a step holds `outputs` while it takes `watchers`, so holding `watchers` here while
        // taking `outputs` (as one struct expression would, its guards living to the end) can deadlock.
        let watchers = lock(&s.watchers).len() as u64;
        let outputs: Vec<OutputConnectorStats> =
            lock(&s.outputs).iter().map(|o| o.stats()).collect();
        let input_connectors: Vec<InputConnectorStats> =
            lock(&self.inputs).iter().map(|i| i.stats()).collect();
        PipelineStats {
            global_metrics: GlobalStats {
                state,
                error,
                buffered_input_records: buffered,
                total_input_records: inputs.iter().map(|i| i.total_records).sum(),
                total_processed_records: inputs.iter().map(|i| i.processed_records).sum(),
                steps: s.steps.load(Relaxed),
                total_output_records: s.output_records.load(Relaxed),
                stalled_since_ms: stall.as_ref().map(|(at, _)| *at),
                stall_reason: stall.map(|(_, why)| why),
                watchers,
            },
            inputs,
            input_connectors,
            outputs,
        }
    }

    /// Steps whatever input is buffered (even when paused), stops the controller, then delivers everything the
    /// output connectors hold, waiting at most `timeout` for acknowledgements. Errors list what was not
    /// delivered. Calling it twice is harmless.
    pub fn shutdown(&self, timeout: Duration) -> Result<PipelineStats, Vec<String>> {
        // Inputs first: they hand over what they read while the controller still steps, then stop reading.
        let mut errors = Vec::new();
        let inputs = std::mem::take(&mut *lock(&self.inputs));
        let mut input_stats = Vec::new();
        for i in inputs {
            let (stats, error) = i.shutdown();
            errors.extend(error);
            input_stats.push(stats);
        }
        {
            let mut b = lock(&self.shared.buffer);
            b.stopping = true;
            self.shared.step_due.notify_all();
            self.shared.room.notify_all();
        }
        if let Some(handle) = lock(&self.controller).take() {
            let _ = handle.join();
        }
        let mut stats = self.stats();
        stats.input_connectors = input_stats;
        let outputs = std::mem::take(&mut *lock(&self.shared.outputs));
        // The snapshot above was taken before the flush: replace each connector's entry with its final counters.
        for (o, entry) in outputs.into_iter().zip(stats.outputs.iter_mut()) {
            match o.shutdown(timeout) {
                Ok(last) => *entry = last,
                Err(e) => errors.push(e.to_string()),
            }
        }
        if let Some(e) = lock(&self.shared.buffer).failed.clone() {
            errors.insert(0, e);
        }
        for (_, w) in lock(&self.shared.watchers).drain(..) {
            let _ = w.try_send(WatchEvent::Ended("the pipeline shut down".into()));
        }
        if errors.is_empty() {
            Ok(stats)
        } else {
            Err(errors)
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.shutdown(Duration::from_secs(10));
    }
}

/// Checks every record against `relation`: the checked records, or one message per invalid record (numbered
/// from 1) when any is invalid.
pub(crate) fn check_rows(
    relation: &Relation,
    records: Vec<(Row, i64)>,
) -> Result<Vec<(Row, i64)>, Vec<String>> {
    let mut valid = Vec::with_capacity(records.len());
    let mut invalid = Vec::new();
    for (i, (row, weight)) in records.into_iter().enumerate() {
        match sluice_engine::validate_row(relation, row) {
            Ok(row) => valid.push((row, weight)),
            Err(e) => invalid.push(format!("record {}: {e}", i + 1)),
        }
    }
    if invalid.is_empty() {
        Ok(valid)
    } else {
        Err(invalid)
    }
}

fn table_index(program: &Program, table: &str) -> Result<usize, PipelineError> {
    program
        .tables
        .iter()
        .position(|t| t.relation.name == table)
        .ok_or_else(|| PipelineError::UnknownTable(table.to_string()))
}

fn view_relation<'a>(program: &'a Program, view: &str) -> Result<&'a Relation, PipelineError> {
    program
        .views
        .iter()
        .find(|v| v.relation.name == view)
        .map(|v| &v.relation)
        .ok_or_else(|| PipelineError::UnknownView(view.to_string()))
}

/// The controller thread: steps until shutdown; an error or a panic marks the pipeline failed.
fn control(shared: &Shared, mut engine: Engine) {
    let result = catch_unwind(AssertUnwindSafe(|| run_steps(shared, &mut engine)));
    let error = match result {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            format!("the controller panicked: {what}")
        }
    };
    tracing::error!(pipeline = %shared.name, %error, "Pipeline failed.");
    shared.fail(error);
    // The engine may be what failed: dropping it on this thread is what its contract asks.
    drop(engine);
}

/// Whether a step is due now; otherwise how long to wait before checking again (None: until woken).
fn step_due(shared: &Shared, b: &mut Buffer) -> Result<(), Option<Duration>> {
    if b.stopping {
        return if b.buffered > 0 { Ok(()) } else { Err(None) };
    }
    if b.paused || b.buffered == 0 {
        return Err(None);
    }
    if let Some(full) = lock(&shared.outputs).iter().find(|o| o.is_full()) {
        let s = full.stats();
        b.stall.get_or_insert_with(|| {
            (
                now_ms(),
                format!(
                    "output connector '{}' holds {} queued records (max_queued_records {}){}",
                    s.endpoint_name,
                    s.queued_records,
                    s.max_queued_records,
                    s.fatal_error
                        .map(|e| format!(": {e}"))
                        .or(s
                            .transport
                            .transport_errors
                            .last()
                            .map(|e| format!("; last error: {}", e.message)))
                        .unwrap_or_default()
                ),
            )
        });
        // Outputs drain on their own threads and do not signal us: poll.
        return Err(Some(Duration::from_millis(10)));
    }
    b.stall = None;
    if b.buffered >= shared.config.min_batch_size_records {
        return Ok(());
    }
    let waited = b.oldest.map_or(Duration::ZERO, |t| t.elapsed());
    match shared.config.max_buffering_delay.checked_sub(waited) {
        Some(left) if !left.is_zero() => Err(Some(left)),
        _ => Ok(()),
    }
}

fn run_steps(shared: &Shared, engine: &mut Engine) -> Result<(), String> {
    // The first step runs at once, so views that need no input (constants) show their rows.
    step(shared, engine, Vec::new())?;
    loop {
        let inputs = {
            let mut b = lock(&shared.buffer);
            loop {
                match step_due(shared, &mut b) {
                    Ok(()) => break,
                    Err(_) if b.stopping => return Ok(()),
                    Err(None) => {
                        b = shared.step_due.wait(b).unwrap_or_else(|p| p.into_inner());
                    }
                    Err(Some(t)) => {
                        b = shared
                            .step_due
                            .wait_timeout(b, t)
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                    }
                }
            }
            let n = b.pending.len();
            b.buffered = 0;
            b.oldest = None;
            shared.room.notify_all();
            std::mem::replace(&mut b.pending, vec![Vec::new(); n])
        };
        step(shared, engine, inputs)?;
    }
}

/// One step: the inputs into the engine, the view deltas out to connectors and watchers.
fn step(shared: &Shared, engine: &mut Engine, inputs: Vec<Vec<(Row, i64)>>) -> Result<(), String> {
    #[cfg(feature = "fault-injection")]
    if shared.panic_next_step.swap(false, Relaxed) {
        panic!("fault injected by a test");
    }
    let program = &shared.program;
    let mut pushed = Vec::with_capacity(inputs.len());
    for (table, rows) in program.tables.iter().zip(inputs) {
        pushed.push(rows.len() as u64);
        if rows.is_empty() {
            continue;
        }
        engine
            .push(&table.relation.name, rows)
            .map_err(|e| format!("table {}: {e}", table.relation.name))?;
    }
    let mut deltas = engine.step().map_err(|e| e.to_string())?;
    let step = shared.steps.fetch_add(1, Relaxed) + 1;
    let outputs = lock(&shared.outputs);
    let mut watchers = lock(&shared.watchers);
    for (v, view) in program.views.iter().enumerate() {
        let delta = deltas.remove(&view.relation.name).unwrap_or_default();
        if delta.is_empty() {
            continue;
        }
        shared.output_records.fetch_add(delta.len() as u64, Relaxed);
        let delta = Arc::new(delta);
        for o in outputs.iter().filter(|o| o.view() == view.relation.name) {
            o.push(step, delta.clone());
        }
        watchers.retain(|(wv, tx)| {
            if *wv != v {
                return true;
            }
            match tx.try_send(WatchEvent::Changes {
                step,
                delta: delta.clone(),
            }) {
                Ok(()) => true,
                Err(TrySendError::Disconnected(_)) => false,
                Err(TrySendError::Full(_)) => {
                    tracing::warn!(pipeline = %shared.name, view = %view.relation.name, "Watcher fell behind; disconnected.");
                    false
                }
            }
        });
    }
    // Counted only now, so that a client that sees its records processed also sees their changes handed to
    // every output connector and watcher (a watch opened afterwards starts with the next step).
    for (n, counters) in pushed.into_iter().zip(&shared.tables) {
        counters.processed_records.fetch_add(n, Relaxed);
    }
    Ok(())
}
