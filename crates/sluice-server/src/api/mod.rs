//! The HTTP routes, one file per resource, and the router that puts them together.

pub mod api_keys;
pub mod checkpoints;
pub mod connectors;
pub mod data;
pub mod embedded;
pub mod embedded_stats;
pub mod health;
mod ingress_body;
pub mod metrics;
pub mod openapi;
pub mod pipelines;
pub mod programs;
pub mod query;

use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{header, HeaderValue, Method, Uri};
use axum::middleware::{from_fn_with_state, map_request, map_response};
use axum::response::Response;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;

use crate::http::auth::AuthMode;
use crate::http::browser;
use crate::http::error::ApiError;
use crate::http::middleware::{browser_guard, count_requests, require_api_key};
use crate::http::state::AppState;

/// One method on one path the server answers.
pub struct Endpoint {
    /// The HTTP method.
    pub method: Method,
    /// The route template, as in the OpenAPI document (`/v0/connectors/{name}`).
    pub path: &'static str,
    handler: MethodRouter<AppState>,
}

fn endpoint<H, T>(method: Method, path: &'static str, handler: H) -> Endpoint
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
    Endpoint {
        method,
        path,
        handler: on(filter, handler),
    }
}

/// Every endpoint of the server: the one list [`router`] is built from, so a test can check that each of them is
/// in the OpenAPI document. `/v0/...` is behind the API-key check when enabled; `/healthz`,
/// `/config/authentication`, `/api-doc/openapi.json` and `/metrics` are public.
pub fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        endpoint(M::GET, "/v0/connectors", connectors::list),
        endpoint(M::POST, "/v0/connectors", connectors::create),
        endpoint(M::GET, "/v0/connectors/{name}", connectors::get_one),
        endpoint(
            M::PUT,
            "/v0/connectors/{name}",
            connectors::create_or_replace,
        ),
        endpoint(M::PATCH, "/v0/connectors/{name}", connectors::update),
        endpoint(M::DELETE, "/v0/connectors/{name}", connectors::delete),
        endpoint(M::GET, "/v0/programs", programs::list),
        endpoint(M::POST, "/v0/programs", programs::create),
        endpoint(M::GET, "/v0/programs/{name}", programs::get_one),
        endpoint(M::PUT, "/v0/programs/{name}", programs::create_or_replace),
        endpoint(M::PATCH, "/v0/programs/{name}", programs::update),
        endpoint(M::DELETE, "/v0/programs/{name}", programs::delete),
        endpoint(M::POST, "/v0/programs/{name}/compile", programs::compile),
        endpoint(M::GET, "/v0/pipelines", pipelines::list),
        endpoint(M::POST, "/v0/pipelines", pipelines::create),
        endpoint(M::GET, "/v0/pipelines/{name}", pipelines::get_one),
        endpoint(M::PUT, "/v0/pipelines/{name}", pipelines::create_or_replace),
        endpoint(M::PATCH, "/v0/pipelines/{name}", pipelines::update),
        endpoint(M::DELETE, "/v0/pipelines/{name}", pipelines::delete),
        endpoint(M::GET, "/v0/pipelines/{name}/stats", data::stats),
        endpoint(
            M::POST,
            "/v0/pipelines/{name}/ingress/{table}",
            data::ingress,
        ),
        endpoint(M::POST, "/v0/pipelines/{name}/egress/{view}", data::egress),
        endpoint(
            M::GET,
            "/v0/pipelines/{name}/egress/{view}",
            data::egress_get,
        ),
        endpoint(M::GET, "/v0/pipelines/{name}/validate", pipelines::validate),
        endpoint(
            M::POST,
            "/v0/pipelines/{name}/checkpoint",
            checkpoints::checkpoint,
        ),
        endpoint(
            M::GET,
            "/v0/pipelines/{name}/checkpoint_status",
            checkpoints::checkpoint_status,
        ),
        endpoint(M::POST, "/v0/pipelines/{name}/clear", checkpoints::clear),
        endpoint(
            M::GET,
            "/v0/pipelines/{name}/completion_status",
            data::completion_status,
        ),
        endpoint(M::GET, "/v0/pipelines/{name}/query", query::query),
        endpoint(M::GET, "/v0/config", embedded::config),
        endpoint(M::GET, "/v0/cluster_healthz", embedded::cluster_healthz),
        endpoint(M::POST, "/v0/pipelines/{name}/{action}", pipelines::action),
        endpoint(M::GET, "/v0/api_keys", api_keys::list),
        endpoint(M::POST, "/v0/api_keys", api_keys::create),
        endpoint(M::GET, "/v0/api_keys/{name}", api_keys::get_one),
        endpoint(M::DELETE, "/v0/api_keys/{name}", api_keys::delete),
        endpoint(M::GET, "/healthz", health::healthz),
        endpoint(M::GET, "/config/authentication", health::authentication),
        endpoint(M::GET, "/api-doc/openapi.json", openapi::openapi_json),
        endpoint(M::GET, "/metrics", metrics::metrics),
    ]
}

/// The method and path of every endpoint, in [`endpoints`] order.
pub fn route_table() -> Vec<(Method, &'static str)> {
    endpoints()
        .into_iter()
        .map(|e| (e.method, e.path))
        .collect()
}

/// Every route over `state`, from [`endpoints`], with JSON answers for unknown routes and wrong methods.
pub fn router(state: AppState) -> Router {
    let mut app = endpoints()
        .into_iter()
        .fold(Router::new(), |r, e| r.route(e.path, e.handler))
        // The web console: the page at `/` and its files, public like `/healthz` (it asks the user for a key and
        // sends it with each API request, like any client).
        .merge(sluice_console::router())
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed);
    // `layer`, not `route_layer`, and after the fallbacks: the checks also wrap the unknown-route and wrong-method
    // answers, so under /v0 they are 401 without a key.
    app = match state.config().auth {
        AuthMode::ApiKey => app.layer(from_fn_with_state(state.clone(), require_api_key)),
        AuthMode::None => app.layer(from_fn_with_state(state.clone(), browser_guard)),
    };
    let app = app
        .route_layer(from_fn_with_state(state.clone(), count_requests))
        .layer(DefaultBodyLimit::max(state.max_body_bytes()))
        .layer(map_response(no_cache_json));
    // Outermost, so that it answers preflight requests of the allowed origins before any check.
    let app = match browser::cors_layer(&state.config().browser) {
        Some(cors) => app.layer(cors),
        None => app,
    };
    // Outside everything, before routing: Feldera's Python client joins its base URL and the path without
    // normalising, so a base URL with a trailing slash asks for `//v0/...`.
    Router::new()
        .fallback_service(app.with_state(state))
        .layer(map_request(collapse_leading_slashes))
}

/// `//v0/x` → `/v0/x` (the query kept).
async fn collapse_leading_slashes(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.starts_with("//") {
        let path = format!("/{}", path.trim_start_matches('/'));
        let target = match request.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        if let Ok(uri) = target.parse::<Uri>() {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// `Cache-Control: no-cache` on every JSON answer (errors and the egress stream included), as Feldera sent on its
/// JSON responses: the state of connectors and pipelines changes, and a cache must ask again.
async fn no_cache_json(mut response: Response) -> Response {
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            let essence = ct.split(';').next().unwrap_or("").trim();
            essence == "application/json"
                || essence == "application/x-ndjson"
                || essence.ends_with("+json")
        })
        .unwrap_or(false);
    if json && !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
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
