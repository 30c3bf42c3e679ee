//! `/v0/pipelines`: pipelines (a program, a runtime config and attached connectors) and their lifecycle.
//!
//! Lifecycle requests set the desired status after the checks of [`crate::model::status`]. Deploying (leaving
//! `Shutdown`) also needs a compiled program whose schema has every attached relation. The request answers
//! `202 Accepted` once the desired status is stored; [`crate::runner::Runner`] then moves the current status
//! towards it in the background (`Provisioning` → `Running`, or `Failed` with the reason).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use sluice_types::ErrorResponse;

use crate::api::embedded;
use crate::http::error::ApiError;
use crate::http::extract::{parse_json, ApiJson, ApiQuery, NamePath};
use crate::http::state::AppState;
use crate::model::embedded::Selector;
use crate::model::names::validate_name;
use crate::model::pipelines::check_relations;
use crate::model::pipelines::{
    AttachedConnector, CreateOrReplacePipelineRequest, NewPipelineRequest, Pipeline,
    PipelineIdResponse, RuntimeConfig, UpdatePipelineRequest, UpdatePipelineResponse,
};
use crate::model::programs::ProgramStatus;
use crate::model::status::{check_delete, plan_action, PipelineAction, PipelineStatus};
use crate::model::ListFilter;
use crate::store::pipelines::{self as db, Fields};

/// Refuses config values the types accept but Sluice does not, naming the field.
fn check_config(config: Option<&RuntimeConfig>) -> Result<(), ApiError> {
    match config.map(RuntimeConfig::check) {
        Some(Err(e)) => Err(ApiError::InvalidPipelineConfig {
            field: e.field,
            reason: e.reason,
        }),
        _ => Ok(()),
    }
}

fn check_names(
    name: Option<&str>,
    connectors: Option<&[AttachedConnector]>,
) -> Result<(), ApiError> {
    if let Some(name) = name {
        validate_name(name)?;
    }
    for a in connectors.unwrap_or_default() {
        validate_name(&a.name)?;
    }
    Ok(())
}

/// Lists pipelines, or finds one by `id` or `name`.
#[utoipa::path(get, path = "/v0/pipelines", tag = "Pipelines", operation_id = "list_pipelines", params(PipelineListQuery),
    responses((status = 200, body = Vec<Pipeline>), (status = 400, body = ErrorResponse, description = "InvalidUuidParam, InvalidQuery"),
        (status = 404, body = ErrorResponse, description = "UnknownPipeline / UnknownPipelineName")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PipelineListQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let selector = SelectorQuery {
        selector: query.selector,
    }
    .selector()?;
    let filter = ListFilter {
        id: query.id,
        name: query.name,
    };
    let mut out = Vec::new();
    for p in db::list(state.db(), &filter).await? {
        out.push(match embedded::show(&state, &p, selector) {
            Some(flat) => flat,
            None => serde_json::to_value(&p).map_err(|e| ApiError::Internal(e.to_string()))?,
        });
    }
    Ok(Json(out))
}

/// Creates a pipeline.
#[utoipa::path(post, path = "/v0/pipelines", tag = "Pipelines", operation_id = "new_pipeline", request_body = NewPipelineRequest,
    responses((status = 201, body = PipelineIdResponse),
        (status = 400, body = ErrorResponse, description = "InvalidName, InvalidAttachedConnector, InvalidPipelineConfig, TablesNotInSchema, ViewsNotInSchema, body errors"),
        (status = 404, body = ErrorResponse, description = "UnknownProgramName, UnknownConnectorName"),
        (status = 409, body = ErrorResponse, description = "DuplicateName, ConcurrentModification (a referenced program or connector was deleted meanwhile; retry)")))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    if embedded::has_program_code(&body) {
        return embedded::write(&state, None, body).await;
    }
    let body: NewPipelineRequest = parse_value(&body)?;
    check_names(Some(&body.name), body.connectors.as_deref())?;
    check_config(Some(&body.config))?;
    let fields = Fields {
        name: None,
        description: Some(&body.description),
        program_name: Some(body.program_name.as_deref()),
        config: Some(&body.config),
        connectors: Some(body.connectors.as_deref().unwrap_or_default()),
        embedded: Some(None),
    };
    let pipeline_id = db::create(state.db(), &body.name, &fields).await?;
    Ok((
        StatusCode::CREATED,
        Json(PipelineIdResponse {
            pipeline_id,
            version: 1,
        }),
    )
        .into_response())
}

