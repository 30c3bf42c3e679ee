//! The controller thread: owns the dbsp runtime and runs one transaction per step.
//!
//! dbsp's runtime owns a tokio runtime of its own; creating or dropping it inside an async task panics. So the
//! circuit lives on a dedicated OS thread and the [`crate::Engine`] talks to it through channels, which keeps
//! the engine usable from plain threads and from async servers alike.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use dbsp::circuit::metadata::{MetaItem, STATE_RECORDS_COUNT};
use dbsp::circuit::GlobalNodeId;
use dbsp::circuit::{CircuitConfig, CircuitStorageConfig, StorageConfig, StorageOptions};
use dbsp::dynamic::DowncastTrait;
use dbsp::operator::OutputHandle;
use dbsp::trace::{BatchReader, Cursor};
use dbsp::typed_batch::{BatchReader as _, SpineSnapshot};
use dbsp::{DBSPHandle, OrdZSet, Runtime};
use sluice_data::Delta;
use sluice_sql::Program;

use crate::circuit::{build, CircuitHandles};
use crate::compaction::CompactionPolicy;
use crate::error::EngineError;
use crate::row::{Changes, DRow};

/// A request to the controller thread.
pub enum Command {
    /// Push the inputs (one batch per table), run one transaction, reply with one delta per view.
    Step {
        inputs: Vec<Changes>,
        push_unit: bool,
        /// The waterlines in force for this step, for a program that has any.
        waterlines: Option<DRow>,
        reply: Sender<Result<StepOutput, EngineError>>,
    },
    /// Reply with the number of records the circuit's state holds.
    StateRecords {
        reply: Sender<Result<u64, EngineError>>,
    },
    /// Write a checkpoint to the storage directory; reply with its id.
    Checkpoint {
        reply: Sender<Result<String, EngineError>>,
    },
    /// Run one step without input with the snapshot guard set, send the contents of `views` (indexes of
    /// materialized views) through `parts` in chunks of `chunk_rows` rows, and end with the step's deltas.
    Snapshot {
        views: Vec<usize>,
        chunk_rows: usize,
        parts: SyncSender<SnapshotPart>,
    },
    /// Delete every checkpoint but these (and dbsp's two newest).
    RemoveCheckpoints {
        keep: Vec<uuid::Uuid>,
        reply: Sender<Result<(), EngineError>>,
    },
}

/// What a [`Command::Step`] returns.
pub struct StepOutput {
    /// One delta per view, in program order.
    pub views: Vec<Delta>,
    /// Per index, in program order: its keys with more than one row whose count changed (key values, then the
    /// count), each with a positive weight.
    pub duplicates: Vec<Delta>,
}

/// One message of a [`Command::Snapshot`] reply.
pub enum SnapshotPart {
    /// Rows of the view with this index, each with its weight (1 for a row present once).
    Rows { view: usize, rows: Delta },
    /// The snapshot is over: the deltas of its step (empty unless the step changed something), or why it failed.
    End(Result<Vec<Delta>, EngineError>),
}

/// Where the circuit keeps its state and which checkpoint it starts from.
#[derive(Clone, Debug)]
pub struct StorageSetup {
    /// The storage directory.
    pub path: PathBuf,
    /// The checkpoint id to restore, if any.
    pub checkpoint: Option<String>,
}

