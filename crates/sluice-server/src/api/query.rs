//! `GET /v0/pipelines/{name}/query`: an ad-hoc `SELECT` over the current contents of a running pipeline's
//! materialized views.
//!
//! The views a query reads are read from the engine between two steps (consistent with each other) and the
//! query runs once over them in DataFusion ([`sluice_sql::adhoc`]). Two ways in, as Feldera's two clients ask:
//! plain HTTP with `?sql=...&format=json|text` (newline-delimited JSON rows, or a text table), and a WebSocket
//! (the `fda` CLI) that sends `{"sql": ..., "format": "text"|"json"}` and receives the answer in text frames, then a
//! normal close (code 1011 with the reason when the query fails).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sluice_formats::{build_encoder, MessageLimits};
use sluice_pipeline::{Pipeline, PipelineError};
use sluice_types::{ErrorResponse, FormatConfig};

use super::data::instance;
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, NamePath};
use crate::http::state::AppState;

/// The most rows a query reads from the pipeline into memory.
pub const MAX_QUERY_INPUT_ROWS: usize = 5_000_000;
/// How long a query waits for the pipeline to read its views (it is served between steps).
const CONTENTS_WAIT: Duration = Duration::from_secs(60);

/// `?sql=` and `?format=` (Feldera's clients also send `pipeline_name`, which the path already says).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueryParams {
    /// One `SELECT` over the pipeline's materialized views.
    pub sql: Option<String>,
    /// `json` (default: one JSON object per row and line) or `text` (a table).
    pub format: Option<String>,
}

/// The output formats an ad-hoc query has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Text,
}

fn format_of(text: Option<&str>) -> Result<Format, String> {
    match text.unwrap_or("json") {
        "json" => Ok(Format::Json),
        "text" => Ok(Format::Text),
        other => Err(format!(
            "format '{other}' is not supported for ad-hoc queries: json or text (arrow_ipc, parquet and hash are not)"
        )),
    }
}

/// Runs an ad-hoc query over the views of a running pipeline.
#[utoipa::path(get, path = "/v0/pipelines/{name}/query", tag = "Pipelines", operation_id = "pipeline_adhoc_sql",
    params(("name" = String, Path), QueryParams),
    responses((status = 200, description = "json: one object per row and line; text: a table", content_type = "application/x-ndjson"),
        (status = 101, description = "WebSocket: send {\"sql\", \"format\"}, receive the answer in text frames"),
        (status = 400, body = ErrorResponse, description = "InvalidAdHocQuery, InvalidQuery, InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName, PipelineShutdown")))]
pub async fn query(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiQuery(params): ApiQuery<QueryParams>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let live = instance(&state, &name).await?.pipeline;
    if let Ok(ws) = upgrade {
        return Ok(ws.on_upgrade(move |socket| over_websocket(socket, live)));
    }
    let sql = params.sql.ok_or_else(|| ApiError::InvalidQuery {
        reason: "missing the query: ?sql=SELECT ...".into(),
    })?;
    let format =
        format_of(params.format.as_deref()).map_err(|reason| ApiError::InvalidQuery { reason })?;
    let answer = tokio::task::spawn_blocking(move || answer(&live, &sql, format))
        .await
        .map_err(|e| ApiError::Internal(format!("query task: {e}")))?
        .map_err(|reason| ApiError::InvalidAdHocQuery { reason })?;
    let content_type = match format {
        Format::Json => "application/x-ndjson",
        Format::Text => "text/plain",
    };
    Ok(([(header::CONTENT_TYPE, content_type)], Bytes::from(answer)).into_response())
}

/// The answer to `sql` in `format`: JSON rows, one per line, or a text table ending in a newline.
fn answer(live: &Pipeline, sql: &str, format: Format) -> Result<String, String> {
    let names = sluice_sql::adhoc::referenced_relations(sql)?;
    for n in &names {
        if live.table(n).is_ok() {
            return Err(format!(
                "table {n} keeps no contents to query; query a MATERIALIZED view over it"
            ));
        }
        live.view(n)
            .map_err(|_| format!("the pipeline has no view {n}"))?;
    }
    let contents = live
        .contents(&names, MAX_QUERY_INPUT_ROWS, CONTENTS_WAIT)
        .map_err(|e| match e {
            PipelineError::Contents(reason) => reason,
            other => other.to_string(),
        })?;
    let inputs: Vec<_> = contents
        .into_iter()
        .map(|(view, rows)| {
            let relation = live.view(&view).cloned().map_err(|e| e.to_string())?;
            Ok((relation, rows))
        })
        .collect::<Result<_, String>>()?;
    let out = sluice_sql::adhoc::run_query(sql, &inputs)?;
    match format {
        Format::Text => Ok(format!("{}\n", out.text)),
        Format::Json => {
            let config: FormatConfig = serde_json::from_value(
                json!({"name": "json", "config": {"update_format": "raw", "array": false}}),
            )
            .map_err(|e| e.to_string())?;
            let mut encoder = build_encoder(
                &config,
                &out.relation,
                MessageLimits {
                    max_message_bytes: usize::MAX,
                },
            )
            .map_err(|e| e.to_string())?;
            let delta: Vec<_> = out.rows.into_iter().map(|r| (r, 1)).collect();
            let mut text = String::new();
            let errors = encoder
                .encode(&delta, &mut |m| {
                    if let Some(v) = m.value {
                        text.push_str(String::from_utf8_lossy(&v).trim_end());
                        text.push('\n');
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
            match errors.first() {
                Some(e) => Err(format!("a result row cannot be written as JSON: {e}")),
                None => Ok(text),
            }
        }
    }
}

/// The `fda` way: the query arrives as the first text frame, the answer leaves as text frames.
async fn over_websocket(mut socket: WebSocket, live: std::sync::Arc<Pipeline>) {
    #[derive(Deserialize)]
    struct Request {
        sql: String,
        #[serde(default)]
        format: Option<String>,
    }
    let request = loop {
        match socket.recv().await {
            Some(Ok(Message::Text(text))) => break serde_json::from_str::<Request>(text.as_str()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => return,
        }
    };
    let result = match request {
        Ok(r) => match format_of(r.format.as_deref()) {
            Ok(format) => tokio::task::spawn_blocking(move || answer(&live, &r.sql, format))
                .await
                .unwrap_or_else(|e| Err(format!("query task: {e}"))),
            Err(reason) => Err(reason),
        },
        Err(e) => Err(format!(
            "the first message must be {{\"sql\": ..., \"format\": ...}}: {e}"
        )),
    };
    let (code, reason) = match result {
        Ok(text) => {
            if socket.send(Message::Text(text.into())).await.is_err() {
                return;
            }
            (close_code::NORMAL, "")
        }
        Err(reason) => {
            let _ = socket
                .send(Message::Text(format!("ERROR: {reason}\n").into()))
                .await;
            (close_code::ERROR, "query failed")
        }
    };
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}