/// Returns one pipeline.
#[utoipa::path(get, path = "/v0/pipelines/{name}", tag = "Pipelines", operation_id = "get_pipeline", params(("name" = String, Path)),
    responses((status = 200, body = Pipeline), (status = 400, body = ErrorResponse, description = "InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName")))]
pub async fn get_one(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiQuery(query): ApiQuery<SelectorQuery>,
) -> Result<Response, ApiError> {
    let selector = query.selector()?;
    let p = db::get(state.db(), &name).await?;
    Ok(match embedded::show(&state, &p, selector) {
        Some(flat) => Json(flat).into_response(),
        None => Json(p).into_response(),
    })
}

/// `?selector=` of the pipeline reads: `all` (default) or `status`, for pipelines written with `program_code`
/// (the 2024 shape has no parts to leave out).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SelectorQuery {
    /// `all`, `status` or `status_with_connectors`.
    pub selector: Option<String>,
}

impl SelectorQuery {
    fn selector(&self) -> Result<Selector, ApiError> {
        Selector::parse(self.selector.as_deref())
            .map_err(|reason| ApiError::InvalidQuery { reason })
    }
}

/// `?id=`, `?name=` and `?selector=` of the pipeline list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PipelineListQuery {
    /// Only the pipeline with this id.
    pub id: Option<String>,
    /// Only the pipeline with this name.
    pub name: Option<String>,
    /// `all`, `status` or `status_with_connectors`.
    pub selector: Option<String>,
}

/// Creates the pipeline (201) or replaces it keeping its id and state (200).
#[utoipa::path(put, path = "/v0/pipelines/{name}", tag = "Pipelines", operation_id = "create_or_replace_pipeline", params(("name" = String, Path)),
    request_body = CreateOrReplacePipelineRequest,
    responses((status = 201, body = PipelineIdResponse, description = "Created"), (status = 200, body = PipelineIdResponse, description = "Replaced"),
        (status = 400, body = ErrorResponse, description = "InvalidName, InvalidAttachedConnector, InvalidPipelineConfig, TablesNotInSchema, ViewsNotInSchema, body errors"),
        (status = 404, body = ErrorResponse, description = "UnknownProgramName, UnknownConnectorName"),
        (status = 409, body = ErrorResponse, description = "ConcurrentModification (a referenced program or connector was deleted meanwhile; retry)")))]
pub async fn create_or_replace(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    if embedded::has_program_code(&body) {
        return embedded::write(&state, Some(&name), body).await;
    }
    let body: CreateOrReplacePipelineRequest = parse_value(&body)?;
    check_names(None, body.connectors.as_deref())?;
    check_config(Some(&body.config))?;
    let fields = Fields {
        name: None,
        description: Some(&body.description),
        program_name: Some(body.program_name.as_deref()),
        config: Some(&body.config),
        connectors: Some(body.connectors.as_deref().unwrap_or_default()),
        embedded: Some(None),
    };
    let (pipeline_id, version, created) = db::create_or_replace(state.db(), &name, &fields).await?;
    let status = crate::http::created_or_ok(created);
    Ok((
        status,
        Json(PipelineIdResponse {
            pipeline_id,
            version,
        }),
    )
        .into_response())
}

