//! The controller thread: waits until a step is due, then steps the engine and hands each view's delta to the
//! output connectors and the watchers.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::TrySendError;
use std::sync::Arc;
use std::time::Duration;

use sluice_data::Row;
use sluice_engine::Engine;
use sluice_transports::health::now_ms;

use super::admission::{Buffer, Shared};
use super::failure::{PipelineFailure, StepError};
use super::watch::WatchEvent;
use crate::util::lock;

/// The controller thread: steps until shutdown; an error or a panic marks the pipeline failed.
pub(super) fn control(shared: &Shared, mut engine: Engine) {
    let result = catch_unwind(AssertUnwindSafe(|| run_steps(shared, &mut engine)));
    let failure = match result {
        Ok(Ok(())) => return,
        Ok(Err(e)) => PipelineFailure::Step(e),
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

/// Whether a step is due now; otherwise how long to wait before checking again (None: until woken).
pub(super) fn step_due(shared: &Shared, b: &mut Buffer) -> Result<(), Option<Duration>> {
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

pub(super) fn run_steps(shared: &Shared, engine: &mut Engine) -> Result<(), StepError> {
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
pub(super) fn step(
    shared: &Shared,
    engine: &mut Engine,
    inputs: Vec<Vec<(Row, i64)>>,
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
