//! `/v0/programs`: SQL programs with versions and a compilation status.
//!
//! A write that changes the code or the config bumps the version, resets the status to `Pending` and asks the
//! [`ProgramCompiler`](crate::compiler::ProgramCompiler) to compile it in the background. Without a compiler in
//! the build, the program stays `Pending` and `status_detail` says why.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiQuery, NamePath};
use crate::http::state::AppState;
use crate::model::names::validate_name;
use crate::model::programs::ProgramStatus;
use crate::model::programs::{
    CompileProgramRequest, CreateOrReplaceProgramRequest, NewProgramRequest, ProgramDescr,
    ProgramIdResponse, ProgramListQuery, UpdateProgramRequest, UpdateProgramResponse, WithCode,
};
use crate::model::ListFilter;
use crate::store::programs::{self as db, NewStatus, Patch, Written};
use sluice_types::ErrorResponse;

/// The status a new or changed program starts with.
fn new_status(state: &AppState) -> NewStatus {
    NewStatus {
        status: ProgramStatus::Pending,
        detail: state.compiler().available().err(),
    }
}

/// Compiles version `version` of program `id` in the background, when this build can compile.
fn schedule_compile(state: &AppState, id: String, version: i64) {
    if state.compiler().available().is_err() {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        let db = state.db().clone();
        let result = async {
            db::set_status(&db, &id, version, &ProgramStatus::CompilingSql, None).await?;
            let code = code_of(&db, &id).await?;
            let compiler = state.compiler().clone();
            let outcome = tokio::task::spawn_blocking(move || compiler.compile(&code))
                .await
                .map_err(|e| ApiError::Internal(format!("compiler task: {e}")))?;
            match outcome {
                Ok(schema) => {
                    db::set_status(&db, &id, version, &ProgramStatus::Success, Some(&schema))
                        .await?
                }
                Err(status) => db::set_status(&db, &id, version, &status, None).await?,
            }
            Ok::<(), ApiError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(program_id = %id, error = %e, "Compilation could not be recorded.");
        }
    });
}

async fn code_of(db: &crate::store::Db, id: &str) -> Result<String, ApiError> {
    let filter = ListFilter {
        id: Some(id.to_string()),
        name: None,
    };
    let program = db::list(db, &filter, true).await?.pop();
    Ok(program.and_then(|p| p.code).unwrap_or_default())
}

fn after_write(state: &AppState, written: &Written) {
    if written.changed {
        schedule_compile(state, written.id.clone(), written.version);
    }
}

/// Lists programs, or finds one by `id` or `name`.
#[utoipa::path(get, path = "/v0/programs", tag = "Programs", operation_id = "list_programs", params(ProgramListQuery),
    responses((status = 200, body = Vec<ProgramDescr>), (status = 400, body = ErrorResponse, description = "InvalidUuidParam, InvalidQuery"),
        (status = 404, body = ErrorResponse, description = "UnknownProgram / UnknownProgramName")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ProgramListQuery>,
) -> Result<Json<Vec<ProgramDescr>>, ApiError> {
    let filter = ListFilter {
        id: q.id,
        name: q.name,
    };
    Ok(Json(db::list(state.db(), &filter, q.with_code).await?))
}

/// Creates a program at version 1.
#[utoipa::path(post, path = "/v0/programs", tag = "Programs", operation_id = "new_program", request_body = NewProgramRequest,
    responses((status = 201, body = ProgramIdResponse), (status = 400, body = ErrorResponse, description = "InvalidName, body errors"),
        (status = 409, body = ErrorResponse, description = "DuplicateName")))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewProgramRequest>,
) -> Result<(StatusCode, Json<ProgramIdResponse>), ApiError> {
    validate_name(&body.name)?;
    let status = new_status(&state);
    let id = db::create(
        state.db(),
        &body.name,
        &body.description,
        &body.code,
        &body.config,
        &status,
    )
    .await?;
    schedule_compile(&state, id.clone(), 1);
    Ok((
        StatusCode::CREATED,
        Json(ProgramIdResponse {
            program_id: id,
            version: 1,
        }),
    ))
}

