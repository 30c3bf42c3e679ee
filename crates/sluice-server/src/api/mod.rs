//! The HTTP routes, one file per resource, and the router that puts them together.

pub mod api_keys;
pub mod connectors;
pub mod data;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod pipelines;
pub mod programs;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;

use crate::auth::{require_api_key, AuthMode};
use crate::error::ApiError;
use crate::AppState;

/// Every route over `state`: `/v0/...` (behind the API-key check when enabled) and the public
/// `/healthz`, `/config/authentication`, `/api-doc/openapi.json` and `/metrics`.
pub fn router(state: AppState) -> Router {
    let v0 = Router::new()
        .route(
            "/v0/connectors",
            get(connectors::list).post(connectors::create),
        )
        .route(
            "/v0/connectors/{name}",
            get(connectors::get_one)
                .put(connectors::create_or_replace)
                .patch(connectors::update)
                .delete(connectors::delete),
        )
        .route("/v0/programs", get(programs::list).post(programs::create))
        .route(
            "/v0/programs/{name}",
            get(programs::get_one)
                .put(programs::create_or_replace)
                .patch(programs::update)
                .delete(programs::delete),
        )
        .route("/v0/programs/{name}/compile", post(programs::compile))
        .route(
            "/v0/pipelines",
            get(pipelines::list).post(pipelines::create),
        )
        .route(
            "/v0/pipelines/{name}",
            get(pipelines::get_one)
                .put(pipelines::create_or_replace)
                .patch(pipelines::update)
                .delete(pipelines::delete),
        )
        .route("/v0/pipelines/{name}/stats", get(data::stats))
        .route("/v0/pipelines/{name}/ingress/{table}", post(data::ingress))
        .route(
            "/v0/pipelines/{name}/egress/{view}",
            post(data::egress).get(data::egress),
        )
        .route("/v0/pipelines/{name}/validate", get(pipelines::validate))
        .route("/v0/pipelines/{name}/{action}", post(pipelines::action))
        .route("/v0/api_keys", get(api_keys::list).post(api_keys::create))
        .route(
            "/v0/api_keys/{name}",
            get(api_keys::get_one).delete(api_keys::delete),
        );
    let public = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/config/authentication", get(health::authentication))
        .route("/api-doc/openapi.json", get(openapi::openapi_json))
        .route("/metrics", get(metrics::metrics));
    let mut app = v0
        .merge(public)
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed);
    if state.config().auth == AuthMode::ApiKey {
        // `layer`, not `route_layer`, and after the fallbacks: it also wraps the unknown-route and wrong-method
        // answers, so under /v0 they are 401 without a key. It lets paths outside /v0 through.
        app = app.layer(from_fn_with_state(state.clone(), require_api_key));
    }
    app.route_layer(from_fn_with_state(
        state.clone(),
        crate::metrics::count_requests,
    ))
    .layer(DefaultBodyLimit::max(state.max_body_bytes()))
    .with_state(state)
}

async fn unknown_route(uri: Uri) -> ApiError {
    ApiError::UnknownRoute {
        path: uri.path().to_string(),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

/// The status of a create-or-replace: 201 when it created, 200 when it replaced.
pub(crate) fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}
