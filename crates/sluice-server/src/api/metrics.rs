//! `/metrics`: Prometheus text format: request counters, stored objects, and every running pipeline's stats
//! (per pipeline, table and connector; see [`crate::runner::metrics`]).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::store::Entity;

/// Request counters, the number of stored connectors, programs, pipelines and API keys, and the stats of every
/// running pipeline.
#[utoipa::path(get, path = "/metrics", tag = "Health", security(()), responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let db = state.db();
    let gauges = [
        (
            "sluice_connectors",
            "Connectors stored.",
            Entity::Connector.count(db).await?,
        ),
        (
            "sluice_programs",
            "Programs stored.",
            Entity::Program.count(db).await?,
        ),
        (
            "sluice_pipelines",
            "Pipelines stored.",
            Entity::Pipeline.count(db).await?,
        ),
        (
            "sluice_api_keys",
            "API keys stored.",
            Entity::ApiKey.count(db).await?,
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
    crate::runner::metrics::render(&running, &mut text);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        sluice_types::secret::redact::scrub(&text).into_owned(),
    ))
}
