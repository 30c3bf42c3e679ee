//! `/healthz` and `/config/authentication`: public endpoints for probes and clients.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::http::auth::AuthMode;
use crate::http::state::AppState;

/// 200 `{"status": "healthy"}` when the database answers, 503 `{"status": "unhealthy", ...}` otherwise.
#[utoipa::path(get, path = "/healthz", tag = "Health", security(()),
    responses((status = 200, body = Object), (status = 503, body = Object)))]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.db().ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "healthy"}))),
        Err(e) => {
            tracing::error!(error = %e, "Health check: the database does not answer.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unhealthy", "reason": "the database does not answer"})),
            )
        }
    }
}

/// How clients authenticate: `{}` when auth is off, `{"ApiKey": {"header": ...}}` when keys are required.
#[utoipa::path(get, path = "/config/authentication", tag = "Health", security(()), responses((status = 200, body = Object)))]
pub async fn authentication(State(state): State<AppState>) -> Json<Value> {
    Json(match state.config().auth {
        AuthMode::None => json!({}),
        AuthMode::ApiKey => json!({"ApiKey": {"header": "Authorization: Bearer apikey:<key>"}}),
    })
}
