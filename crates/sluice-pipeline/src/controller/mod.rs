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
//! An engine error, a panic in the controller thread, or an output connector that failed for good marks the
//! pipeline failed with the message; the rest of the process is untouched. A failed pipeline accepts no input;
//! [`Pipeline::shutdown`] still flushes what its output connectors hold.
//!
//! # Durability
//! With a [`DurableConfig`] (`fault_tolerance.model = "at_least_once"`) input is journaled before it is accepted,
//! checkpoints are taken every `checkpoint_interval`, on pause, at shutdown and on request, and a start restores
//! the last committed checkpoint and replays the journal after it (see [`crate::durable`] and `durability`).
//!
//! One file per role: `spec` (what a pipeline starts with, its errors), `failure` (why a running pipeline failed),
//! `durability` (the journal and checkpoints of a running pipeline), `snapshot` (`send_snapshot`), `index` (an output's `index` as its `key_fields`), `stats`, `watch`, `admission` (the input buffer and its backpressure, and the [`crate::input::sink::RecordSink`]
//! the input connectors hand records to), `step` (the controller thread); this file is the [`Pipeline`] handle.
//! The children import what they need from each other and from other crates, never from this file, so the
//! imports go one way.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sluice_data::{Delta, Relation, Row};
use sluice_engine::{Engine, EngineConfig};
use sluice_sql::Program;

use crate::durable::journal::Journal;
use crate::durable::{positions_of, recover, DurableConfig, DurableError, ReplayStep};
use crate::input::{InputConnector, InputConnectorStats};
use crate::output::{OutputConnector, OutputConnectorStats};
use crate::util::lock;

mod admission;
mod contents;
mod durability;
mod failure;
mod index;
mod plain_rows;
mod registry;
mod snapshot;
mod spec;
mod stats;
mod step;
mod watch;

use admission::Buffer;
pub(crate) use admission::Shared;
use durability::Durability;
pub use durability::{CheckpointFailure, CheckpointStatus, DurabilityStats};
pub use failure::{PipelineFailure, StepError};
pub use spec::{ControllerConfig, OutputSpec, PipelineError, PipelineSpec};
pub use stats::{GlobalStats, PipelineState, PipelineStats, TableInputStats};
use step::control;
pub use watch::WatchEvent;
use watch::WATCH_QUEUE_BATCHES;

/// A running pipeline. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Pipeline {
    shared: Arc<Shared>,
    /// This run's id (a random UUID): tokens and stats of an earlier run of the same pipeline name another.
    incarnation: String,
    /// When `start` returned.
    started_at: std::time::SystemTime,
    controller: Mutex<Option<JoinHandle<()>>>,
    inputs: Mutex<Vec<InputConnector>>,
}