/// Changes the given fields.
#[utoipa::path(patch, path = "/v0/pipelines/{name}", tag = "Pipelines", operation_id = "update_pipeline", params(("name" = String, Path)),
    request_body = UpdatePipelineRequest,
    responses((status = 200, body = UpdatePipelineResponse), (status = 400, body = ErrorResponse, description = "InvalidName, InvalidAttachedConnector, InvalidPipelineConfig, TablesNotInSchema, ViewsNotInSchema, body errors"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName, UnknownProgramName, UnknownConnectorName"),
        (status = 409, body = ErrorResponse, description = "DuplicateName (rename clash), ConcurrentModification (retry)")))]
pub async fn update(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiJson(body): ApiJson<UpdatePipelineRequest>,
) -> Result<Json<UpdatePipelineResponse>, ApiError> {
    check_names(body.name.as_deref(), body.connectors.as_deref())?;
    check_config(body.config.as_ref())?;
    if db::get(state.db(), &name).await?.embedded.is_some() {
        return Err(ApiError::UnsupportedFeature {
            feature: "PATCH of a pipeline written with program_code".into(),
            reason: "write it whole again with PUT /v0/pipelines/{name} and its program_code"
                .into(),
        });
    }
    let fields = Fields {
        name: body.name.as_deref(),
        description: body.description.as_deref(),
        program_name: body.program_name.as_ref().map(|p| p.as_deref()),
        config: body.config.as_ref(),
        connectors: body.connectors.as_deref(),
        embedded: None,
    };
    let version = db::update(state.db(), &name, &fields).await?;
    Ok(Json(UpdatePipelineResponse { version }))
}

fn illegal(p: &Pipeline, error: &str, requested: Option<PipelineStatus>) -> ApiError {
    ApiError::IllegalPipelineStateTransition {
        pipeline_id: p.state.pipeline_id.clone(),
        error: error.to_string(),
        current_status: p.state.current_status.as_str().to_string(),
        desired_status: p.state.desired_status.as_str().to_string(),
        requested_status: requested.map(|s| s.as_str().to_string()),
    }
}

/// Deletes the pipeline, and its stored state (checkpoints, input journal); only when it is shut down.
#[utoipa::path(delete, path = "/v0/pipelines/{name}", tag = "Pipelines", operation_id = "delete_pipeline", params(("name" = String, Path)),
    responses((status = 200), (status = 400, body = ErrorResponse, description = "IllegalPipelineStateTransition, InvalidName"), (status = 404, body = ErrorResponse, description = "UnknownPipelineName")))]
pub async fn delete(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<StatusCode, ApiError> {
    let mut id = None;
    db::delete(state.db(), &name, |p| {
        id = Some(p.state.pipeline_id.clone());
        check_delete(p.state.current_status, p.state.desired_status)
            .map_err(|error| illegal(p, error, None))
    })
    .await?;
    if let Some(id) = id {
        // The pipeline is gone either way; state left behind only takes space, and is logged.
        if let Err(e) = state.runner().clear_state(&id) {
            tracing::error!(pipeline = %name, error = %e, "Could not delete the stored state of a deleted pipeline.");
        }
    }
    Ok(StatusCode::OK)
}

/// A request body already read as JSON, as `T` (with the field-naming errors of [`parse_json`]).
fn parse_value<T: serde::de::DeserializeOwned>(body: &Value) -> Result<T, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    parse_json(&bytes)
}

/// Checks that the pipeline can be deployed: a program that compiled, with every attached relation.
async fn check_deployable(state: &AppState, p: &Pipeline) -> Result<(), ApiError> {
    if let Some(e) = &p.embedded {
        return if e.compiled() {
            Ok(())
        } else {
            Err(ApiError::ProgramFailedToCompile)
        };
    }
    let program = db::program_of(state.db(), p)
        .await?
        .ok_or(ApiError::ProgramNotSet)?;
    match (&program.status, &program.schema) {
        (
            ProgramStatus::SqlError(_)
            | ProgramStatus::RustError(_)
            | ProgramStatus::SystemError(_),
            _,
        ) => Err(ApiError::ProgramFailedToCompile),
        (ProgramStatus::Success, Some(schema)) => {
            Ok(check_relations(schema, &p.descriptor.attached_connectors)?)
        }
        _ => Err(ApiError::ProgramNotCompiled),
    }
}

