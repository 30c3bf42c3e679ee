//! The data plane of a running pipeline: HTTP ingress into a table, a watch of a view's changes, and stats.
//!
//! Ingress is all or nothing per request: the body is parsed and every record checked against the table first;
//! if any record is invalid, the answer is `400 InvalidRecords` listing each bad record and *no* record of the
//! request is applied. Accepted records are never dropped: they are buffered until a step takes them. When the
//! pipeline's input buffer stays full for [`INGRESS_WAIT`] (paused, or an output connector stalled), the answer
//! is `503 PipelineBusy` and nothing was applied, so the request can simply be retried.

use std::convert::Infallible;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_formats::{build_encoder, build_parser, BatchInfo, MessageLimits};
use sluice_pipeline::{Pipeline, PipelineError, PipelineState, WatchEvent};
use sluice_types::{ConfigError, FormatConfig};

use super::ingress_body::parse_body;
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, NamePath};
use crate::http::state::AppState;
use crate::model::programs::canonical_identifier;
use crate::store::pipelines as db;
use sluice_types::ErrorResponse;

/// How often an egress stream of the current API sends an empty chunk while its view does not change.
const EGRESS_HEARTBEAT: Duration = Duration::from_secs(3);

/// How long an ingress request waits for room in a full input buffer.
pub const INGRESS_WAIT: Duration = Duration::from_secs(10);

/// The format of an ingress or egress request, from the query string.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// JSON: `insert_delete` (default), `raw` or `weighted`.
    pub update_format: Option<String>,
    /// JSON: the body is one array of records instead of one record per line.
    pub array: Option<bool>,
    /// Egress: only `watch` (the default) is supported.
    pub mode: Option<String>,
    /// JSON: how values are spelled (`default`, ...); a flavor Sluice does not read (such as `pandas`) is refused.
    pub json_flavor: Option<String>,
}

impl FormatQuery {
    fn format(&self, array: bool) -> Result<FormatConfig, ApiError> {
        let name = self.format.as_deref().unwrap_or("json");
        let mut config = serde_json::Map::new();
        if let Some(u) = &self.update_format {
            config.insert("update_format".into(), json!(u));
        }
        if name == "json" {
            config.insert("array".into(), json!(self.array.unwrap_or(array)));
            if let Some(flavor) = &self.json_flavor {
                config.insert("json_flavor".into(), json!(flavor));
            }
        }
        serde_json::from_value(json!({"name": name, "config": config})).map_err(|e| {
            ApiError::InvalidFormat {
                field: "format".into(),
                reason: e.to_string(),
            }
        })
    }
}

fn invalid_format(e: ConfigError) -> ApiError {
    ApiError::InvalidFormat {
        field: e.field,
        reason: e.reason,
    }
}

/// A pipeline's instance running in this process.
pub(super) struct Live {
    /// The pipeline's id.
    pub id: String,
    /// The instance.
    pub pipeline: Arc<Pipeline>,
    /// Written with `program_code`: answers in the current API's shapes.
    pub embedded: bool,
}

/// The instance in this process of pipeline `name`, or 404 `PipelineShutdown` when it has none.
pub(super) async fn instance(state: &AppState, name: &str) -> Result<Live, ApiError> {
    let p = db::get(state.db(), name).await?;
    match state.runner().get(&p.state.pipeline_id) {
        Some(live) => Ok(Live {
            id: p.state.pipeline_id,
            pipeline: live,
            embedded: p.embedded.is_some(),
        }),
        None => Err(ApiError::PipelineShutdown {
            pipeline_id: p.state.pipeline_id,
            pipeline_name: name.to_string(),
            current_status: p.state.current_status.as_str().to_string(),
        }),
    }
}

/// [`instance`], and 409 `PipelineFailed` when the instance failed.
pub(super) async fn running(state: &AppState, name: &str) -> Result<Live, ApiError> {
    let live = instance(state, name).await?;
    if let (PipelineState::Failed, Some(error)) = live.pipeline.state() {
        return Err(ApiError::PipelineFailed {
            pipeline_name: name.to_string(),
            error,
        });
    }
    Ok(live)
}

