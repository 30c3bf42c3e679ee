//! The OpenAPI document, generated from the handlers' annotations and the request/response types.

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use sluice_types::ErrorResponse;

use super::{
    api_keys, checkpoints, connectors, data, embedded, health, metrics, pipelines, programs, query,
};

/// The API description served at `/api-doc/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Sluice API", description = "Connectors, programs, pipelines and API keys (Feldera /v0 compatible). \
Every error is an `ErrorBody`. Besides the responses listed per operation, any path that is not listed is 404 \
`UnknownRoute`, and a listed path with a method it does not list is 405 `MethodNotAllowed`; with API-key auth on, \
both are 401 under `/v0` without a valid key."),
    paths(
        connectors::list, connectors::create, connectors::get_one, connectors::create_or_replace,
        connectors::update, connectors::delete,
        programs::list, programs::create, programs::get_one, programs::create_or_replace, programs::update,
        programs::compile, programs::delete,
        pipelines::list, pipelines::create, pipelines::get_one, pipelines::create_or_replace, pipelines::update,
        pipelines::delete, pipelines::action, pipelines::validate, data::stats, data::ingress, data::egress,
        data::egress_get, checkpoints::checkpoint, checkpoints::checkpoint_status, checkpoints::clear,
        data::completion_status, query::query, embedded::config, embedded::cluster_healthz,
        api_keys::list, api_keys::create, api_keys::get_one, api_keys::delete,
        health::healthz, health::authentication, metrics::metrics, openapi_json,
    ),
    components(schemas(ErrorResponse)),
    modifiers(&BearerAuth, &CommonErrors),
    security(("API key" = [])),
)]
pub struct ApiDoc;

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

/// The errors every operation of a kind can answer, added where the operation does not list them itself:
/// 401 on every `/v0` operation (the key check), 413 on every operation with a body (the body limit), and 415 on
/// every operation with a JSON body (the content type check).
struct CommonErrors;

impl CommonErrors {
    fn add(operation: &mut Operation, status: &str, description: &str) {
        let error = ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody"))))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert(RefOr::T(error));
    }
}

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if crate::http::auth::is_protected(path, false) {
                    Self::add(
                        operation,
                        "401",
                        "MissingCredentials, InvalidKey (only with --auth api-key)",
                    );
                }
                Self::add(
                    operation,
                    "403",
                    "InsufficientPermissions (a key without the scope, with --auth api-key); ForbiddenHost, \
                     ForbiddenOrigin (a browser request from another site, with --auth none)",
                );
                let Some(body) = &operation.request_body else {
                    continue;
                };
                let json = body.content.contains_key("application/json");
                let limit = if json {
                    "PayloadTooLarge (--max-body-bytes)"
                } else {
                    "PayloadTooLarge (--max-ingress-bytes)"
                };
                Self::add(operation, "413", limit);
                if json {
                    Self::add(
                        operation,
                        "415",
                        "UnsupportedMediaType: send Content-Type: application/json",
                    );
                }
            }
        }
    }
}

/// The OpenAPI document itself.
#[utoipa::path(get, path = "/api-doc/openapi.json", tag = "Health", security(()),
    responses((status = 200, body = Object, description = "This document")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
