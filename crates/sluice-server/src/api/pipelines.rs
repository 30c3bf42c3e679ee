//! `/v0/pipelines`: pipelines (a program, a runtime config and attached connectors) and their lifecycle.
//!
//! Lifecycle requests set the desired status after the checks of [`crate::pipeline_state`]. Deploying (leaving
//! `Shutdown`) also needs a compiled program whose schema has every attached relation. The request answers
//! `202 Accepted` once the desired status is stored; [`crate::runner::Runner`] then moves the current status
//! towards it in the background (`Provisioning` → `Running`, or `Failed` with the reason).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sluice_types::ErrorResponse;
use utoipa::ToSchema;

use super::openapi::ErrorBody;
use crate::compiler::ProgramStatus;
use crate::db::pipelines::{self as db, check_relations, Fields};
use crate::db::ListFilter;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, NamePath};
use crate::names::validate_name;
use crate::pipeline_state::{check_delete, plan_action, PipelineAction, PipelineStatus};
use crate::AppState;

/// A connector attached to a pipeline, feeding a table (`is_input`) or fed by a view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachedConnector {
    /// Unique within the pipeline; the endpoint name at run time.
    pub name: String,
    /// True for an input (table), false for an output (view).
    pub is_input: bool,
    /// The connector's name.
    pub connector_name: String,
    /// The table or view; unquoted names are case-insensitive, double-quoted ones exact.
    pub relation_name: String,
}

/// How a pipeline runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Worker threads. Default 8.
    pub workers: u16,
    /// Whether to use disk storage for state. Default false.
    pub storage: bool,
    /// Whether to collect CPU profiles. Default true.
    pub cpu_profiler: bool,
    /// Whether to send traces. Default false.
    pub tracing: bool,
    /// Jaeger agent address for traces.
    pub tracing_endpoint_jaeger: String,
    /// Wait for at least this many input records before a step. Default 0.
    pub min_batch_size_records: u64,
    /// Longest wait for `min_batch_size_records`, in microseconds. Default 0.
    pub max_buffering_delay_usecs: u64,
    /// Resource requests and limits (free form, passed to the runtime).
    #[schema(value_type = Object)]
    pub resources: Value,
    /// Smallest state worth storing on disk, in bytes; `null` for the runtime default.
    pub min_storage_bytes: Option<u64>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        // Feldera's defaults, so configs written for it behave alike.
        RuntimeConfig {
            workers: 8,
            storage: false,
            cpu_profiler: true,
            tracing: false,
            tracing_endpoint_jaeger: "127.0.0.1:6831".into(),
            min_batch_size_records: 0,
            max_buffering_delay_usecs: 0,
            resources: Value::Object(Default::default()),
            min_storage_bytes: None,
        }
    }
}

/// What a pipeline is.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineDescr {
    /// Its id (UUID v7).
    pub pipeline_id: String,
    /// Its program, if any.
    pub program_name: Option<String>,
    /// Starts at 1; grows with every write.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// How it runs.
    pub config: RuntimeConfig,
    /// Its connectors, in the order given.
    pub attached_connectors: Vec<AttachedConnector>,
}

/// Where a pipeline is in its lifecycle.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineRuntimeState {
    /// Its id.
    pub pipeline_id: String,
    /// Where its process listens (empty when not deployed).
    pub location: String,
    /// What the client asked for.
    pub desired_status: PipelineStatus,
    /// What it is.
    pub current_status: PipelineStatus,
    /// When `current_status` last changed (RFC 3339).
    pub status_since: String,
    /// Why it failed, when it did.
    #[schema(value_type = Option<Object>)]
    pub error: Option<ErrorResponse>,
    /// When it was created (RFC 3339).
    pub created: String,
}

/// A pipeline: what it is and where it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pipeline {
    /// What it is.
    pub descriptor: PipelineDescr,
    /// Where it is.
    pub state: PipelineRuntimeState,
}

/// Body of `POST /v0/pipelines`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPipelineRequest {
    /// The name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The program to run.
    #[serde(default)]
    pub program_name: Option<String>,
    /// How it runs (defaults when absent).
    #[serde(default)]
    pub config: RuntimeConfig,
    /// Connectors to attach.
    #[serde(default)]
    pub connectors: Option<Vec<AttachedConnector>>,
}

/// Body of `PUT /v0/pipelines/{name}`: a full replacement (absent program and connectors mean none).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrReplacePipelineRequest {
    /// Free text.
    pub description: String,
    /// The program to run.
    #[serde(default)]
    pub program_name: Option<String>,
    /// How it runs (defaults when absent).
    #[serde(default)]
    pub config: RuntimeConfig,
    /// Connectors to attach.
    #[serde(default)]
    pub connectors: Option<Vec<AttachedConnector>>,
}

