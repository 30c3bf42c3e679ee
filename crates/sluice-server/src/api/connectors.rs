//! `/v0/connectors`: create, read, replace, patch and delete connectors by name.
//!
//! Every config is checked by [`crate::validate::check_new_config`] before anything is stored, and stored normalized (all
//! defaults filled in), which is what GET returns, except that secret option values are stored sealed and shown as
//! `********` ([`crate::secrets`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiQuery, NamePath};
use crate::http::state::AppState;
use crate::model::connectors::{
    ConnectorDescr, ConnectorIdResponse, CreateOrReplaceConnectorRequest, NewConnectorRequest,
    UpdateConnectorRequest, UpdateConnectorResponse,
};
use crate::model::names::validate_name;
use crate::model::ListFilter;
use crate::secrets::redact_text;
use crate::store::connectors as db;
use crate::store::StoreError;
use crate::validate::check_new_config;
use sluice_types::ErrorResponse;

/// Validates `config` and returns the text to store: normalized, with written-out secrets sealed.
///
/// `existing` names the connector a PUT or PATCH replaces: a secret option sent as the mask keeps its value
/// (see [`crate::secrets`]). Validation runs on a copy with the references that can be resolved now resolved.
async fn stored_form(
    state: &AppState,
    mut config: Value,
    existing: Option<&str>,
) -> Result<String, ApiError> {
    let secrets = &state.config().secrets;
    let stored = match existing {
        Some(name) => match db::get(state.db(), name).await {
            Ok(c) => Some(
                serde_json::from_str::<Value>(c.config.get())
                    .map_err(|e| ApiError::Internal(format!("corrupt connector config: {e}")))?,
            ),
            Err(StoreError::UnknownName { .. }) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    secrets.unmask(&mut config, stored.as_ref())?;
    let parsed = check_new_config(secrets, &config, &state.config().file_output_dir)?;
    let mut normalized = serde_json::to_value(parsed)
        .map_err(|e| ApiError::Internal(format!("config encoding: {e}")))?;
    secrets.seal(&mut normalized);
    Ok(normalized.to_string())
}

/// `descr` as the API shows it: secret values masked.
fn shown(mut descr: ConnectorDescr) -> Result<ConnectorDescr, ApiError> {
    let text = redact_text(descr.config.get())?;
    descr.config = RawValue::from_string(text)
        .map_err(|e| ApiError::Internal(format!("config encoding: {e}")))?;
    Ok(descr)
}

/// Lists connectors, or finds one by `id` or `name`.
#[utoipa::path(get, path = "/v0/connectors", tag = "Connectors", operation_id = "list_connectors", params(ListFilter),
    responses((status = 200, body = Vec<ConnectorDescr>), (status = 400, body = ErrorResponse, description = "InvalidUuidParam, InvalidQuery"),
        (status = 404, body = ErrorResponse, description = "UnknownConnector / UnknownConnectorName")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<ListFilter>,
) -> Result<Json<Vec<ConnectorDescr>>, ApiError> {
    let listed = db::list(state.db(), &filter).await?;
    Ok(Json(
        listed.into_iter().map(shown).collect::<Result<_, _>>()?,
    ))
}

/// Creates a connector.
#[utoipa::path(post, path = "/v0/connectors", tag = "Connectors", operation_id = "new_connector", request_body = NewConnectorRequest,
    responses((status = 201, body = ConnectorIdResponse), (status = 400, body = ErrorResponse, description = "InvalidConnectorConfig, InvalidConnectorTransport, InvalidName, body errors"),
        (status = 409, body = ErrorResponse, description = "DuplicateName")))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewConnectorRequest>,
) -> Result<(StatusCode, Json<ConnectorIdResponse>), ApiError> {
    validate_name(&body.name)?;
    let config = stored_form(&state, body.config, None).await?;
    let connector_id = db::create(state.db(), &body.name, &body.description, &config).await?;
    Ok((
        StatusCode::CREATED,
        Json(ConnectorIdResponse { connector_id }),
    ))
}

/// Returns one connector.
#[utoipa::path(get, path = "/v0/connectors/{name}", tag = "Connectors", operation_id = "get_connector", params(("name" = String, Path)),
    responses((status = 200, body = ConnectorDescr), (status = 400, body = ErrorResponse, description = "InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownConnectorName")))]
pub async fn get_one(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<Json<ConnectorDescr>, ApiError> {
    Ok(Json(shown(db::get(state.db(), &name).await?)?))
}

/// Creates the connector (201) or replaces it keeping its id (200).
#[utoipa::path(put, path = "/v0/connectors/{name}", tag = "Connectors", operation_id = "create_or_replace_connector", params(("name" = String, Path)),
    request_body = CreateOrReplaceConnectorRequest,
    responses((status = 201, body = ConnectorIdResponse, description = "Created"), (status = 200, body = ConnectorIdResponse, description = "Replaced"),
        (status = 400, body = ErrorResponse, description = "InvalidConnectorConfig, InvalidConnectorTransport, InvalidName, body errors")))]
pub async fn create_or_replace(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiJson(body): ApiJson<CreateOrReplaceConnectorRequest>,
) -> Result<(StatusCode, Json<ConnectorIdResponse>), ApiError> {
    let config = stored_form(&state, body.config, Some(&name)).await?;
    let (connector_id, created) =
        db::create_or_replace(state.db(), &name, &body.description, &config).await?;
    let status = crate::http::created_or_ok(created);
    Ok((status, Json(ConnectorIdResponse { connector_id })))
}

/// Changes the given fields (a `name` renames).
#[utoipa::path(patch, path = "/v0/connectors/{name}", tag = "Connectors", operation_id = "update_connector", params(("name" = String, Path)),
    request_body = UpdateConnectorRequest,
    responses((status = 200, body = UpdateConnectorResponse), (status = 404, body = ErrorResponse, description = "UnknownConnectorName"),
        (status = 409, body = ErrorResponse, description = "DuplicateName (rename clash)"),
        (status = 400, body = ErrorResponse, description = "InvalidConnectorConfig, InvalidConnectorTransport, InvalidName, body errors")))]
pub async fn update(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiJson(body): ApiJson<UpdateConnectorRequest>,
) -> Result<Json<UpdateConnectorResponse>, ApiError> {
    if let Some(new_name) = &body.name {
        validate_name(new_name)?;
    }
    let config = match body.config {
        Some(config) => Some(stored_form(&state, config, Some(&name)).await?),
        None => None,
    };
    db::update(
        state.db(),
        &name,
        body.name.as_deref(),
        body.description.as_deref(),
        config.as_deref(),
    )
    .await?;
    Ok(Json(UpdateConnectorResponse {}))
}

/// Deletes the connector and detaches it from every pipeline.
#[utoipa::path(delete, path = "/v0/connectors/{name}", tag = "Connectors", operation_id = "delete_connector", params(("name" = String, Path)),
    responses((status = 200), (status = 400, body = ErrorResponse, description = "InvalidName"), (status = 404, body = ErrorResponse, description = "UnknownConnectorName")))]
pub async fn delete(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<StatusCode, ApiError> {
    db::delete(state.db(), &name).await?;
    Ok(StatusCode::OK)
}
