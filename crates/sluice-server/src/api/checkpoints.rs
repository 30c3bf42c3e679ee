//! A durable pipeline's checkpoints and stored state: `POST /v0/pipelines/{name}/checkpoint` asks for one,
//! `GET .../checkpoint_status` says how requests ended (Feldera's shapes), and `POST .../clear` deletes the stored
//! state of a pipeline that is shut down, so that its next start begins from empty views.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use sluice_pipeline::{CheckpointStatus, PipelineError};
use sluice_types::ErrorResponse;
use utoipa::ToSchema;

use super::data::running;
use crate::http::error::ApiError;
use crate::http::extract::NamePath;
use crate::http::state::AppState;
use crate::model::status::PipelineStatus;
use crate::store::pipelines as db;

/// The answer to a checkpoint request.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointResponse {
    /// The request's number; `checkpoint_status` reports it once the checkpoint is committed or failed.
    pub checkpoint_sequence_number: u64,
}

fn pipeline_error(name: &str, e: PipelineError) -> ApiError {
    match e {
        PipelineError::NotDurable => ApiError::PipelineNotDurable {
            pipeline_name: name.to_string(),
        },
        PipelineError::Failed(error) => ApiError::PipelineFailed {
            pipeline_name: name.to_string(),
            error: error.to_string(),
        },
        other => ApiError::Internal(other.to_string()),
    }
}

/// Asks the running pipeline for a checkpoint; answers at once with the request's number. The checkpoint is
/// committed once every output connector acknowledged every change before it.
#[utoipa::path(post, path = "/v0/pipelines/{name}/checkpoint", tag = "Pipelines", operation_id = "checkpoint_pipeline",
    params(("name" = String, Path)),
    responses((status = 200, body = CheckpointResponse),
        (status = 400, body = ErrorResponse, description = "PipelineNotDurable, InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName, PipelineShutdown"),
        (status = 409, body = ErrorResponse, description = "PipelineFailed")))]
pub async fn checkpoint(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<Json<CheckpointResponse>, ApiError> {
    let live = running(&state, &name).await?.pipeline;
    let checkpoint_sequence_number = live.checkpoint().map_err(|e| pipeline_error(&name, e))?;
    Ok(Json(CheckpointResponse {
        checkpoint_sequence_number,
    }))
}

/// How checkpoint requests ended: the last one that succeeded and the last failure.
#[utoipa::path(get, path = "/v0/pipelines/{name}/checkpoint_status", tag = "Pipelines", operation_id = "get_checkpoint_status",
    params(("name" = String, Path)),
    responses((status = 200, body = sluice_pipeline::CheckpointStatus),
        (status = 400, body = ErrorResponse, description = "PipelineNotDurable, InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName, PipelineShutdown")))]
pub async fn checkpoint_status(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<Json<CheckpointStatus>, ApiError> {
    let live = super::data::instance(&state, &name).await?.pipeline;
    live.checkpoint_status()
        .map(Json)
        .map_err(|e| pipeline_error(&name, e))
}

/// Deletes the pipeline's stored state (checkpoints and input journal); only while it is shut down. Its next
/// start begins from empty views; what was journaled and not yet delivered is gone.
#[utoipa::path(post, path = "/v0/pipelines/{name}/clear", tag = "Pipelines", operation_id = "clear_pipeline_state",
    params(("name" = String, Path)),
    responses((status = 200, description = "The state is gone"),
        (status = 400, body = ErrorResponse, description = "IllegalPipelineStateTransition (not shut down), InvalidName"),
        (status = 404, body = ErrorResponse, description = "UnknownPipelineName")))]
pub async fn clear(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<StatusCode, ApiError> {
    let p = db::get(state.db(), &name).await?;
    let s = &p.state;
    let idle = s.current_status == PipelineStatus::Shutdown
        && s.desired_status == PipelineStatus::Shutdown
        && state.runner().get(&s.pipeline_id).is_none();
    if !idle {
        return Err(ApiError::IllegalPipelineStateTransition {
            pipeline_id: s.pipeline_id.clone(),
            error: "the state of a pipeline can be cleared only while it is shut down".into(),
            current_status: s.current_status.as_str().to_string(),
            desired_status: s.desired_status.as_str().to_string(),
            requested_status: None,
        });
    }
    state
        .runner()
        .clear_state(&s.pipeline_id)
        .map_err(ApiError::Internal)?;
    Ok(StatusCode::OK)
}