/// Returns one program.
#[utoipa::path(get, path = "/v0/programs/{name}", tag = "Programs", operation_id = "get_program", params(("name" = String, Path), WithCode),
    responses((status = 200, body = ProgramDescr), (status = 400, body = ErrorResponse, description = "InvalidName, InvalidQuery"),
        (status = 404, body = ErrorResponse, description = "UnknownProgramName")))]
pub async fn get_one(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiQuery(q): ApiQuery<WithCode>,
) -> Result<Json<ProgramDescr>, ApiError> {
    Ok(Json(db::get(state.db(), &name, q.with_code).await?))
}

/// Creates the program (201) or replaces it keeping its id (200).
#[utoipa::path(put, path = "/v0/programs/{name}", tag = "Programs", operation_id = "create_or_replace_program", params(("name" = String, Path)),
    request_body = CreateOrReplaceProgramRequest,
    responses((status = 201, body = ProgramIdResponse, description = "Created"), (status = 200, body = ProgramIdResponse, description = "Replaced"),
        (status = 400, body = ErrorResponse, description = "InvalidName, body errors")))]
pub async fn create_or_replace(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiJson(body): ApiJson<CreateOrReplaceProgramRequest>,
) -> Result<(StatusCode, Json<ProgramIdResponse>), ApiError> {
    let written = db::create_or_replace(
        state.db(),
        &name,
        &body.description,
        &body.code,
        &body.config,
        &new_status(&state),
    )
    .await?;
    after_write(&state, &written);
    let status = crate::http::created_or_ok(written.created);
    Ok((
        status,
        Json(ProgramIdResponse {
            program_id: written.id,
            version: written.version,
        }),
    ))
}

/// Changes the given fields.
#[utoipa::path(patch, path = "/v0/programs/{name}", tag = "Programs", operation_id = "update_program", params(("name" = String, Path)),
    request_body = UpdateProgramRequest,
    responses((status = 200, body = UpdateProgramResponse), (status = 400, body = ErrorResponse, description = "InvalidName, body errors"),
        (status = 404, body = ErrorResponse, description = "UnknownProgramName"),
        (status = 409, body = ErrorResponse, description = "OutdatedProgramVersion, DuplicateName")))]
pub async fn update(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiJson(body): ApiJson<UpdateProgramRequest>,
) -> Result<Json<UpdateProgramResponse>, ApiError> {
    if let Some(new_name) = &body.name {
        validate_name(new_name)?;
    }
    let patch = Patch {
        name: body.name.as_deref(),
        description: body.description.as_deref(),
        code: body.code.as_deref(),
        config: body.config.as_ref(),
        guard: body.guard,
    };
    let written = db::update(state.db(), &name, &patch, &new_status(&state)).await?;
    after_write(&state, &written);
    Ok(Json(UpdateProgramResponse {
        version: written.version,
    }))
}

/// Asks for the latest version to be compiled.
#[utoipa::path(post, path = "/v0/programs/{name}/compile", tag = "Programs", operation_id = "compile_program", params(("name" = String, Path)),
    request_body = CompileProgramRequest,
    responses((status = 202), (status = 400, body = ErrorResponse, description = "InvalidName, body errors"),
        (status = 404, body = ErrorResponse, description = "UnknownProgramName"), (status = 409, body = ErrorResponse, description = "OutdatedProgramVersion")))]
pub async fn compile(
    State(state): State<AppState>,
    NamePath(name): NamePath,
    ApiJson(body): ApiJson<CompileProgramRequest>,
) -> Result<StatusCode, ApiError> {
    let program = db::get(state.db(), &name, false).await?;
    if program.version != body.version {
        return Err(ApiError::OutdatedProgramVersion {
            latest_version: program.version,
        });
    }
    schedule_compile(&state, program.program_id, program.version);
    Ok(StatusCode::ACCEPTED)
}

/// Deletes the program, unless a pipeline uses it.
#[utoipa::path(delete, path = "/v0/programs/{name}", tag = "Programs", operation_id = "delete_program", params(("name" = String, Path)),
    responses((status = 200), (status = 400, body = ErrorResponse, description = "ProgramInUseByPipeline, InvalidName"), (status = 404, body = ErrorResponse, description = "UnknownProgramName")))]
pub async fn delete(
    State(state): State<AppState>,
    NamePath(name): NamePath,
) -> Result<StatusCode, ApiError> {
    db::delete(state.db(), &name).await?;
    Ok(StatusCode::OK)
}