impl Pipeline {
    /// Starts the output connectors (each checks its broker and topic), the engine, and the controller thread.
    /// The pipeline starts paused when `paused` is true. On error nothing keeps running.
    pub fn start(spec: PipelineSpec, paused: bool) -> Result<Pipeline, PipelineError> {
        let program = Arc::new(spec.program);
        // A durable pipeline reads its stored state first: the inputs start where it says.
        let restart = match &spec.durable {
            Some(config) => Restart::open(config, &program, spec.config.workers)?,
            None => Restart::fresh(&program, spec.config.workers)?,
        };
        // What no network can change is refused before anything connects.
        let snapshots = snapshot::plan(
            &spec.outputs,
            &program,
            spec.durable.as_ref(),
            restart.restored_snapshots.as_ref(),
        )?;
        let configs = spec
            .outputs
            .iter()
            .map(|o| {
                let config = index::keyed_by_index(o, &program)?;
                plain_rows::check_plain_rows(o, &config, &program)?;
                index::check_unique_key(o, &config, &program)?;
                Ok(config)
            })
            .collect::<Result<Vec<_>, PipelineError>>()?;
        let mut outputs = Vec::new();
        for (o, config) in spec.outputs.iter().zip(configs) {
            let view = view_relation(&program, &o.view)?;
            let config = &registry::register_schemas(o, config, view)?;
            let exactly_once = spec
                .durable
                .as_ref()
                .and_then(|d| d.exactly_once_setup(&o.name));
            let mut connector =
                OutputConnector::start(&spec.name, &o.name, view, config, exactly_once.as_ref())?;
            if let Some(index) = index::unique_index(o, config, &program) {
                connector.check_unique_keys_of(index);
            }
            outputs.push(connector);
        }
        // Inputs connect (broker, topics, consumer group) before anything runs, so a failure names the connector
        // and leaves nothing behind; they start reading once the controller is there to take their records.
        let mut inputs = Vec::new();
        for i in &spec.inputs {
            let t = table_index(&program, &i.table)?;
            let start = positions_of(&restart.offsets, &i.name);
            inputs.push(InputConnector::connect(
                i,
                t,
                &program.tables[t].relation,
                &start,
            )?);
        }
        let Restart {
            engine,
            durability: durable,
            replay,
            tail,
            offsets,
            checkpoint_step: steps,
            restored_snapshots: _,
        } = restart;
        let buffered: u64 = tail.iter().map(|t| t.len() as u64).sum();
        let shared = Arc::new(Shared {
            name: spec.name.clone(),
            tables: program.tables.iter().map(|_| Default::default()).collect(),
            buffer: Mutex::new(Buffer {
                pending: tail,
                buffered,
                oldest: (buffered > 0).then(Instant::now),
                paused,
                stopping: false,
                stop_deadline: None,
                failed: None,
                stall: None,
                offsets,
            }),
            program,
            config: spec.config,
            step_due: Condvar::new(),
            room: Condvar::new(),
            outputs: Mutex::new(outputs),
            watchers: Mutex::new(Vec::new()),
            steps: AtomicU64::new(steps),
            output_records: AtomicU64::new(0),
            admitted: AtomicU64::new(buffered),
            contents: Mutex::new(Vec::new()),
            completed: AtomicU64::new(0),
            durable,
            #[cfg(feature = "fault-injection")]
            panic_next_step: Default::default(),
        });
        let (started_tx, started) = std::sync::mpsc::channel();
        let controller = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("pipeline-{}", spec.name))
                .spawn(move || control(&shared, engine, snapshots, replay, started_tx))
                .map_err(PipelineError::Thread)?
        };
        // Replay and the first step come before any input: a restart's replay is over when `start` returns, and the
        // journal's first mark closes only what the restart put back.
        if started.recv().is_err() {
            let _ = controller.join();
            let failure = lock(&shared.buffer).failed.clone();
            return Err(match failure {
                Some(f) => PipelineError::Failed(f),
                None => PipelineError::Stopped,
            });
        }
        let inputs = inputs
            .into_iter()
            .map(|i| i.run(shared.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pipeline {
            shared,
            incarnation: random_uuid(),
            started_at: std::time::SystemTime::now(),
            controller: Mutex::new(Some(controller)),
            inputs: Mutex::new(inputs),
        })
    }

    /// Asks for a checkpoint and returns the request's sequence number at once; [`Pipeline::checkpoint_status`]
    /// tells when it is committed. Fails for a pipeline that is not durable, or that failed.
    pub fn checkpoint(&self) -> Result<u64, PipelineError> {
        let d = self.durability()?;
        if let Some(e) = &lock(&self.shared.buffer).failed {
            return Err(PipelineError::Failed(e.clone()));
        }
        let sequence = d.requested.fetch_add(1, Relaxed) + 1;
        self.shared.step_due.notify_all();
        Ok(sequence)
    }

    /// The outcome of checkpoint requests so far.
    pub fn checkpoint_status(&self) -> Result<CheckpointStatus, PipelineError> {
        Ok(lock(&self.durability()?.status).clone())
    }

    /// Waits up to `timeout` until checkpoint request `sequence` succeeded or failed; returns the status then.
    pub fn wait_for_checkpoint(
        &self,
        sequence: u64,
        timeout: Duration,
    ) -> Result<CheckpointStatus, PipelineError> {
        Ok(self.durability()?.wait_for(sequence, timeout))
    }

    fn durability(&self) -> Result<&Durability, PipelineError> {
        self.shared
            .durable
            .as_ref()
            .ok_or(PipelineError::NotDurable)
    }

    /// Test-only (feature `fault-injection`): the controller panics at its next step, as a bug in the engine
    /// would make it.
    #[cfg(feature = "fault-injection")]
    pub fn inject_panic(&self) {
        self.shared.panic_next_step.store(true, Relaxed);
    }

    /// This run's id, a random UUID (version 4 form): a restart gets another.
    pub fn incarnation(&self) -> &str {
        &self.incarnation
    }

    /// When this run started.
    pub fn started_at(&self) -> std::time::SystemTime {
        self.started_at
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
    ///
    /// Returns the admission position of the last record: once [`Pipeline::completed`] reaches it, the step that
    /// took the records ran and its changes were handed to every output connector and watcher.
    pub fn ingest(
        &self,
        table: &str,
        records: Vec<(Row, i64)>,
        bytes: u64,
        wait: Duration,
    ) -> Result<u64, PipelineError> {
        let t = table_index(&self.shared.program, table)?;
        self.shared.ingest(t, records, bytes, wait)
    }

    /// How far admitted records are complete: every record whose admission position (from [`Pipeline::ingest`])
    /// is at most this was stepped and its changes handed to every output connector and watcher.
    pub fn completed(&self) -> u64 {
        self.shared.completed.load(Relaxed)
    }

    /// The current contents of the materialized views `views`, read between two steps (so they are consistent
    /// with each other), each row with its multiplicity. Fails for a view that is not `MATERIALIZED`, when the
    /// views hold more than `max_rows` rows together, or when the controller does not answer within `wait`.
    pub fn contents(
        &self,
        views: &[String],
        max_rows: usize,
        wait: Duration,
    ) -> Result<Vec<(String, Delta)>, PipelineError> {
        contents::request(&self.shared, views, max_rows, wait)
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
            (PipelineState::Failed, Some(e.to_string()))
        } else if b.stopping {
            (PipelineState::Stopped, None)
        } else if b.paused {
            (PipelineState::Paused, None)
        } else {
            (PipelineState::Running, None)
        }
    }

    /// Why the pipeline failed, typed (the text is in [`Pipeline::state`] and the stats).
    pub fn failure(&self) -> Option<Arc<PipelineFailure>> {
        lock(&self.shared.buffer).failed.clone()
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
                late_records: c.late_records.load(Relaxed),
                num_parse_errors: c.parse_errors.load(Relaxed),
                parse_errors: lock(&c.errors).to_vec(),
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
            fault_tolerance: s.durable.as_ref().map(|d| lock(&d.stats).clone()),
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
        let started = Instant::now();
        {
            let mut b = lock(&self.shared.buffer);
            b.stopping = true;
            // A durable pipeline's last checkpoint waits for the outputs' acknowledgements at most this long;
            // what is not acknowledged then is sent again at the next start (the journal keeps it).
            b.stop_deadline.get_or_insert(started + timeout);
            self.shared.step_due.notify_all();
            self.shared.room.notify_all();
        }
        if let Some(handle) = lock(&self.controller).take() {
            let _ = handle.join();
        }
        let mut stats = self.stats();
        stats.input_connectors = input_stats;
        let outputs = std::mem::take(&mut *lock(&self.shared.outputs));
        let left = timeout.saturating_sub(started.elapsed());
        // All at once, each within what is left of the timeout: one after the other, N connectors stalled by a dead
        // broker would take N times as long. The snapshot above was taken before the flush: each connector's entry
        // is replaced with its final counters.
        let names: Vec<String> = outputs.iter().map(|o| o.name().to_string()).collect();
        let finals: Vec<_> = std::thread::scope(|scope| {
            let running: Vec<_> = outputs
                .into_iter()
                .map(|o| scope.spawn(move || o.shutdown(left)))
                .collect();
            running.into_iter().map(|t| t.join()).collect()
        });
        for ((result, entry), name) in finals.into_iter().zip(stats.outputs.iter_mut()).zip(names) {
            match result {
                Ok(Ok(last)) => *entry = last,
                Ok(Err(e)) => errors.push(e.to_string()),
                Err(_) => errors.push(format!(
                    "output connector '{name}' panicked while shutting down"
                )),
            }
        }
        if let Some(e) = lock(&self.shared.buffer).failed.clone() {
            errors.insert(0, e.to_string());
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

/// What a pipeline starts from: for a durable one, the engine restored from the last committed checkpoint (or
/// empty), the journal's steps after it, the input journaled but not stepped, and how far each Kafka input had
/// read; otherwise an empty engine and nothing else.
struct Restart {
    engine: Engine,
    durability: Option<Durability>,
    replay: Vec<ReplayStep>,
    tail: Vec<Vec<(Row, i64)>>,
    offsets: crate::durable::Offsets,
    checkpoint_step: u64,
    /// For an engine restored from a checkpoint: the output connectors whose snapshot it records as sent.
    restored_snapshots: Option<std::collections::BTreeMap<String, String>>,
}

impl Restart {
    /// A pipeline that keeps nothing: an empty engine in memory.
    fn fresh(program: &Program, workers: usize) -> Result<Restart, PipelineError> {
        let engine = Engine::start(program.clone(), EngineConfig::with_workers(workers.max(1)))
            .map_err(PipelineError::Engine)?;
        Ok(Restart {
            engine,
            durability: None,
            replay: Vec::new(),
            tail: vec![Vec::new(); program.tables.len()],
            offsets: Default::default(),
            checkpoint_step: 0,
            restored_snapshots: None,
        })
    }

    fn open(
        config: &DurableConfig,
        program: &Program,
        workers: usize,
    ) -> Result<Restart, PipelineError> {
        let recovered = recover(config, program.tables.len()).map_err(PipelineError::durable)?;
        let engine_config = EngineConfig {
            workers: workers.max(1),
            storage: Some(config.engine_dir()),
        };
        std::fs::create_dir_all(config.engine_dir()).map_err(|e| {
            PipelineError::durable(DurableError::io("create", &config.engine_dir(), e))
        })?;
        let engine = match &recovered.manifest {
            Some(m) => Engine::restore(program.clone(), engine_config, &m.engine)
                .map_err(|e| PipelineError::durable(DurableError::Engine(e)))?,
            None => Engine::start(program.clone(), engine_config).map_err(PipelineError::Engine)?,
        };
        let checkpoint_step = recovered.checkpoint_step();
        let next_step = checkpoint_step + recovered.steps.len() as u64 + 1;
        let journal =
            Journal::open(&config.state_dir, next_step).map_err(PipelineError::durable)?;
        let stats = DurabilityStats {
            checkpoint_step,
            checkpoint_committed_at_ms: recovered.manifest.as_ref().map(|m| m.committed_at_ms),
            replayed_steps: recovered.steps.len() as u64,
            restored_buffered_records: recovered.tail.iter().map(|t| t.len() as u64).sum(),
            ..DurabilityStats::default()
        };
        if stats.replayed_steps > 0 || stats.restored_buffered_records > 0 {
            tracing::info!(
                checkpoint_step,
                replayed_steps = stats.replayed_steps,
                buffered_records = stats.restored_buffered_records,
                "Restarting from the journal."
            );
        }
        Ok(Restart {
            engine,
            durability: Some(Durability::new(config.clone(), journal, stats)),
            replay: recovered.steps,
            tail: recovered.tail,
            offsets: recovered.offsets,
            checkpoint_step,
            restored_snapshots: recovered.manifest.map(|m| m.snapshots),
        })
    }
}

/// A random UUID in version 4 form.
fn random_uuid() -> String {
    let bits = (rand::random::<u128>() & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
