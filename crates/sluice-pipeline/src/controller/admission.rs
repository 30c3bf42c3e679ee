//! Admission of input: the per-table buffer and lifecycle flags under one lock ([`Shared`]), record checks, and
//! waiting for room (backpressure towards HTTP requests and Kafka readers). In a durable pipeline every admitted
//! batch is also appended to the journal under that lock (so the journal's order is the buffer's) and synced
//! before admission returns: a caller that is told yes holds a promise that survives a crash.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sluice_data::Row;
use sluice_sql::{Program, TableDef};
use sluice_transports::health::RecentErrors;

use super::durability::Durability;
use super::failure::PipelineFailure;
use super::spec::{ControllerConfig, PipelineError};
use super::watch::WatchEvent;
use crate::durable::journal::{input_frame, SourceProgress};
use crate::durable::{note_progress, Offsets};
use crate::endpoint_error::EndpointError;
use crate::input::endpoint::Position;
use crate::input::sink::{RecordSink, Refusal};
use crate::output::OutputConnector;
use crate::rows::check_rows;
use crate::util::lock;

#[derive(Default)]
pub(super) struct TableCounters {
    pub(super) total_records: AtomicU64,
    pub(super) total_bytes: AtomicU64,
    pub(super) processed_records: AtomicU64,
    /// Changes dropped because they came later than a `LATENESS` column allows (the engine's count, which a
    /// durable pipeline restores with its checkpoint).
    pub(super) late_records: AtomicU64,
    pub(super) parse_errors: AtomicU64,
    pub(super) errors: Mutex<RecentErrors>,
}

/// The input buffer and the lifecycle flags, under one lock so the controller's wait sees both.
pub(super) struct Buffer {
    pub(super) pending: Vec<Vec<(Row, i64)>>,
    pub(super) buffered: u64,
    pub(super) oldest: Option<Instant>,
    pub(super) paused: bool,
    pub(super) stopping: bool,
    /// How long a stopping durable pipeline waits for its last checkpoint's acknowledgements.
    pub(super) stop_deadline: Option<Instant>,
    pub(super) failed: Option<Arc<PipelineFailure>>,
    pub(super) stall: Option<(u64, String)>,
    /// How far each Kafka input connector's admitted input goes (connector → (topic, partition) → next offset).
    pub(super) offsets: Offsets,
}

pub(crate) struct Shared {
    pub(super) name: String,
    pub(super) program: Arc<Program>,
    pub(super) config: ControllerConfig,
    pub(super) buffer: Mutex<Buffer>,
    /// Wakes the controller: input arrived, resumed, stopping, or an output drained.
    pub(super) step_due: Condvar,
    /// Wakes ingest callers waiting for room.
    pub(super) room: Condvar,
    pub(super) tables: Vec<TableCounters>,
    pub(super) outputs: Mutex<Vec<OutputConnector>>,
    pub(super) watchers: Mutex<Vec<(usize, SyncSender<WatchEvent>)>>,
    pub(super) steps: AtomicU64,
    pub(super) output_records: AtomicU64,
    /// Records admitted since start (a restart's buffered tail included): each admission's last record has the
    /// position this reaches, which is what a completion token names.
    pub(super) admitted: AtomicU64,
    /// Records whose step ran and whose changes were handed to every output connector and watcher: a position is
    /// complete once this reaches it (steps take the whole buffer, in admission order).
    pub(super) completed: AtomicU64,
    /// The journal and checkpoints of a durable pipeline.
    pub(super) durable: Option<Durability>,
    /// Requests for views' contents, served by the controller between steps.
    pub(super) contents: Mutex<Vec<ContentsRequest>>,
    /// Test-only: panic at the next step.
    #[cfg(feature = "fault-injection")]
    pub(super) panic_next_step: std::sync::atomic::AtomicBool,
}

/// A request for the current contents of some materialized views (see `contents`), answered on `reply`.
pub(crate) struct ContentsRequest {
    /// The views.
    pub(super) views: Vec<String>,
    /// The most rows the answer may hold.
    pub(super) max_rows: usize,
    /// Where the rows (or why there are none) go.
    pub(super) reply:
        std::sync::mpsc::SyncSender<Result<Vec<(String, sluice_data::Delta)>, String>>,
}

impl Shared {
    /// [`Pipeline::ingest`](super::Pipeline::ingest) into the table with index `t`.
    pub(crate) fn ingest(
        &self,
        t: usize,
        records: Vec<(Row, i64)>,
        bytes: u64,
        wait: Duration,
    ) -> Result<u64, PipelineError> {
        let records = self.validate(t, records)?;
        self.admit(t, records, bytes, wait, &[]).map_err(|(e, _)| e)
    }

    /// Checks every record against the table; if any is invalid, counts and lists the errors and returns them.
    pub(crate) fn validate(
        &self,
        t: usize,
        records: Vec<(Row, i64)>,
    ) -> Result<Vec<(Row, i64)>, PipelineError> {
        check_rows(&self.program.tables[t], records).map_err(|invalid| {
            self.record_errors(t, &invalid);
            PipelineError::InvalidRecords(invalid)
        })
    }

