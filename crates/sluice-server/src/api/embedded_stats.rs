//! `GET /v0/pipelines/{name}/stats` of a pipeline written with `program_code`: Sluice's counters in the shape of
//! Feldera's `ControllerStatus`, which its clients parse strictly (every field present, closed enums).
//!
//! Inputs are one HTTP ingress endpoint per table (`{table}.api-ingress`, counting what came over HTTP and from
//! connectors alike, which is all Sluice counts per table) and each declared input connector; outputs are the
//! declared output connectors. What Sluice does not measure per pipeline is not invented: Feldera's transaction,
//! bootstrap and storage fields hold their idle values; `rss_bytes` and `cpu_msecs` are the server process's,
//! since pipelines run inside it. `pipeline_complete` is true when no input connector is attached and everything
//! sent over HTTP is complete.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sluice_pipeline::{Pipeline, PipelineState, PipelineStats};

/// Feldera's `ControllerStatus` of `live`, from its `stats`.
pub fn controller_status(live: &Pipeline, stats: &PipelineStats) -> Value {
    let g = &stats.global_metrics;
    let started = secs(live.started_at());
    let uptime_ms = SystemTime::now()
        .duration_since(live.started_at())
        .map_or(0, |d| d.as_millis() as u64);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let state = match g.state {
        PipelineState::Running => "Running",
        PipelineState::Paused => "Paused",
        PipelineState::Failed | PipelineState::Stopped => "Terminated",
    };
    let mut inputs: Vec<Value> = stats
        .inputs
        .iter()
        .map(|t| {
            json!({
                "endpoint_name": format!("{}.api-ingress", t.table),
                "config": {"stream": t.table},
                "metrics": {
                    "total_bytes": t.total_bytes,
                    "total_records": t.total_records,
                    "buffered_records": t.buffered_records,
                    "buffered_bytes": 0,
                    "num_transport_errors": 0,
                    "num_parse_errors": t.num_parse_errors,
                    "end_of_input": false,
                },
                "fatal_error": null,
                "paused": g.state == PipelineState::Paused,
                "barrier": false,
                "completed_frontier": null,
            })
        })
        .collect();
    inputs.extend(stats.input_connectors.iter().map(|i| {
        json!({
            "endpoint_name": i.endpoint_name,
            "config": {"stream": i.table},
            "metrics": {
                "total_bytes": i.total_bytes,
                "total_records": i.total_records,
                "buffered_records": i.pending_records,
                "buffered_bytes": 0,
                "num_transport_errors": 0,
                "num_parse_errors": i.num_rejected_messages,
                "end_of_input": false,
            },
            "fatal_error": i.fatal_error,
            "paused": i.paused_reason.is_some(),
            "barrier": false,
            "completed_frontier": null,
        })
    }));
    let outputs: Vec<Value> = stats
        .outputs
        .iter()
        .map(|o| {
            let t = &o.transport;
            json!({
                "endpoint_name": o.endpoint_name,
                "config": {"stream": o.view},
                "metrics": {
                    "transmitted_records": t.transmitted_records,
                    "transmitted_bytes": t.transmitted_bytes,
                    "queued_records": o.queued_records,
                    "queued_batches": o.queued_batches,
                    "buffered_records": t.in_flight_records,
                    "buffered_batches": 0,
                    "num_encode_errors": o.num_encode_errors,
                    "num_transport_errors": t.num_transport_errors,
                    "total_processed_input_records": g.total_processed_records,
                    "total_processed_steps": o.processed_steps,
                    "memory": 0,
                },
                "fatal_error": o.fatal_error,
                "paused": false,
            })
        })
        .collect();
    let (rss_bytes, cpu_msecs) = process_usage();
    // Feldera's meaning: every input endpoint but HTTP ingress is at its end, and every record that came in is
    // complete. Sluice's input connectors (Kafka) never end, so only a pipeline fed over HTTP alone completes,
    // once it has processed what it was sent (which is what the SDK's `wait_for_completion` waits for).
    let complete = stats.input_connectors.is_empty()
        && g.buffered_input_records == 0
        && live.completed() >= g.total_input_records;
    json!({
        "global_metrics": {
            "state": state,
            "bootstrap_in_progress": false,
            "transaction_status": "NoTransaction",
            "transaction_id": 0,
            "transaction_initiators": {"initiated_by_connectors": {}},
            "concurrent_bootstrap_phase": "Inactive",
            "memory_pressure": "low",
            "memory_pressure_epoch": 0,
            "rss_bytes": rss_bytes,
            "cpu_msecs": cpu_msecs,
            "uptime_msecs": uptime_ms,
            "start_time": started,
            "initial_start_time": started,
            "incarnation_uuid": live.incarnation(),
            "storage_bytes": 0,
            "storage_mb_secs": 0,
            "runtime_elapsed_msecs": uptime_ms,
            "buffered_input_records": g.buffered_input_records,
            "buffered_input_bytes": 0,
            "total_input_records": g.total_input_records,
            "total_input_bytes": stats.inputs.iter().map(|t| t.total_bytes).sum::<u64>(),
            "total_processed_records": g.total_processed_records,
            "total_processed_bytes": 0,
            "total_completed_records": live.completed(),
            "output_stall_msecs": g.stalled_since_ms.map_or(0, |at| now_ms.saturating_sub(at)),
            "total_initiated_steps": g.steps,
            "total_completed_steps": g.steps,
            "pipeline_complete": complete,
        },
        "inputs": inputs,
        "outputs": outputs,
    })
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The server process's resident memory (bytes) and CPU time (ms), from `/proc` (zeros where it is missing).
fn process_usage() -> (u64, u64) {
    let page = 4096;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page);
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux); the command name (field 2)
    // may hold spaces, so counting starts after its closing parenthesis.
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .map_or(0, |ticks| ticks * 10);
    (rss, cpu)
}
