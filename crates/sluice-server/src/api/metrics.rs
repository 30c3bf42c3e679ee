//! `/metrics`: Prometheus text format: request counters, stored objects, and every running pipeline's stats
//! (per pipeline, table and connector; see [`crate::pipeline_metrics`]).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::db::Named;
use crate::error::ApiError;
use crate::AppState;

/// Request counters, the number of stored connectors, programs, pipelines and API keys, and the stats of every
/// running pipeline.
#[utoipa::path(get, path = "/metrics", tag = "Health", security(()), responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let db = state.db();
    let gauges = [
        (
            "sluice_connectors",
            "Connectors stored.",
            Named::Connector.count(db).await?,
        ),
        (
            "sluice_programs",
            "Programs stored.",
            Named::Program.count(db).await?,
        ),
        (
            "sluice_pipelines",
            "Pipelines stored.",
            Named::Pipeline.count(db).await?,
        ),
        (
            "sluice_api_keys",
            "API keys stored.",
            Named::ApiKey.count(db).await?,
        ),
    ];
    let mut text = state.metrics().render(&gauges);
    let mut running: Vec<(String, sluice_pipeline::PipelineStats)> = state
        .runner()
        .all()
        .into_iter()
        .map(|(_, p)| (p.name().to_string(), p.stats()))
        .collect();
    running.sort_by(|a, b| a.0.cmp(&b.0));
    crate::pipeline_metrics::render(&running, &mut text);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        sluice_types::secret::redact::scrub(&text).into_owned(),
    ))
}
