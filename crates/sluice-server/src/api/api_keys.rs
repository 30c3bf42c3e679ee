//! `/v0/api_keys`: create (the key is shown once), list, read and delete API keys.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi::ErrorBody;
use crate::auth::create_api_key;
use crate::db::api_keys as db;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, NamePath};
use crate::AppState;

/// What a key allows: `Read` (GET requests and the egress stream), `Write` (every other request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ApiPermission {
    /// Read.
    Read,
    /// Write.
    Write,
}

/// A stored key (without the key).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyDescr {
    /// Its id (UUID v7).
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it allows.
    pub scopes: Vec<ApiPermission>,
}

/// Body of `POST /v0/api_keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKeyRequest {
    /// The key's name.
    pub name: String,
    /// What the key may do; both `Read` and `Write` when absent or empty. `["Read"]` makes a read-only key.
    #[serde(default)]
    pub scopes: Vec<ApiPermission>,
}

/// A key just created: the only time its text is shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewApiKey {
    /// Its id.
    pub api_key_id: String,
    /// Its name.
    pub name: String,
    /// The key, `apikey:...`; send it as `Authorization: Bearer apikey:...`.
    pub api_key: String,
}

/// `?name=` of the list endpoint.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiKeyQuery {
    /// Only the key with this name.
    pub name: Option<String>,
}

/// Lists keys, or finds one by name.
#[utoipa::path(get, path = "/v0/api_keys", tag = "API keys", operation_id = "list_api_keys", params(ApiKeyQuery),
    responses((status = 200, body = Vec<ApiKeyDescr>), (status = 400, body = ErrorBody, description = "InvalidQuery"),
        (status = 404, body = ErrorBody, description = "UnknownApiKey")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ApiKeyQuery>,
) -> Result<Json<Vec<ApiKeyDescr>>, ApiError> {
    Ok(Json(db::list(state.db(), q.name.as_deref()).await?))
}

/// Creates a key and shows it once.
#[utoipa::path(post, path = "/v0/api_keys", tag = "API keys", operation_id = "create_api_key", request_body = NewApiKeyRequest,
    responses((status = 201, body = NewApiKey), (status = 400, body = ErrorBody, description = "InvalidName, body errors"),
        (status = 409, body = ErrorBody, description = "DuplicateName")))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewApiKeyRequest>,
) -> Result<(StatusCode, Json<NewApiKey>), ApiError> {
    let key = create_api_key(state.db(), &body.name, &body.scopes).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Returns one key's description.
#[utoipa::path(get, path = "/v0/api_keys/{name}", tag = "API keys", operation_id = "get_api_key", params(("name" = String, Path)),
    responses((status = 200, body = ApiKeyDescr), (status = 400, body = ErrorBody, description = "InvalidName"),
        (status = 404, body = ErrorBody, description = "UnknownApiKey")))]
pub async fn get_one(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<Json<ApiKeyDescr>, ApiError> {
    let mut keys = db::list(state.db(), Some(&name)).await?;
    keys.pop().map(Json).ok_or(ApiError::UnknownApiKey { name })
}

/// Deletes a key; requests with it are refused from then on.
#[utoipa::path(delete, path = "/v0/api_keys/{name}", tag = "API keys", operation_id = "delete_api_key", params(("name" = String, Path)),
    responses((status = 200), (status = 400, body = ErrorBody, description = "InvalidName"), (status = 404, body = ErrorBody, description = "UnknownApiKey")))]
pub async fn delete(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<StatusCode, ApiError> {
    db::delete(state.db(), &name).await?;
    Ok(StatusCode::OK)
}
