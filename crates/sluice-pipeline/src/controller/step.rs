//! The controller thread: waits until a step is due, then steps the engine and hands each view's delta to the
//! output connectors and the watchers.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Sender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_data::Row;
use sluice_engine::{DuplicateKey, Engine};
use sluice_sql::Program;
use sluice_transports::health::now_ms;

use super::admission::{Buffer, Shared};
use super::durability::Pending;
use super::failure::{PipelineFailure, StepError};
use super::snapshot::{self, SnapshotPlan};
use super::watch::WatchEvent;
use crate::durable::journal::step_frame;
use crate::durable::{Offsets, ReplayStep};
use crate::output::OutputConnector;
use crate::util::lock;

/// The controller thread: sends the snapshots of `snapshots`, replays `replay` (a durable pipeline's journal after a restart), then steps until
/// shutdown; an error or a panic marks the pipeline failed.
/// `started` hears once the replay and the first step are done (it is dropped unheard when they fail).
pub(super) fn control(
    shared: &Shared,
    mut engine: Engine,
    snapshots: SnapshotPlan,
    replay: Vec<ReplayStep>,
    started: Sender<()>,
) {
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_steps(shared, &mut engine, snapshots, replay, started)
    }));
    // Nobody serves requests for views' contents any more: their readers learn it now, not at their timeout.
    lock(&shared.contents).clear();
    let failure = match result {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            PipelineFailure::Panic(what)
        }
    };
    tracing::error!(pipeline = %shared.name, error = %failure, "Pipeline failed.");
    shared.fail(failure);
    // The engine may be what failed: dropping it on this thread is what its contract asks.
    drop(engine);
}