    /// Adds valid records to the buffer of table `t`, waiting up to `wait` for room; in a durable pipeline they
    /// are journaled (with `progress`, how far the source had read) and synced before this returns. A refusal
    /// gives the records back, so that a caller holding them (an input connector) can offer them again without
    /// copying. Returns the position of the last record (see `admitted`).
    pub(crate) fn admit(
        &self,
        t: usize,
        records: Vec<(Row, i64)>,
        bytes: u64,
        wait: Duration,
        progress: &[SourceProgress],
    ) -> Result<u64, (PipelineError, Vec<(Row, i64)>)> {
        let s = self;
        let n = records.len() as u64;
        // Encoded before the lock is taken: only the write happens under it.
        let frame = s
            .durable
            .as_ref()
            .map(|_| input_frame(t, &records, progress));
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
        let journaled = match (&s.durable, &frame) {
            (Some(d), Some(frame)) => match d.journal.append(frame) {
                Ok(position) => Some((d, position)),
                Err(e) => return Err((PipelineError::durable(e), records)),
            },
            _ => None,
        };
        buffer.pending[t].extend(records);
        buffer.buffered += n;
        let position = s.admitted.fetch_add(n, Relaxed) + n;
        buffer.oldest.get_or_insert_with(Instant::now);
        note_progress(&mut buffer.offsets, progress);
        s.tables[t].total_records.fetch_add(n, Relaxed);
        s.tables[t].total_bytes.fetch_add(bytes, Relaxed);
        s.step_due.notify_all();
        drop(buffer);
        if let Some((d, position)) = journaled {
            if let Err(e) = d.journal.sync(position) {
                // The records are in the buffer but not durable, and the journal cannot be trusted any more: the
                // pipeline fails before any step takes them (the controller syncs before stepping, and fails the
                // same way).
                let failure = Arc::new(PipelineFailure::Durable(e));
                s.fail_with(failure.clone());
                return Err((PipelineError::Failed(failure), Vec::new()));
            }
        }
        Ok(position)
    }

    /// [`Pipeline::record_errors`](super::Pipeline::record_errors) for the table with index `t`.
    pub(crate) fn record_errors(&self, t: usize, errors: &[String]) {
        let counters = &self.tables[t];
        counters
            .parse_errors
            .fetch_add(errors.len() as u64, Relaxed);
        let mut list = lock(&counters.errors);
        for message in errors {
            list.push(message.clone());
        }
    }

    /// The table with index `t`.
    pub(crate) fn table(&self, t: usize) -> &TableDef {
        &self.program.tables[t]
    }

    /// Whether stepping is paused (input connectors then stop reading).
    pub(crate) fn paused(&self) -> bool {
        lock(&self.buffer).paused
    }

    /// Marks the pipeline failed with `failure` (the first failure wins) and wakes everyone waiting.
    /// The first output connector that failed for good, as the pipeline's failure: its view's changes can no longer
    /// be delivered, and a pipeline that goes on stepping would only hide that.
    pub(super) fn check_outputs(&self) -> Result<(), PipelineFailure> {
        let outputs = lock(&self.outputs);
        match outputs
            .iter()
            .find_map(|o| Some((o.name(), o.fatal_error()?)))
        {
            Some((connector, error)) => Err(PipelineFailure::Output {
                connector: connector.to_string(),
                error,
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn fail(&self, failure: PipelineFailure) {
        self.fail_with(Arc::new(failure));
    }

    fn fail_with(&self, failure: Arc<PipelineFailure>) {
        let mut b = lock(&self.buffer);
        b.failed.get_or_insert(failure);
        self.room.notify_all();
        self.step_due.notify_all();
    }
}

/// How input connectors hand records to the pipeline.
impl RecordSink for Shared {
    fn paused(&self) -> bool {
        Shared::paused(self)
    }

    fn table(&self, t: usize) -> &TableDef {
        Shared::table(self, t)
    }

    fn admit(
        &self,
        t: usize,
        records: Vec<(Row, i64)>,
        bytes: u64,
        wait: Duration,
        progress: &[SourceProgress],
    ) -> Result<(), (Refusal, Vec<(Row, i64)>)> {
        Shared::admit(self, t, records, bytes, wait, progress)
            .map(|_| ())
            .map_err(|(e, records)| match e {
                PipelineError::Busy { reason, .. } => (Refusal::Busy(reason), records),
                _ => (Refusal::Closed, records),
            })
    }

    fn record_errors(&self, t: usize, errors: &[String]) {
        Shared::record_errors(self, t, errors);
    }

    fn input_failed(&self, connector: &str, error: EndpointError) {
        self.fail(PipelineFailure::Input {
            connector: connector.to_string(),
            source: error,
        });
    }

    fn checkpointed_positions(&self, connector: &str, after: u64) -> Option<(u64, Vec<Position>)> {
        let d = self.durable.as_ref()?;
        if !d.committed_since(after) {
            return None;
        }
        d.positions_since(connector, after)
    }
}