/// Starts the controller thread and waits until the circuit is built.
pub fn spawn(
    program: Arc<Program>,
    workers: usize,
    storage: Option<StorageSetup>,
) -> Result<(Sender<Command>, JoinHandle<()>), EngineError> {
    let (tx, rx) = channel::<Command>();
    let (ready_tx, ready_rx) = channel::<Result<(), EngineError>>();
    let thread = std::thread::Builder::new()
        .name("sluice-engine".into())
        .spawn(move || match init(program, workers, storage) {
            Ok((dbsp, handles)) => {
                let _ = ready_tx.send(Ok(()));
                run(dbsp, handles, rx);
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| EngineError::Dbsp(format!("cannot start the engine thread: {e}")))?;
    ready_rx.recv().map_err(|_| EngineError::Stopped)??;
    Ok((tx, thread))
}

fn init(
    program: Arc<Program>,
    workers: usize,
    storage: Option<StorageSetup>,
) -> Result<(DBSPHandle, CircuitHandles), EngineError> {
    let mut config = CircuitConfig::with_workers(workers.max(1));
    if let Some(s) = storage {
        let storage_config = StorageConfig {
            path: s.path.to_string_lossy().into_owned(),
            cache: Default::default(),
        };
        let mut cfg = CircuitStorageConfig::for_config(storage_config, StorageOptions::default())
            .map_err(|e| {
            EngineError::Checkpoint(format!("cannot open storage at {}: {e}", s.path.display()))
        })?;
        if let Some(id) = s.checkpoint {
            let uuid = id
                .parse()
                .map_err(|e| EngineError::Checkpoint(format!("invalid checkpoint id {id}: {e}")))?;
            cfg = cfg.with_init_checkpoint(Some(uuid));
        }
        config = config.with_storage(Some(cfg));
    }
    Runtime::init_circuit(config, move |circuit| Ok(build(circuit, &program)))
        .map_err(|e| EngineError::Dbsp(e.to_string()))
}

fn run(mut dbsp: DBSPHandle, handles: CircuitHandles, rx: Receiver<Command>) {
    let mut compaction = CompactionPolicy::default();
    while let Ok(cmd) = rx.recv() {
        match cmd {
            Command::Step {
                inputs,
                push_unit,
                waterlines,
                reply,
            } => {
                if let (Some(handle), Some(w)) = (&handles.waterlines, waterlines) {
                    handle.set_for_all(w);
                    // dbsp merges many trace batches only now and then, and the rows below the waterlines stay
                    // until a merge: a compaction, asked for now and then, brings the state back to its live rows.
                    if compaction.step(inputs.iter().map(Vec::len).sum()) {
                        // Measured first: the size sets how long the next request waits (compaction.rs). Both fail
                        // only when the circuit is gone, which the step right after reports.
                        let state = state_records(&mut dbsp).unwrap_or(0);
                        let _ = dbsp.start_compaction();
                        compaction.requested(state);
                    }
                }
                let _ = reply.send(step(&mut dbsp, &handles, inputs, push_unit));
            }
            Command::StateRecords { reply } => {
                let _ = reply.send(state_records(&mut dbsp));
            }
            Command::Snapshot {
                views,
                chunk_rows,
                parts,
            } => {
                let end = snapshot(&mut dbsp, &handles, &views, chunk_rows, &parts);
                let _ = parts.send(SnapshotPart::End(end));
            }
            Command::Checkpoint { reply } => {
                let result = dbsp
                    .checkpoint()
                    .run()
                    .map(|m| m.uuid.to_string())
                    .map_err(|e| EngineError::Checkpoint(e.to_string()));
                let _ = reply.send(result);
            }
            Command::RemoveCheckpoints { keep, reply } => {
                let result = dbsp
                    .gc_checkpoint(keep.into_iter().collect())
                    .map(|_| ())
                    .map_err(|e| EngineError::Checkpoint(e.to_string()));
                let _ = reply.send(result);
            }
        }
    }
    // The engine was dropped: stop the workers on this thread, never inside an async context.
    let _ = dbsp.kill();
}

fn step(
    dbsp: &mut DBSPHandle,
    handles: &CircuitHandles,
    inputs: Vec<Changes>,
    push_unit: bool,
) -> Result<StepOutput, EngineError> {
    if push_unit {
        handles.unit.push(DRow::default(), 1);
    }
    for (handle, mut batch) in handles.tables.iter().zip(inputs) {
        handle.append(&mut batch);
    }
    dbsp.transaction()
        .map_err(|e| EngineError::Dbsp(e.to_string()))?;
    Ok(StepOutput {
        views: handles.views.iter().map(read_delta).collect(),
        duplicates: handles
            .duplicates
            .iter()
            .map(|d| {
                let mut counts = read_delta(d);
                // A count that left the range above 1 is a retraction: only the counts that now hold are kept.
                counts.retain(|(_, w)| *w > 0);
                counts
            })
            .collect(),
    })
}

/// The sum of `state_records_count` over every operator of every worker's profile. The root circuit's own entry is
/// the total of its operators' and is left out.
fn state_records(dbsp: &mut DBSPHandle) -> Result<u64, EngineError> {
    let profile = dbsp
        .retrieve_profile()
        .map_err(|e| EngineError::Dbsp(e.to_string()))?;
    let root = GlobalNodeId::root();
    Ok(profile
        .worker_profiles
        .iter()
        .flat_map(|w| w.attribute_profile(&STATE_RECORDS_COUNT))
        .filter(|(node, _)| *node != root)
        .map(|(_, item)| match item {
            MetaItem::Count(n) => n as u64,
            _ => 0,
        })
        .sum())
}

/// The view's changes in this transaction, each row once with its net weight.
fn read_delta(out: &OutputHandle<SpineSnapshot<OrdZSet<DRow>>>) -> Delta {
    let snapshot = out.concat();
    let mut delta = Vec::with_capacity(snapshot.inner().len());
    read_rows(&snapshot, usize::MAX, |rows| {
        delta = rows;
        true
    });
    delta
}

/// Steps once with the snapshot guard set and streams the contents of `views` through `parts`. The step has no
/// input, so on a circuit past its first step its deltas are empty; they are returned all the same, so that a
/// caller never loses a change.
fn snapshot(
    dbsp: &mut DBSPHandle,
    handles: &CircuitHandles,
    views: &[usize],
    chunk_rows: usize,
    parts: &SyncSender<SnapshotPart>,
) -> Result<Vec<Delta>, EngineError> {
    if let Some(guard) = &handles.snapshot_guard {
        guard.set_for_all(true);
    }
    dbsp.transaction()
        .map_err(|e| EngineError::Dbsp(e.to_string()))?;
    let deltas = handles.views.iter().map(read_delta).collect();
    for &view in views {
        let contents = handles.contents[view]
            .as_ref()
            .ok_or_else(|| EngineError::NotMaterialized(view.to_string()))?;
        let snapshot = contents.concat();
        let sent = read_rows(&snapshot, chunk_rows.max(1), |rows| {
            parts.send(SnapshotPart::Rows { view, rows }).is_ok()
        });
        if !sent {
            // The caller stopped listening: nothing more to do for it.
            return Err(EngineError::Stopped);
        }
    }
    Ok(deltas)
}

/// Reads the rows of `snapshot`, each once with its net weight, handing them to `chunk` at most `chunk_rows` at
/// a time; stops early (returning false) when `chunk` returns false.
///
/// `accumulate_output` and the contents' output hold one snapshot per worker, each possibly of several batches.
/// A cursor over their concatenation already merges equal rows and skips those whose weights cancel, so the rows
/// are read straight out of it and cloned once; `consolidate` would first copy every batch into a merged one, and
/// a view's whole contents must not be held in memory twice.
fn read_rows(
    snapshot: &SpineSnapshot<OrdZSet<DRow>>,
    chunk_rows: usize,
    mut chunk: impl FnMut(Delta) -> bool,
) -> bool {
    let mut cursor = snapshot.inner().cursor();
    let capacity = chunk_rows.min(snapshot.inner().len());
    let mut rows = Vec::with_capacity(capacity);
    while cursor.key_valid() {
        // SAFETY: the circuit's views are Z-sets of `DRow` with `ZWeight` (i64) weights, so the erased key and
        // weight are exactly these types.
        // A Z-set has one (unit) value per key: one weight per row.
        if cursor.val_valid() {
            let weight = *unsafe { cursor.weight().downcast::<i64>() };
            let row = unsafe { cursor.key().downcast::<DRow>() };
            rows.push((row.to_row(), weight));
            if rows.len() >= chunk_rows
                && !chunk(std::mem::replace(&mut rows, Vec::with_capacity(capacity)))
            {
                return false;
            }
        }
        cursor.step_key();
    }
    rows.is_empty() || chunk(rows)
}