/// Body of `PATCH /v0/pipelines/{name}`: absent fields stay as they are; `"program_name": null` detaches.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePipelineRequest {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new program, or `null` for none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub program_name: Option<Option<String>>,
    /// A new runtime config.
    pub config: Option<RuntimeConfig>,
    /// A new list of connectors, replacing all.
    pub connectors: Option<Vec<AttachedConnector>>,
}

/// Tells a present `null` (`Some(None)`) from an absent field (`None`, through `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Answer of a create or replace.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PipelineIdResponse {
    /// The pipeline's id.
    pub pipeline_id: String,
    /// Its version.
    pub version: i64,
}

/// Answer of a patch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdatePipelineResponse {
    /// The version after the change.
    pub version: i64,
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
#[utoipa::path(get, path = "/v0/pipelines", tag = "Pipelines", operation_id = "list_pipelines", params(ListFilter),
    responses((status = 200, body = Vec<Pipeline>), (status = 400, body = ErrorBody, description = "InvalidUuidParam, InvalidQuery"),
        (status = 404, body = ErrorBody, description = "UnknownPipeline / UnknownPipelineName")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<ListFilter>,
) -> Result<Json<Vec<Pipeline>>, ApiError> {
    Ok(Json(db::list(state.db(), &filter).await?))
}

/// Creates a pipeline.
#[utoipa::path(post, path = "/v0/pipelines", tag = "Pipelines", operation_id = "new_pipeline", request_body = NewPipelineRequest,
    responses((status = 201, body = PipelineIdResponse),
        (status = 400, body = ErrorBody, description = "InvalidName, InvalidAttachedConnector, TablesNotInSchema, ViewsNotInSchema, body errors"),
        (status = 404, body = ErrorBody, description = "UnknownProgramName, UnknownConnectorName"),
        (status = 409, body = ErrorBody, description = "DuplicateName, ConcurrentModification (a referenced program or connector was deleted meanwhile; retry)")))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewPipelineRequest>,
) -> Result<(StatusCode, Json<PipelineIdResponse>), ApiError> {
    check_names(Some(&body.name), body.connectors.as_deref())?;
    let fields = Fields {
        name: None,
        description: Some(&body.description),
        program_name: Some(body.program_name.as_deref()),
        config: Some(&body.config),
        connectors: Some(body.connectors.as_deref().unwrap_or_default()),
    };
    let pipeline_id = db::create(state.db(), &body.name, &fields).await?;
    Ok((
        StatusCode::CREATED,
        Json(PipelineIdResponse {
            pipeline_id,
            version: 1,
        }),
    ))
}

/// Returns one pipeline.
#[utoipa::path(get, path = "/v0/pipelines/{name}", tag = "Pipelines", operation_id = "get_pipeline", params(("name" = String, Path)),
    responses((status = 200, body = Pipeline), (status = 400, body = ErrorBody, description = "InvalidName"),
        (status = 404, body = ErrorBody, description = "UnknownPipelineName")))]
pub async fn get_one(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<Json<Pipeline>, ApiError> {
    Ok(Json(db::get(state.db(), &name).await?))
}

/// Creates the pipeline (201) or replaces it keeping its id and state (200).
#[utoipa::path(put, path = "/v0/pipelines/{name}", tag = "Pipelines", operation_id = "create_or_replace_pipeline", params(("name" = String, Path)),
    request_body = CreateOrReplacePipelineRequest,
    responses((status = 201, body = PipelineIdResponse, description = "Created"), (status = 200, body = PipelineIdResponse, description = "Replaced"),
        (status = 400, body = ErrorBody, description = "InvalidName, InvalidAttachedConnector, TablesNotInSchema, ViewsNotInSchema, body errors"),
        (status = 404, body = ErrorBody, description = "UnknownProgramName, UnknownConnectorName"),
        (status = 409, body = ErrorBody, description = "ConcurrentModification (a referenced program or connector was deleted meanwhile; retry)")))]
pub async fn create_or_replace(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiJson(body): ApiJson<CreateOrReplacePipelineRequest>,
) -> Result<(StatusCode, Json<PipelineIdResponse>), ApiError> {
    check_names(None, body.connectors.as_deref())?;
    let fields = Fields {
        name: None,
        description: Some(&body.description),
        program_name: Some(body.program_name.as_deref()),
        config: Some(&body.config),
        connectors: Some(body.connectors.as_deref().unwrap_or_default()),
    };
    let (pipeline_id, version, created) = db::create_or_replace(state.db(), &name, &fields).await?;
    let status = super::created_or_ok(created);
    Ok((
        status,
        Json(PipelineIdResponse {
            pipeline_id,
            version,
        }),
    ))
}

