//! The OpenAPI document, generated from the handlers' annotations and the request/response types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{api_keys, connectors, data, health, metrics, pipelines, programs};

/// The API description served at `/api-doc/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Sluice API", description = "Connectors, programs, pipelines and API keys (Feldera /v0 compatible)."),
    paths(
        connectors::list, connectors::create, connectors::get_one, connectors::create_or_replace,
        connectors::update, connectors::delete,
        programs::list, programs::create, programs::get_one, programs::create_or_replace, programs::update,
        programs::compile, programs::delete,
        pipelines::list, pipelines::create, pipelines::get_one, pipelines::create_or_replace, pipelines::update,
        pipelines::delete, pipelines::action, pipelines::validate, data::stats, data::ingress, data::egress,
        api_keys::list, api_keys::create, api_keys::get_one, api_keys::delete,
        health::healthz, health::authentication, metrics::metrics,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    security(("API key" = [])),
)]
pub struct ApiDoc;

/// The error body of every failure: `{"message", "error_code", "details"}` (details always an object).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// Human-readable description.
    message: String,
    /// Stable machine-readable code, e.g. `UnknownConnectorName`.
    error_code: String,
    /// The error's fields, always an object.
    #[schema(value_type = Object)]
    details: (),
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "API key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("apikey:<key>")
                    .description(Some(
                        "Needed only when the server runs with --auth api-key.",
                    ))
                    .build(),
            ),
        );
    }
}

/// `GET /api-doc/openapi.json`.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
