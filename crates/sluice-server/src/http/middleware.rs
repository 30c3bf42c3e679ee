//! The middleware of every request: the browser guard (without authentication), API-key authentication (with
//! it), and request counting. The rules they apply live in [`super::browser`], [`super::auth`] and
//! [`super::metrics`]; this file joins them to the shared state, so those files need not know it.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::state::AppState;
use super::{auth, browser};
use crate::store::api_keys::key_scopes;

/// Middleware on every request when there is no authentication: see the module documentation.
pub async fn browser_guard(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    browser::check(&state.config().browser, &request)?;
    Ok(next.run(request).await)
}

/// Middleware on every request when [`AuthMode::ApiKey`] is on: a request under `/v0` ([`is_protected`]) is 401
/// unless it carries a stored key, and 403 when the key lacks the scope the request needs; other paths pass.
pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = request.uri().path();
    if !auth::is_protected(path, state.config().metrics_need_key) {
        return Ok(next.run(request).await);
    }
    let key = auth::bearer_key(&request)?;
    let scopes = key_scopes(state.db(), key)
        .await?
        .ok_or(ApiError::InvalidKey)?;
    let needed = auth::needed_scope(request.method(), path);
    if !scopes.contains(&needed) {
        return Err(ApiError::InsufficientPermissions {
            needed: format!("{needed:?}"),
            action: format!("{} {path}", request.method()),
        });
    }
    Ok(next.run(request).await)
}

/// Middleware (a route layer) that counts every request answered by a route, labelled by the route template so
/// that random URLs cannot grow the label set; unknown routes are not counted.
pub async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    tracing::debug!(method = %method, route = %route, status, "Request answered.");
    state.metrics().count(&method, &route, status);
    response
}