/// The query of a lifecycle request, as Feldera's clients send it: `start?initial=running|paused`; `stop?force=`
/// is accepted and either way stops gracefully (outputs flushed, a durable pipeline checkpointed); Feldera's
/// `dismiss_error=` and `bootstrap_policy=` are accepted and have no effect.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActionQuery {
    /// `start`: `running` (default) or `paused`.
    pub initial: Option<String>,
    /// `stop`: accepted; the stop is graceful either way.
    pub force: Option<String>,
}

/// `start`, `pause` or `shutdown`: records the desired status (202) when the lifecycle allows it; the runner then
/// moves the current status there in the background (see [`crate::runner`]).
#[utoipa::path(post, path = "/v0/pipelines/{name}/{action}", tag = "Pipelines", operation_id = "pipeline_action",
    params(("name" = String, Path), ("action" = String, Path, description = "start, pause or shutdown")),
    responses((status = 202), (status = 400, body = ErrorResponse, description = "InvalidPipelineAction, IllegalPipelineStateTransition, ProgramNotSet, ProgramFailedToCompile, TablesNotInSchema, ViewsNotInSchema, InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName"),
        (status = 503, body = ErrorResponse, description = "ProgramNotCompiled")))]
pub async fn action(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    Path((_, action)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<ActionQuery>,
) -> Result<StatusCode, ApiError> {
    if action == "dismiss_error" {
        embedded::dismiss_error(&state, &name).await?;
        return Ok(StatusCode::OK);
    }
    let mut action =
        PipelineAction::parse(&action).ok_or(ApiError::InvalidPipelineAction { action })?;
    if let Some(force) = query
        .force
        .as_deref()
        .filter(|f| !matches!(*f, "true" | "false"))
    {
        return Err(ApiError::InvalidQuery {
            reason: format!("force is true or false, not '{force}'"),
        });
    }
    if action == PipelineAction::Start {
        match query.initial.as_deref() {
            None | Some("running") => {}
            Some("paused") => action = PipelineAction::Pause,
            Some(other) => {
                return Err(ApiError::UnsupportedFeature {
                    feature: format!("start?initial={other}"),
                    reason:
                        "a pipeline starts running or paused (initial=running or initial=paused)"
                            .into(),
                })
            }
        }
    }
    let p = db::get(state.db(), &name).await?;
    let transition = plan_action(p.state.current_status, p.state.desired_status, action)
        .map_err(|error| illegal(&p, error, Some(action.desired())))?;
    if transition.deploys {
        check_deployable(&state, &p).await?;
    }
    db::set_desired(state.db(), &p.state.pipeline_id, transition.desired).await?;
    state.runner().spawn_reconcile(&p.state.pipeline_id);
    Ok(StatusCode::ACCEPTED)
}

/// Checks that the pipeline could be deployed now: its program compiled and has every attached relation.
#[utoipa::path(get, path = "/v0/pipelines/{name}/validate", tag = "Pipelines", operation_id = "pipeline_validate", params(("name" = String, Path)),
    responses((status = 200, body = String, description = "\"Pipeline successfully validated.\""),
        (status = 400, body = ErrorResponse, description = "ProgramNotSet, ProgramFailedToCompile, TablesNotInSchema, ViewsNotInSchema, InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName"), (status = 503, body = ErrorResponse, description = "ProgramNotCompiled")))]
pub async fn validate(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<Json<&'static str>, ApiError> {
    let p = db::get(state.db(), &name).await?;
    check_deployable(&state, &p).await?;
    Ok(Json("Pipeline successfully validated."))
}
