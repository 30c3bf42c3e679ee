//! `/v0/api_keys`: create (the key is shown once), list, read and delete API keys.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiQuery, NamePath};
use crate::http::state::AppState;
use crate::model::api_keys::{ApiKeyDescr, ApiKeyQuery, NewApiKey, NewApiKeyRequest};
use crate::store::api_keys as db;
use crate::store::api_keys::create_api_key;
use sluice_types::ErrorResponse;

/// Lists keys, or finds one by name.
#[utoipa::path(get, path = "/v0/api_keys", tag = "API keys", operation_id = "list_api_keys", params(ApiKeyQuery),
    responses((status = 200, body = Vec<ApiKeyDescr>), (status = 400, body = ErrorResponse, description = "InvalidQuery"),
        (status = 404, body = ErrorResponse, description = "UnknownApiKey")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ApiKeyQuery>,
) -> Result<Json<Vec<ApiKeyDescr>>, ApiError> {
    Ok(Json(db::list(state.db(), q.name.as_deref()).await?))
}

/// Creates a key and shows it once.
#[utoipa::path(post, path = "/v0/api_keys", tag = "API keys", operation_id = "create_api_key", request_body = NewApiKeyRequest,
    responses((status = 201, body = NewApiKey), (status = 400, body = ErrorResponse, description = "InvalidName, body errors"),
        (status = 409, body = ErrorResponse, description = "DuplicateName")))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewApiKeyRequest>,
) -> Result<(StatusCode, Json<NewApiKey>), ApiError> {
    let key = create_api_key(state.db(), &body.name, &body.scopes).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Returns one key's description.
#[utoipa::path(get, path = "/v0/api_keys/{name}", tag = "API keys", operation_id = "get_api_key", params(("name" = String, Path)),
    responses((status = 200, body = ApiKeyDescr), (status = 400, body = ErrorResponse, description = "InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownApiKey")))]
pub async fn get_one(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<Json<ApiKeyDescr>, ApiError> {
    let mut keys = db::list(state.db(), Some(&name)).await?;
    keys.pop().map(Json).ok_or(ApiError::UnknownApiKey { name })
}

/// Deletes a key; requests with it are refused from then on.
#[utoipa::path(delete, path = "/v0/api_keys/{name}", tag = "API keys", operation_id = "delete_api_key", params(("name" = String, Path)),
    responses((status = 200), (status = 400, body = ErrorResponse, description = "InvalidName"), (status = 404, body = ErrorResponse, description = "UnknownApiKey")))]
pub async fn delete(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<StatusCode, ApiError> {
    db::delete(state.db(), &name).await?;
    Ok(StatusCode::OK)
}
