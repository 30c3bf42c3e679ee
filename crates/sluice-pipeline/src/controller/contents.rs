//! Reading views' contents while the pipeline runs, for ad-hoc queries.
//!
//! The engine belongs to the controller thread, so a reader leaves a request and wakes the controller, which
//! serves it between two steps: the contents read then are those after one step and before the next, the same
//! for every view of the request. Only `MATERIALIZED` views keep contents (the program decides which, so that
//! checkpoints restore into a circuit of the same shape); the reading step pushes no input and changes nothing.

use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::time::Duration;

use sluice_data::Delta;
use sluice_engine::Engine;

use super::admission::{ContentsRequest, Shared};
use super::spec::PipelineError;
use crate::util::lock;

/// Rows read from the engine at a time.
const CHUNK_ROWS: usize = 10_000;

type Reply = Result<Vec<(String, Delta)>, String>;

/// Leaves a request for the controller and waits up to `wait` for its answer.
pub(super) fn request(
    shared: &Shared,
    views: &[String],
    max_rows: usize,
    wait: Duration,
) -> Result<Vec<(String, Delta)>, PipelineError> {
    for name in views {
        let view = shared
            .program
            .view(name)
            .ok_or_else(|| PipelineError::UnknownView(name.clone()))?;
        if !view.materialized {
            return Err(PipelineError::Contents(format!(
                "view {name} keeps no contents to read: declare it CREATE MATERIALIZED VIEW"
            )));
        }
    }
    {
        let b = lock(&shared.buffer);
        if let Some(f) = &b.failed {
            return Err(PipelineError::Failed(f.clone()));
        }
        if b.stopping {
            return Err(PipelineError::Stopped);
        }
    }
    let (reply, answer) = sync_channel(1);
    lock(&shared.contents).push(ContentsRequest {
        views: views.to_vec(),
        max_rows,
        reply,
    });
    shared.step_due.notify_all();
    match answer.recv_timeout(wait) {
        Ok(result) => result.map_err(PipelineError::Contents),
        Err(RecvTimeoutError::Timeout) => Err(PipelineError::Contents(format!(
            "the pipeline did not read the views within {} s (a long step, or an output connector holding it up)",
            wait.as_secs()
        ))),
        Err(RecvTimeoutError::Disconnected) => Err(PipelineError::Stopped),
    }
}

/// Serves every waiting request (on the controller thread, between steps).
pub(super) fn serve(shared: &Shared, engine: &mut Engine) {
    let requests = std::mem::take(&mut *lock(&shared.contents));
    for r in requests {
        let _ = r.reply.send(read(engine, &r.views, r.max_rows));
    }
}

fn read(engine: &mut Engine, views: &[String], max_rows: usize) -> Reply {
    let names: Vec<&str> = views.iter().map(String::as_str).collect();
    let mut snapshot = engine
        .snapshot(&names, CHUNK_ROWS)
        .map_err(|e| e.to_string())?;
    let mut out: Vec<(String, Delta)> = views.iter().map(|v| (v.clone(), Vec::new())).collect();
    let mut rows = 0usize;
    while let Some((view, chunk)) = snapshot.next() {
        rows += chunk.len();
        if rows > max_rows {
            drop(snapshot.finish());
            return Err(format!(
                "the views hold more than {max_rows} rows, the most an ad-hoc query reads into memory"
            ));
        }
        if let Some((_, delta)) = out.iter_mut().find(|(v, _)| *v == view) {
            delta.extend(chunk);
        }
    }
    snapshot.finish().map_err(|e| e.to_string())?;
    Ok(out)
}