/// Pushes the body's records into a table of a running pipeline.
#[utoipa::path(post, path = "/v0/pipelines/{name}/ingress/{table}", tag = "Pipelines",
    params(("name" = String, Path), ("table" = String, Path), FormatQuery),
    request_body(content = String, description = "Records in the chosen format", content_type = "text/plain"),
    responses((status = 200, body = Object, description = "{\"records\": n}: all records accepted"),
        (status = 400, body = ErrorResponse, description = "InvalidFormat, InvalidRecords (nothing applied), InvalidQuery, InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName, UnknownTable, PipelineShutdown"),
        (status = 409, body = ErrorResponse, description = "PipelineFailed"),
        (status = 413, body = ErrorResponse, description = "PayloadTooLarge (nothing applied)"),
        (status = 503, body = ErrorResponse, description = "PipelineBusy (nothing applied; retry)")))]
pub async fn ingress(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    Path((_, table)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<FormatQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Live {
        id: pipeline_id,
        pipeline: live,
        embedded,
    } = running(&state, &name).await?;
    let table = canonical_identifier(&table);
    let relation = live
        .table(&table)
        .map_err(|_| ApiError::UnknownTable {
            pipeline_name: name.clone(),
            table: table.clone(),
        })?
        .clone();
    let format = query.format(false)?;
    let parser = build_parser(&format, &relation).map_err(invalid_format)?;
    let incarnation = live.incarnation().to_string();
    let limit = state.config().max_ingress_bytes;
    let parsed = parse_body(&headers, body, parser, limit).await?;
    if !parsed.errors.is_empty() {
        let messages: Vec<String> = parsed.errors.iter().map(|e| e.message.clone()).collect();
        live.record_errors(&table, &messages);
        return Err(ApiError::InvalidRecords {
            table,
            num_errors: parsed.num_errors,
            first: messages[0].clone(),
            errors: parsed
                .errors
                .iter()
                .map(|e| json!({"index": e.index, "line": e.line, "message": e.message}))
                .collect(),
        });
    }
    let result = tokio::task::spawn_blocking(move || {
        let n = parsed.records.len();
        live.ingest(&table, parsed.records, parsed.bytes, INGRESS_WAIT)
            .map(|position| (n, position))
            .map_err(|e| ingest_error(&pipeline_id, &name, &table, e))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("ingress task: {e}")))??;
    let (records, position) = result;
    Ok(Json(if embedded {
        // Feldera's clients wait on the token; the record count stays for whoever reads it.
        json!({"token": token(&incarnation, position), "records": records})
    } else {
        json!({"records": records})
    }))
}

fn ingest_error(pipeline_id: &str, name: &str, table: &str, e: PipelineError) -> ApiError {
    let pipeline_name = name.to_string();
    match e {
        PipelineError::InvalidRecords(messages) => ApiError::InvalidRecords {
            table: table.to_string(),
            num_errors: messages.len(),
            first: messages.first().cloned().unwrap_or_default(),
            errors: messages.iter().map(|m| json!({"message": m})).collect(),
        },
        PipelineError::Busy { .. } => ApiError::PipelineBusy {
            pipeline_name,
            reason: e.to_string(),
        },
        PipelineError::Failed(error) => ApiError::PipelineFailed {
            pipeline_name,
            error: error.to_string(),
        },
        PipelineError::Durable(error) => ApiError::InputNotDurable {
            pipeline_name,
            reason: error.to_string(),
        },
        PipelineError::Stopped => ApiError::PipelineShutdown {
            pipeline_id: pipeline_id.to_string(),
            pipeline_name,
            current_status: "ShuttingDown".into(),
        },
        other => ApiError::Internal(other.to_string()),
    }
}

/// Streams the changes of a view, one line per step: `{"sequence_number": step, "json_data": [...]}` for JSON,
/// `{"sequence_number": step, "text_data": "..."}` for CSV. The stream ends with `{"error": reason}` when the
/// pipeline stops or the client reads too slowly (more than 1024 steps behind).
#[utoipa::path(post, path = "/v0/pipelines/{name}/egress/{view}", tag = "Pipelines",
    params(("name" = String, Path), ("view" = String, Path), FormatQuery),
    responses((status = 200, description = "Newline-delimited JSON, one object per step", content_type = "application/x-ndjson"),
        (status = 400, body = ErrorResponse, description = "InvalidFormat, InvalidQuery, InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName, UnknownView, PipelineShutdown"),
        (status = 409, body = ErrorResponse, description = "PipelineFailed")))]
