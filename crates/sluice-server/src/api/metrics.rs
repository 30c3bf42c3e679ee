//! `/metrics`: Prometheus text format.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::db::Named;
use crate::error::ApiError;
use crate::AppState;

/// Request counters and the number of stored connectors, programs, pipelines and API keys.
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
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(&gauges),
    ))
}
