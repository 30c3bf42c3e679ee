//! The controller's side of a durable pipeline: the open journal, checkpoint requests and their status, and the
//! checkpoint taken but not yet committed ([`Pending`]).
//!
//! A checkpoint is taken right after a step whose journal mark starts a new segment: the engine saves its state
//! and every output connector gets a barrier for that step. It is *committed* (the manifest written, older
//! journal segments and engine checkpoints deleted) only once every output connector acknowledged every message
//! up to that step; until then stepping goes on and a restart uses the previous checkpoint.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sluice_engine::{Engine, EngineCheckpoint};
use sluice_transports::health::now_ms;

use crate::durable::journal::Journal;
use crate::durable::manifest::Manifest;
use crate::durable::{offsets_for_manifest, positions_of, DurableConfig, DurableError, Offsets};
use crate::input::endpoint::Position;
use crate::output::OutputConnector;
use crate::util::lock;

/// The outcome of checkpoint requests, in Feldera's shape: the sequence number of the last request that
/// succeeded and the last failure.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointStatus {
    /// The last request (see [`Pipeline::checkpoint`](super::Pipeline::checkpoint)) whose checkpoint was
    /// committed.
    pub success: Option<u64>,
    /// The last request that failed, and why.
    pub failure: Option<CheckpointFailure>,
}

/// A checkpoint request that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointFailure {
    /// The request's sequence number.
    pub sequence_number: u64,
    /// Why.
    pub error: String,
}

/// What a durable pipeline shows in its stats.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DurabilityStats {
    /// The step of the last committed checkpoint (0: none yet).
    pub checkpoint_step: u64,
    /// When it was committed, in milliseconds since the Unix epoch.
    pub checkpoint_committed_at_ms: Option<u64>,
    /// How long the engine took to write it, in milliseconds.
    pub checkpoint_write_ms: Option<u64>,
    /// A checkpoint taken and waiting for the output connectors' acknowledgements: its step.
    pub pending_checkpoint_step: Option<u64>,
    /// Checkpoints committed since the pipeline started.
    pub checkpoints: u64,
    /// Steps replayed from the journal when the pipeline started.
    pub replayed_steps: u64,
    /// Input records put back into the buffer from the journal when the pipeline started.
    pub restored_buffered_records: u64,
    /// The last failure to write a checkpoint, if any since the last success.
    pub last_checkpoint_error: Option<String>,
}

/// A checkpoint waiting for the outputs.
pub(super) struct Pending {
    pub(super) step: u64,
    pub(super) engine: EngineCheckpoint,
    pub(super) offsets: Offsets,
    /// Requests this checkpoint answers (up to this sequence number).
    pub(super) answers: u64,
}

/// The durable part of a running pipeline, shared by admission and the controller.
pub(crate) struct Durability {
    pub(super) config: DurableConfig,
    pub(super) journal: Journal,
    /// The last checkpoint request's sequence number.
    pub(super) requested: AtomicU64,
    pub(super) status: Mutex<CheckpointStatus>,
    pub(super) stats: Mutex<DurabilityStats>,
    /// Signalled when a checkpoint request is answered.
    pub(super) answered: Condvar,
    /// The Kafka positions of the last committed checkpoint, for the input connectors to commit to their
    /// consumer groups.
    committed_offsets: Mutex<Offsets>,
    /// Checkpoints committed since start: the input connectors ask on every poll, so the question "is there a
    /// newer one?" must not take a lock.
    commits: AtomicU64,
    /// The output connectors whose snapshot went out (see `snapshot`), for the manifests to record.
    snapshots: Mutex<BTreeMap<String, String>>,
}

impl Durability {
    pub(super) fn new(config: DurableConfig, journal: Journal, stats: DurabilityStats) -> Self {
        Durability {
            config,
            journal,
            requested: AtomicU64::new(0),
            status: Mutex::default(),
            stats: Mutex::new(stats),
            answered: Condvar::new(),
            committed_offsets: Mutex::default(),
            commits: AtomicU64::new(0),
            snapshots: Mutex::default(),
        }
    }

    /// Records the connectors whose snapshot was queued (or needed none) for every later manifest.
    pub(super) fn record_snapshots(&self, served: BTreeMap<String, String>) {
        *lock(&self.snapshots) = served;
    }