/// Whether a step is due now; otherwise how long to wait before checking again (None: until woken). `force`
/// asks for a step even without input (a checkpoint's); a paused pipeline takes it only when nothing is buffered,
/// since a step takes the whole buffer.
pub(super) fn step_due(
    shared: &Shared,
    b: &mut Buffer,
    force: bool,
) -> Result<(), Option<Duration>> {
    if b.stopping {
        return if b.buffered > 0 || force {
            Ok(())
        } else {
            Err(None)
        };
    }
    if b.paused {
        return if force && b.buffered == 0 {
            Ok(())
        } else {
            Err(None)
        };
    }
    if b.buffered == 0 && !force {
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
    if force || b.buffered >= shared.config.min_batch_size_records {
        return Ok(());
    }
    let waited = b.oldest.map_or(Duration::ZERO, |t| t.elapsed());
    match shared.config.max_buffering_delay.checked_sub(waited) {
        Some(left) if !left.is_zero() => Err(Some(left)),
        _ => Ok(()),
    }
}

/// How often the controller looks at the outputs while a checkpoint waits for their acknowledgements.
const COMMIT_POLL: Duration = Duration::from_millis(20);
/// How often an idle controller looks at the outputs (for a failure).
const IDLE_CHECK: Duration = Duration::from_millis(200);

/// The controller's checkpoint bookkeeping (durable pipelines only).
struct Checkpoints {
    pending: Option<Pending>,
    /// When the last checkpoint was taken (or the pipeline started).
    last: Instant,
    /// The last checkpoint request a checkpoint was taken for.
    served: u64,
    /// Steps ran since the last checkpoint was taken.
    dirty: bool,
    /// A checkpoint is due at once (after an exactly-once pipeline's replay), whatever the interval says.
    due: bool,
}

impl Checkpoints {
    /// Whether the next step should be a checkpoint's; answers requests at once when nothing changed.
    fn wanted(&mut self, shared: &Shared, b: &Buffer) -> bool {
        let Some(d) = &shared.durable else {
            return false;
        };
        if self.pending.is_some() {
            return false;
        }
        let requested = d.requested.load(Relaxed);
        if requested > self.served && !self.dirty {
            d.answer_unchanged(requested);
            self.served = requested;
        }
        self.dirty
            && (requested > self.served
                || b.stopping
                || (b.paused && b.buffered == 0)
                || self.due
                || self.last.elapsed() >= d.config.checkpoint_interval)
    }
}

/// What the controller does next.
enum Next {
    Step(Taken),
    Again,
    Stop,
}

/// Input taken from the buffer for one step.
struct Taken {
    step: u64,
    inputs: Vec<Vec<(Row, i64)>>,
    /// The journal position of the step's mark, to sync before stepping.
    mark: Option<u64>,
    checkpoint: Option<(Offsets, u64)>,
    /// The admission position of the last record taken: complete once the step ran.
    admitted: u64,
}

pub(super) fn run_steps(
    shared: &Shared,
    engine: &mut Engine,
    snapshots: SnapshotPlan,
    replay: Vec<ReplayStep>,
    started: Sender<()>,
) -> Result<(), PipelineFailure> {
    // Snapshots show the restored contents, so they go first: the replayed steps are changes after them.
    snapshot::send(shared, engine, &snapshots)?;
    let snapshots_sent = !snapshots.send.is_empty();
    if let Some(d) = &shared.durable {
        d.record_snapshots(snapshots.served);
    }
    // The same input in the same steps as before the restart gives the same output, sent again.
    let replayed = !replay.is_empty();
    for r in replay {
        let expected = shared.steps.load(Relaxed) + 1;
        if r.step != expected {
            return Err(StepError::Replay(format!(
                "the journal's step {} where step {expected} was due",
                r.step
            ))
            .into());
        }
        step(shared, engine, r.inputs, false)?;
    }
    let mut c = Checkpoints {
        pending: None,
        last: Instant::now(),
        // After a replay, exactly-once output holds the replayed steps in one open Kafka transaction: the first
        // checkpoint comes at once, so that the transaction commits long before its timeout.
        due: replayed
            && shared
                .durable
                .as_ref()
                .is_some_and(|d| d.config.exactly_once.is_some()),
        served: 0,
        // A snapshot sent is state to record: the next checkpoint (at the interval, on request or at stop) must
        // commit it even if no input ever comes, or the next start would send the snapshot again.
        dirty: replayed || snapshots_sent,
    };
    // The first step runs at once, paused or not, so views that need no input (constants) show their rows. Nothing
    // can be admitted before it ([`Pipeline::start`] waits for it), so it takes only what a restart put back.
    let first = take(shared, &mut lock(&shared.buffer), false, 0)?;
    if let (Some(d), Some(mark)) = (&shared.durable, first.mark) {
        d.journal.sync(mark).map_err(StepError::Journal)?;
    }
    step(shared, engine, first.inputs, false)?;
    shared.completed.fetch_max(first.admitted, Relaxed);
    let _ = started.send(());
    loop {
        shared.check_outputs()?;
        super::contents::serve(shared, engine);
        if let Some(p) = c.pending.take() {
            c.pending = commit(shared, engine, p);
        }
        let next = {
            let mut b = lock(&shared.buffer);
            let checkpoint = c.wanted(shared, &b);
            match step_due(shared, &mut b, checkpoint) {
                Ok(()) => Next::Step(take(shared, &mut b, checkpoint, c.served)?),
                Err(_) if b.stopping => {
                    let waiting =
                        c.pending.is_some() && b.stop_deadline.is_some_and(|d| Instant::now() < d);
                    if waiting {
                        drop(shared.step_due.wait_timeout(b, COMMIT_POLL));
                        Next::Again
                    } else {
                        Next::Stop
                    }
                }
                Err(wait) => {
                    let wait = match (&c.pending, wait) {
                        (Some(_), w) => Some(w.map_or(COMMIT_POLL, |w| w.min(COMMIT_POLL))),
                        (None, w) => w,
                    };
                    // Even with nothing to do the controller wakes now and then: an output connector that failed
                    // on its own thread does not signal it, and must fail the pipeline all the same.
                    let wait = wait.map_or(IDLE_CHECK, |w| w.min(IDLE_CHECK));
                    drop(shared.step_due.wait_timeout(b, wait));
                    Next::Again
                }
            }
        };
        let taken = match next {
            Next::Step(taken) => taken,
            Next::Again => continue,
            Next::Stop => return Ok(()),
        };
        if let (Some(d), Some(mark)) = (&shared.durable, taken.mark) {
            d.journal.sync(mark).map_err(StepError::Journal)?;
        }
        let checkpoint = taken.checkpoint.is_some();
        step(shared, engine, taken.inputs, checkpoint)?;
        shared.completed.fetch_max(taken.admitted, Relaxed);
        c.dirty = true;
        if let (Some(d), Some((offsets, answers))) = (&shared.durable, taken.checkpoint) {
            c.served = c.served.max(answers);
            c.last = Instant::now();
            c.dirty = false;
            c.due = false;
            match d.take(engine, taken.step, offsets, answers) {
                Ok(p) => c.pending = Some(p),
                Err(e) => d.failed(answers, &e),
            }
        }
    }
}

/// Takes the whole buffer for step `steps + 1`. A durable pipeline journals the step's mark (and, for a checkpoint,
/// starts a new journal segment after it) under the buffer lock, so that no admission comes in between.
fn take(
    shared: &Shared,
    b: &mut Buffer,
    checkpoint: bool,
    served: u64,
) -> Result<Taken, StepError> {
    let step = shared.steps.load(Relaxed) + 1;
    let mut mark = None;
    if let Some(d) = &shared.durable {
        mark = Some(
            d.journal
                .append(&step_frame(step))
                .map_err(StepError::Journal)?,
        );
        if checkpoint {
            d.journal.roll(step + 1).map_err(StepError::Journal)?;
        }
    }
    let checkpoint = checkpoint.then(|| {
        let requested = shared
            .durable
            .as_ref()
            .map_or(0, |d| d.requested.load(Relaxed));
        (b.offsets.clone(), requested.max(served))
    });
    let n = b.pending.len();
    b.buffered = 0;
    b.oldest = None;
    shared.room.notify_all();
    Ok(Taken {
        step,
        inputs: std::mem::replace(&mut b.pending, vec![Vec::new(); n]),
        mark,
        checkpoint,
        admitted: shared.admitted.load(Relaxed),
    })
}

/// Commits `pending` once the outputs acknowledged it; a failure to write it is reported, not fatal (the
/// previous checkpoint and the journal still hold everything).
fn commit(shared: &Shared, engine: &mut Engine, pending: Pending) -> Option<Pending> {
    let d = shared.durable.as_ref()?;
    let answers = pending.answers;
    let outputs = lock(&shared.outputs);
    match d.try_commit(pending, &outputs, engine) {
        Ok(still) => still,
        Err(e) => {
            d.failed(answers, &e);
            None
        }
    }
}

/// One step: the inputs into the engine, the view deltas out to connectors and watchers.
/// With `barrier`, every output connector is told to wait for its acknowledgements after this step (a checkpoint
/// follows it).
pub(super) fn step(
    shared: &Shared,
    engine: &mut Engine,
    inputs: Vec<Vec<(Row, i64)>>,
    barrier: bool,
) -> Result<(), StepError> {
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
            .map_err(|source| StepError::Push {
                table: table.relation.name.clone(),
                source,
            })?;
    }
    let mut deltas = engine.step().map_err(StepError::Step)?;
    let step = shared.steps.fetch_add(1, Relaxed) + 1;
    let outputs = lock(&shared.outputs);
    let mut watchers = lock(&shared.watchers);
    for (v, view) in program.views.iter().enumerate() {
        let delta = deltas.remove(&view.relation.name).unwrap_or_default();
        if delta.is_empty() {
            if barrier {
                for o in outputs.iter().filter(|o| o.view() == view.relation.name) {
                    o.push(step, Arc::new(Vec::new()), true);
                }
            }
            continue;
        }
        shared.output_records.fetch_add(delta.len() as u64, Relaxed);
        let delta = Arc::new(delta);
        for o in outputs.iter().filter(|o| o.view() == view.relation.name) {
            match duplicate_of(o, engine.duplicate_keys(), program) {
                Some(reason) => o.refuse(step, delta.clone(), reason),
                None => o.push(step, delta.clone(), barrier),
            }
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
    // Late records first, so that whoever sees the records processed sees them counted.
    for (counters, late) in shared.tables.iter().zip(engine.late_counts()) {
        counters.late_records.store(*late, Relaxed);
    }
    for (n, counters) in pushed.into_iter().zip(&shared.tables) {
        counters.processed_records.fetch_add(n, Relaxed);
    }
    Ok(())
}

/// Why `o` must refuse this step: it is keyed by an index that promises one row per key, and after the step a key
/// of that index has several (`duplicates`, from the engine's count of rows per key, which sees rows of earlier
/// steps too).
fn duplicate_of(
    o: &OutputConnector,
    duplicates: &[DuplicateKey],
    program: &Program,
) -> Option<String> {
    let index = o.unique_index()?;
    let mut found = duplicates.iter().filter(|d| d.index == index);
    let first = found.next()?;
    let columns = program
        .index(index)
        .map(|i| i.columns.join(", "))
        .unwrap_or_default();
    let more = found.count();
    Some(format!(
        "view '{}' has {} rows with the key ({columns}) = {} of index '{index}'{}; the connector promises one row per key \
         (enforce_unique_key), so nothing of the step was sent. Index columns the view keeps unique (its GROUP BY \
         columns, say), or set enforce_unique_key to false to let the last row of a key win",
        first.view,
        first.rows,
        first.key,
        if more > 0 {
            format!(" ({more} more keys too)")
        } else {
            String::new()
        },
    ))
}
