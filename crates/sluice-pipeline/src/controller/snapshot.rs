//! `send_snapshot`: which output connectors start with their view's contents, and sending those contents.
//!
//! A connector sends its snapshot once per stream (its view, destination and format): the first time it runs on a
//! pipeline whose engine was restored from a checkpoint that does not record it (a connector added to a pipeline
//! with state, or one that now writes elsewhere or in another format). The manifest records every connector whose snapshot went out, by a fingerprint of that stream, at the
//! first checkpoint after it: the snapshot is queued before any step, so the checkpoint's barrier (which waits for
//! every acknowledgement) comes after it. A crash before that checkpoint sends it again (at least once). A
//! pipeline that starts with empty views has nothing to send and records its connectors as served at once.
//!
//! The contents are read from the engine in chunks and queued like steps, waiting while the connector's queue is
//! full, so a large view never sits in memory whole.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sluice_engine::Engine;
use sluice_sql::Program;
use sluice_types::{ConnectorConfig, TransportConfig};

use super::admission::Shared;
use super::failure::{PipelineFailure, StepError};
use super::spec::{OutputSpec, PipelineError};
use crate::durable::DurableConfig;
use crate::util::lock;

/// Rows per chunk read from the engine and queued at a time.
const CHUNK_ROWS: usize = 10_000;

/// Which connectors get a snapshot at this start, and what the manifest records once it went out.
#[derive(Debug, Default)]
pub(super) struct SnapshotPlan {
    /// Output connectors (by their index in the spec's outputs) that get their view's contents now.
    pub(super) send: Vec<(usize, String)>,
    /// Every output connector with `send_snapshot` → the fingerprint of its stream: those whose snapshot is sent
    /// (or will have been, once a checkpoint after this start commits).
    pub(super) served: BTreeMap<String, String>,
}

/// The fingerprint that identifies, in the manifest, the stream a connector's snapshot went to: its view, its
/// destination (topic or file) and its format. Other settings (brokers, credentials, queue sizes, librdkafka
/// options) can change without a new snapshot, and no secret goes into the hash.
fn fingerprint(view: &str, config: &ConnectorConfig) -> String {
    let destination = match &config.transport {
        TransportConfig::KafkaOutput(k) => k.topic.as_str(),
        TransportConfig::FileOutput(f) => f.path.as_str(),
        _ => "",
    };
    let stream = serde_json::json!({
        "view": view,
        "transport": config.transport.name(),
        "destination": destination,
        "format": config.format,
    });
    format!("sha256:{:x}", Sha256::digest(stream.to_string()))
}

/// Checks the connectors that ask for a snapshot and decides which get one. `restored` holds the connectors the
/// restored checkpoint records as served, `None` when the engine starts empty.
pub(super) fn plan(
    outputs: &[OutputSpec],
    program: &Program,
    durable: Option<&DurableConfig>,
    restored: Option<&BTreeMap<String, String>>,
) -> Result<SnapshotPlan, PipelineError> {
    let mut plan = SnapshotPlan::default();
    for (i, o) in outputs.iter().enumerate() {
        if !o.config.send_snapshot {
            continue;
        }
        let refuse = |reason: String| PipelineError::Snapshot {
            connector: o.name.clone(),
            reason,
        };
        let view = program
            .views
            .iter()
            .find(|v| v.relation.name == o.view)
            .ok_or_else(|| PipelineError::UnknownView(o.view.clone()))?;
        if !view.materialized {
            return Err(refuse(format!(
                "send_snapshot needs the contents of view '{}', and only materialized views keep them: declare \
                 it CREATE MATERIALIZED VIEW, or remove send_snapshot",
                o.view
            )));
        }
        if durable.is_some_and(|d| d.exactly_once.is_some()) {
            return Err(refuse(
                "send_snapshot is not supported with fault_tolerance.model \"exactly_once\" yet (the snapshot \
                 would have to join the Kafka transactions); use \"at_least_once\", or remove send_snapshot"
                    .into(),
            ));
        }
        let fp = fingerprint(&o.view, &o.config);
        if let Some(served) = restored {
            if served.get(&o.name) != Some(&fp) {
                plan.send.push((i, o.view.clone()));
            }
        }
        plan.served.insert(o.name.clone(), fp);
    }
    Ok(plan)
}

/// Sends the snapshots of `plan` (before anything else the restart sends): reads every view involved once, in
/// chunks, and queues each chunk on the connectors of that view that asked for it, as of the restored step.
pub(super) fn send(
    shared: &Shared,
    engine: &mut Engine,
    plan: &SnapshotPlan,
) -> Result<(), PipelineFailure> {
    if plan.send.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let step = shared.steps.load(Relaxed);
    let mut views: Vec<&str> = plan.send.iter().map(|(_, v)| v.as_str()).collect();
    views.sort_unstable();
    views.dedup();
    let mut rows = 0u64;
    let mut snapshot = engine
        .snapshot(&views, CHUNK_ROWS)
        .map_err(StepError::Snapshot)?;
    for (view, chunk) in snapshot.by_ref() {
        rows += chunk.len() as u64;
        let chunk = Arc::new(chunk);
        for (i, _) in plan.send.iter().filter(|(_, v)| *v == view) {
            wait_for_room(shared, *i)?;
            lock(&shared.outputs)[*i].push_snapshot(step, chunk.clone());
        }
    }
    let deltas = snapshot.finish().map_err(StepError::Snapshot)?;
    // The snapshot's step has no input; on a restored engine it changes nothing. Were it to, a change would be
    // lost for every other connector: refuse rather than drop it.
    if let Some((view, _)) = deltas.iter().find(|(_, d)| !d.is_empty()) {
        return Err(StepError::Replay(format!(
            "the snapshot's step changed view {view}, which a step without input must not do"
        ))
        .into());
    }
    tracing::info!(
        pipeline = %shared.name,
        step,
        connectors = plan.send.len(),
        rows,
        ms = started.elapsed().as_millis() as u64,
        "Snapshots queued."
    );
    Ok(())
}

/// Waits until output connector `i` has room in its queue (or fails, failing the pipeline).
fn wait_for_room(shared: &Shared, i: usize) -> Result<(), PipelineFailure> {
    loop {
        shared.check_outputs()?;
        if !lock(&shared.outputs)[i].is_full() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