    /// When a checkpoint newer than number `after` was committed: its number and `connector`'s positions in it.
    pub(super) fn positions_since(
        &self,
        connector: &str,
        after: u64,
    ) -> Option<(u64, Vec<Position>)> {
        let offsets = lock(&self.committed_offsets);
        // Read under the lock that guards the offsets, so the number matches them.
        let commits = self.commits.load(Relaxed);
        if commits <= after {
            return None;
        }
        Some((commits, positions_of(&offsets, connector)))
    }

    /// Whether a checkpoint newer than number `after` was committed (no lock).
    pub(super) fn committed_since(&self, after: u64) -> bool {
        self.commits.load(Relaxed) > after
    }

    /// Takes a checkpoint of `engine` after `step`.
    pub(super) fn take(
        &self,
        engine: &mut Engine,
        step: u64,
        offsets: Offsets,
        answers: u64,
    ) -> Result<Pending, DurableError> {
        let started = Instant::now();
        let checkpoint = engine.checkpoint().map_err(DurableError::Engine)?;
        lock(&self.stats).checkpoint_write_ms = Some(started.elapsed().as_millis() as u64);
        lock(&self.stats).pending_checkpoint_step = Some(step);
        Ok(Pending {
            step,
            engine: checkpoint,
            offsets,
            answers,
        })
    }

    /// Commits `pending` if every output acknowledged its step: writes the manifest, then deletes what it makes
    /// unnecessary. Returns the checkpoint back when the outputs are not there yet.
    pub(super) fn try_commit(
        &self,
        pending: Pending,
        outputs: &[OutputConnector],
        engine: &mut Engine,
    ) -> Result<Option<Pending>, DurableError> {
        if outputs.iter().any(|o| o.acknowledged_step() < pending.step) {
            return Ok(Some(pending));
        }
        let committed_at_ms = now_ms();
        Manifest {
            version: 1,
            program: self.config.state_fingerprint(),
            step: pending.step,
            committed_at_ms,
            engine: pending.engine.clone(),
            offsets: offsets_for_manifest(&pending.offsets),
            snapshots: lock(&self.snapshots).clone(),
        }
        .commit(&self.config.state_dir)?;
        // From here on a failure only leaves files behind, which the next commit deletes.
        if let Err(e) = self.journal.remove_through(pending.step) {
            tracing::warn!(error = %e, "Cannot delete old journal segments.");
        }
        if let Err(e) = engine.remove_checkpoints_except(&[&pending.engine]) {
            tracing::warn!(error = %e, "Cannot delete old engine checkpoints.");
        }
        {
            let mut c = lock(&self.committed_offsets);
            *c = pending.offsets.clone();
            self.commits.fetch_add(1, Relaxed);
        }
        {
            let mut s = lock(&self.stats);
            s.checkpoint_step = pending.step;
            s.checkpoint_committed_at_ms = Some(committed_at_ms);
            s.pending_checkpoint_step = None;
            s.checkpoints += 1;
            s.last_checkpoint_error = None;
        }
        if pending.answers > 0 {
            let mut status = lock(&self.status);
            status.success = Some(status.success.unwrap_or(0).max(pending.answers));
            self.answered.notify_all();
        }
        Ok(None)
    }

    /// Records a failed checkpoint (taking or committing it), answering the requests it was for.
    pub(super) fn failed(&self, answers: u64, error: &DurableError) {
        tracing::error!(error = %error, "Checkpoint failed.");
        {
            let mut s = lock(&self.stats);
            s.pending_checkpoint_step = None;
            s.last_checkpoint_error = Some(error.to_string());
        }
        if answers > 0 {
            lock(&self.status).failure = Some(CheckpointFailure {
                sequence_number: answers,
                error: error.to_string(),
            });
            self.answered.notify_all();
        }
    }

    /// Answers the requests up to `answers` with the checkpoint already committed (nothing changed since).
    pub(super) fn answer_unchanged(&self, answers: u64) {
        let mut status = lock(&self.status);
        status.success = Some(status.success.unwrap_or(0).max(answers));
        self.answered.notify_all();
    }

    /// Waits up to `timeout` until request `sequence` is answered; returns the status then.
    pub(super) fn wait_for(&self, sequence: u64, timeout: Duration) -> CheckpointStatus {
        let deadline = Instant::now() + timeout;
        let mut status = lock(&self.status);
        loop {
            let done = status.success.is_some_and(|s| s >= sequence)
                || status
                    .failure
                    .as_ref()
                    .is_some_and(|f| f.sequence_number >= sequence);
            let now = Instant::now();
            if done || now >= deadline {
                return status.clone();
            }
            status = self
                .answered
                .wait_timeout(status, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}