/// Changes the given fields.
#[utoipa::path(patch, path = "/v0/pipelines/{name}", tag = "Pipelines", operation_id = "update_pipeline", params(("name" = String, Path)),
    request_body = UpdatePipelineRequest,
    responses((status = 200, body = UpdatePipelineResponse), (status = 400, body = ErrorBody, description = "InvalidName, InvalidAttachedConnector, TablesNotInSchema, ViewsNotInSchema, body errors"),
        (status = 404, body = ErrorBody, description = "UnknownPipelineName, UnknownProgramName, UnknownConnectorName"),
        (status = 409, body = ErrorBody, description = "DuplicateName (rename clash), ConcurrentModification (retry)")))]
pub async fn update(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiJson(body): ApiJson<UpdatePipelineRequest>,
) -> Result<Json<UpdatePipelineResponse>, ApiError> {
    check_names(body.name.as_deref(), body.connectors.as_deref())?;
    let fields = Fields {
        name: body.name.as_deref(),
        description: body.description.as_deref(),
        program_name: body.program_name.as_ref().map(|p| p.as_deref()),
        config: body.config.as_ref(),
        connectors: body.connectors.as_deref(),
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

/// Deletes the pipeline; only when it is shut down.
#[utoipa::path(delete, path = "/v0/pipelines/{name}", tag = "Pipelines", operation_id = "delete_pipeline", params(("name" = String, Path)),
    responses((status = 200), (status = 400, body = ErrorBody, description = "IllegalPipelineStateTransition, InvalidName"), (status = 404, body = ErrorBody, description = "UnknownPipelineName")))]
pub async fn delete(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<StatusCode, ApiError> {
    db::delete(state.db(), &name, |p| {
        check_delete(p.state.current_status, p.state.desired_status)
            .map_err(|error| illegal(p, error, None))
    })
    .await?;
    Ok(StatusCode::OK)
}

/// Checks that the pipeline can be deployed: a program that compiled, with every attached relation.
async fn check_deployable(state: &AppState, p: &Pipeline) -> Result<(), ApiError> {
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
            check_relations(schema, &p.descriptor.attached_connectors)
        }
        _ => Err(ApiError::ProgramNotCompiled),
    }
}

/// `start`, `pause` or `shutdown`: records the desired status (202) when the lifecycle allows it; the runner then
/// moves the current status there in the background (see [`crate::runner`]).
#[utoipa::path(post, path = "/v0/pipelines/{name}/{action}", tag = "Pipelines", operation_id = "pipeline_action",
    params(("name" = String, Path), ("action" = String, Path, description = "start, pause or shutdown")),
    responses((status = 202), (status = 400, body = ErrorBody, description = "InvalidPipelineAction, IllegalPipelineStateTransition, ProgramNotSet, ProgramFailedToCompile, TablesNotInSchema, ViewsNotInSchema, InvalidName"),
        (status = 404, body = ErrorBody, description = "UnknownPipelineName"),
        (status = 503, body = ErrorBody, description = "ProgramNotCompiled")))]
pub async fn action(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    Path((_, action)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let action =
        PipelineAction::parse(&action).ok_or(ApiError::InvalidPipelineAction { action })?;
    let p = db::get(state.db(), &name).await?;
    let transition = plan_action(p.state.current_status, p.state.desired_status, action)
        .map_err(|error| illegal(&p, error, Some(action.desired())))?;
    if transition.deploys {
        check_deployable(&state, &p).await?;
    }
    db::set_desired(state.db(), &p.state.pipeline_id, transition.desired).await?;
    crate::runner::Runner::spawn_reconcile(&state, &p.state.pipeline_id);
    Ok(StatusCode::ACCEPTED)
}

/// Checks that the pipeline could be deployed now: its program compiled and has every attached relation.
#[utoipa::path(get, path = "/v0/pipelines/{name}/validate", tag = "Pipelines", operation_id = "pipeline_validate", params(("name" = String, Path)),
    responses((status = 200, body = String, description = "\"Pipeline successfully validated.\""),
        (status = 400, body = ErrorBody, description = "ProgramNotSet, ProgramFailedToCompile, TablesNotInSchema, ViewsNotInSchema, InvalidName"),
        (status = 404, body = ErrorBody, description = "UnknownPipelineName"), (status = 503, body = ErrorBody, description = "ProgramNotCompiled")))]
pub async fn validate(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<Json<&'static str>, ApiError> {
    let p = db::get(state.db(), &name).await?;
    check_deployable(&state, &p).await?;
    Ok(Json("Pipeline successfully validated."))
}