pub async fn egress(
    state: State<AppState>,
    name: NamePath,
    path: Path<(String, String)>,
    query: ApiQuery<FormatQuery>,
) -> Result<Response, ApiError> {
    watch(state, name, path, query).await
}

/// The same stream as `POST`, for clients (browsers, `curl` without `-X`) that watch with `GET`.
#[utoipa::path(get, path = "/v0/pipelines/{name}/egress/{view}", tag = "Pipelines", operation_id = "egress_get",
    params(("name" = String, Path), ("view" = String, Path), FormatQuery),
    responses((status = 200, description = "Newline-delimited JSON, one object per step", content_type = "application/x-ndjson"),
        (status = 400, body = ErrorResponse, description = "InvalidFormat, InvalidQuery, InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName, UnknownView, PipelineShutdown"),
        (status = 409, body = ErrorResponse, description = "PipelineFailed")))]
pub async fn egress_get(
    state: State<AppState>,
    name: NamePath,
    path: Path<(String, String)>,
    query: ApiQuery<FormatQuery>,
) -> Result<Response, ApiError> {
    watch(state, name, path, query).await
}

async fn watch(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    Path((_, view)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<FormatQuery>,
) -> Result<Response, ApiError> {
    if let Some(mode) = query.mode.as_deref().filter(|m| *m != "watch") {
        return Err(ApiError::InvalidFormat {
            field: "mode".into(),
            reason: format!(
                "'{mode}' is not supported: only 'watch' (stream changes as they happen) is"
            ),
        });
    }
    let Live {
        pipeline: live,
        embedded,
        ..
    } = running(&state, &name).await?;
    let view = canonical_identifier(&view);
    let relation = live
        .view(&view)
        .map_err(|_| ApiError::UnknownView {
            pipeline_name: name.clone(),
            view: view.clone(),
        })?
        .clone();
    // The current API's streams always carry arrays of changes, whatever `array` says (as Feldera's do).
    let format = if embedded {
        FormatQuery {
            array: Some(true),
            ..query
        }
        .format(true)?
    } else {
        query.format(true)?
    };
    let is_json = matches!(format, FormatConfig::Json(_));
    let mut encoder = build_encoder(
        &format,
        &relation,
        MessageLimits {
            max_message_bytes: usize::MAX,
        },
    )
    .map_err(invalid_format)?;
    let events = live
        .watch(&view)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(16);
    // Feldera's clients return from `listen()` only once a first line arrives, and tell a live stream from a dead
    // one by its heartbeats: a stream of the current API starts with an empty chunk and has one every few seconds.
    let mut last_step = 0;
    let heartbeat = |step: u64| json!({"sequence_number": step, "snapshot": false});
    if embedded {
        let _ = tx.try_send(Ok(Bytes::from(format!("{}\n", heartbeat(0)))));
    }
    std::thread::Builder::new()
        .name(format!("watch-{name}-{view}"))
        .spawn(move || loop {
            let event = if embedded {
                match events.recv_timeout(EGRESS_HEARTBEAT) {
                    Err(RecvTimeoutError::Timeout) => {
                        if tx.blocking_send(Ok(Bytes::from(format!("{}\n", heartbeat(last_step))))).is_err() {
                            return;
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => Err(()),
                    Ok(event) => Ok(event),
                }
            } else {
                events.recv().map_err(|_| ())
            };
            let line = match event {
                Ok(WatchEvent::Changes { step, delta }) => {
                    last_step = step;
                    let mut items = Vec::new();
                    let mut text = String::new();
                    // The sink below never fails; records the encoder cannot encode are listed in the line.
                    encoder.begin_batch(BatchInfo {
                        pipeline: &name,
                        step,
                        snapshot: false,
                    });
                    let encoded = encoder.encode(&delta, &mut |m| {
                        // A tombstone (upsert's delete) has no value; the egress stream shows it as null.
                        let payload = m
                            .value
                            .as_deref()
                            .map_or_else(|| "null".to_string(), |v| String::from_utf8_lossy(v).into_owned());
                        match serde_json::from_str::<Value>(&payload) {
                            Ok(Value::Array(a)) if is_json => items.extend(a),
                            Ok(v) if is_json => items.push(v),
                            _ => text.push_str(&payload),
                        }
                        Ok(())
                    });
                    let mut line = if is_json {
                        json!({"sequence_number": step, "json_data": items})
                    } else {
                        json!({"sequence_number": step, "text_data": text})
                    };
                    let errors: Vec<String> = match encoded {
                        Ok(errors) => errors.iter().map(ToString::to_string).collect(),
                        Err(e) => vec![e.to_string()],
                    };
                    if !errors.is_empty() {
                        line["encode_errors"] = json!(errors);
                    }
                    if embedded {
                        line["snapshot"] = json!(false);
                    }
                    line
                }
                Ok(WatchEvent::Ended(reason)) => json!({"error": reason}),
                Err(_) => json!({"error": "the watch was disconnected: the client read too slowly or the pipeline stopped"}),
            };
            let end = line.get("error").is_some();
            if tx.blocking_send(Ok(Bytes::from(format!("{line}\n")))).is_err() || end {
                return;
            }
        })
        .map_err(|e| ApiError::Internal(format!("watch thread: {e}")))?;
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The running pipeline's statistics: per table, per output connector, and global.
#[utoipa::path(get, path = "/v0/pipelines/{name}/stats", tag = "Pipelines", operation_id = "pipeline_stats", params(("name" = String, Path)),
    responses((status = 200, body = sluice_pipeline::PipelineStats), (status = 400, body = ErrorResponse, description = "InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName, PipelineShutdown (no running instance)")))]
pub async fn stats(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<Json<Value>, ApiError> {
    let Live {
        pipeline: live,
        embedded,
        ..
    } = instance(&state, &name).await?;
    let stats = live.stats();
    let shown = if embedded {
        super::embedded_stats::controller_status(&live, &stats)
    } else {
        serde_json::to_value(&stats).map_err(|e| ApiError::Internal(e.to_string()))?
    };
    // Error lists quote librdkafka and brokers: no secret value may pass.
    let text = shown.to_string();
    serde_json::from_str(&sluice_types::secret::redact::scrub(&text))
        .map(Json)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// A completion token: the run that admitted the records and the admission position of the last one.
fn token(incarnation: &str, position: u64) -> String {
    format!("{incarnation}:{position}")
}

/// `?token=` of `completion_status`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// A token from an ingress answer.
    pub token: String,
}

/// Whether the records of an ingress request are complete: stepped, and their changes handed to every output
/// connector and HTTP watcher. `{"status": "complete" | "inprogress", "step": n | null}`, where `step` is the
/// number of steps run when it is complete. A token of an earlier run of the pipeline is 410.
#[utoipa::path(get, path = "/v0/pipelines/{name}/completion_status", tag = "Pipelines", operation_id = "completion_status",
    params(("name" = String, Path), TokenQuery),
    responses((status = 200, body = Object, description = "{\"status\": \"complete\" | \"inprogress\", \"step\": n | null}"),
        (status = 400, body = ErrorResponse, description = "InvalidCompletionToken (malformed), InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName, PipelineShutdown"),
        (status = 410, body = ErrorResponse, description = "InvalidCompletionToken (issued by an earlier run)")))]
pub async fn completion_status(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let live = instance(&state, &name).await?.pipeline;
    let invalid = |reason: &str, gone: bool| ApiError::InvalidCompletionToken {
        token: query.token.clone(),
        reason: reason.to_string(),
        gone,
    };
    let (incarnation, position) = query
        .token
        .rsplit_once(':')
        .and_then(|(i, p)| Some((i, p.parse::<u64>().ok()?)))
        .ok_or_else(|| invalid("not a token this server issued", false))?;
    if incarnation != live.incarnation() {
        return Err(invalid(
            "it was issued by an earlier run of the pipeline, which has restarted since",
            true,
        ));
    }
    Ok(Json(if live.completed() >= position {
        json!({"status": "complete", "step": live.stats().global_metrics.steps})
    } else {
        json!({"status": "inprogress", "step": null})
    }))
}
