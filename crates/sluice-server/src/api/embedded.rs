//! Feldera's current API on the same `/v0` paths: pipelines written with `program_code`, `GET /v0/config`,
//! `GET /v0/cluster_healthz` and `dismiss_error`.
//!
//! Which API a request speaks is read from what it sends: a pipeline body with `program_code` is the current API,
//! one without is the 2024 API. A pipeline is then shown in the shape of the API that last wrote it
//! ([`crate::model::embedded`]), so each generation's clients read the shapes they know from one server.
//!
//! The program is compiled while the request waits (the SQL is planned in-process in milliseconds), so the
//! answer already carries `program_status` `Success` or `SqlError`: a client never sees the previous program's
//! status after a write.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::declared::{connector_map, declared_connectors, Refused};
use crate::http::error::ApiError;
use crate::http::extract::parse_json;
use crate::http::state::AppState;
use crate::model::embedded::{
    flat_pipeline, program_error, relation_schema, runtime_settings, system_error,
    EmbeddedPipelineRequest, EmbeddedProgram, Selector, FELDERA_VERSION,
};
use crate::model::names::validate_name;
use crate::model::pipelines::Pipeline;
use crate::model::programs::ProgramStatus;
use crate::model::status::PipelineStatus;
use crate::store::pipelines::{self as db, Fields};
use crate::store::{now, StoreError};

/// Whether a pipeline body speaks the current API: it carries `program_code`.
pub fn has_program_code(body: &Value) -> bool {
    body.get("program_code").is_some()
}

/// `PUT /v0/pipelines/{name}` (`create = false`) or `POST /v0/pipelines` (`create = true`) with `program_code`:
/// compiles the program, checks its connectors and stores the pipeline; answers with the pipeline (201 when
/// created). A program that does not compile is stored with `program_status: "SqlError"` and its messages, as
/// Feldera does; a bad `runtime_config` or a deployed pipeline is refused.
pub async fn write(
    state: &AppState,
    path_name: Option<&str>,
    body: Value,
) -> Result<Response, ApiError> {
    let text = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let request: EmbeddedPipelineRequest = parse_json(&text)?;
    let name = match (path_name, request.name.as_deref()) {
        (Some(path), Some(body)) if path != body => {
            return Err(ApiError::body(
                crate::http::error::BodyErrorCode::InvalidValue,
                "name",
                format!("the body names pipeline '{body}' but the path names '{path}'"),
            ))
        }
        (Some(path), _) => path.to_string(),
        (None, Some(body)) => body.to_string(),
        (None, None) => {
            return Err(ApiError::body(
                crate::http::error::BodyErrorCode::MissingField,
                "name",
                "missing field `name`",
            ))
        }
    };
    validate_name(&name)?;
    for (field, value) in [
        ("udf_rust", &request.udf_rust),
        ("udf_toml", &request.udf_toml),
    ] {
        if !value.trim().is_empty() {
            return Err(ApiError::UnsupportedFeature {
                feature: format!("{field} (Rust user-defined functions)"),
                reason: "Sluice plans SQL in-process and compiles no Rust; leave it empty".into(),
            });
        }
    }
    let settings =
        runtime_settings(&request.runtime_config).map_err(|e| ApiError::InvalidPipelineConfig {
            field: e.field,
            reason: e.reason,
        })?;
    let existing = match db::get(state.db(), &name).await {
        Ok(p) => Some(p),
        Err(StoreError::UnknownName { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(p) = &existing {
        let s = &p.state;
        if path_name.is_none() {
            return Err(ApiError::DuplicateName);
        }
        let stopped = matches!(
            s.current_status,
            PipelineStatus::Shutdown | PipelineStatus::Failed
        ) && s.desired_status == PipelineStatus::Shutdown
            || s.current_status == PipelineStatus::Failed;
        if !stopped || state.runner().get(&s.pipeline_id).is_some() {
            return Err(ApiError::CannotUpdateNonShutdownPipeline {
                pipeline_name: name.clone(),
                current_status: s.current_status.as_str().to_string(),
            });
        }
    }
    let previous = existing.as_ref().and_then(|p| p.embedded.as_ref());
    let program = compile(state, &request, previous).await?;
    let fields = Fields {
        name: None,
        description: Some(&request.description),
        program_name: Some(None),
        config: Some(&settings),
        connectors: Some(&[]),
        embedded: Some(Some(&program)),
    };
    let (_, _, created) = db::create_or_replace(state.db(), &name, &fields).await?;
    let p = db::get(state.db(), &name).await?;
    let shown = show(state, &p, Selector::All).unwrap_or(Value::Null);
    Ok((crate::http::created_or_ok(created), Json(shown)).into_response())
}

/// Compiles the request's program and checks its connectors into what is stored; `previous` gives the version.
async fn compile(
    state: &AppState,
    request: &EmbeddedPipelineRequest,
    previous: Option<&EmbeddedProgram>,
) -> Result<EmbeddedProgram, ApiError> {
    let code = request.program_code.clone();
    let compiler = state.compiler().clone();
    let secrets = state.config().secrets.clone();
    let dir = state.config().file_output_dir.clone();
    let compiled = tokio::task::spawn_blocking(move || {
        let program = compiler.compile_program(&code)?;
        let connectors = declared_connectors(&program, &secrets, &dir);
        Ok::<_, ProgramStatus>((program, connectors))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("compile task: {e}")))?;
    let code = &request.program_code;
    let (status, error, info, connectors) = match compiled {
        Ok((program, Ok(connectors))) => {
            let warnings: Vec<_> = program
                .warnings
                .iter()
                .cloned()
                .map(crate::compiler::message)
                .collect();
            let inputs: Vec<Value> = program
                .tables
                .iter()
                .map(|t| {
                    let key = (!t.primary_key.is_empty()).then(|| {
                        t.primary_key
                            .iter()
                            .map(|&i| t.relation.fields[i].name.clone())
                            .collect()
                    });
                    let lateness = t
                        .relation
                        .fields
                        .iter()
                        .enumerate()
                        .map(|(i, _)| {
                            t.lateness
                                .iter()
                                .find(|l| l.column == i)
                                .map(|l| l.text.clone())
                        })
                        .collect();
                    relation_schema(&t.relation, false, key, lateness)
                })
                .collect();
            let outputs: Vec<Value> = program
                .views
                .iter()
                .map(|v| relation_schema(&v.relation, v.materialized, None, Vec::new()))
                .collect();
            let info = json!({
                "schema": {"inputs": inputs, "outputs": outputs},
                "udf_stubs": "",
                "input_connectors": connector_map(&connectors, true),
                "output_connectors": connector_map(&connectors, false),
                "dataflow": null,
            });
            (
                "Success",
                program_error(&warnings, code),
                Some(info),
                connectors,
            )
        }
        Ok((_, Err(Refused::WrittenOutSecret { field, reason }))) => {
            return Err(ApiError::InvalidConnectorConfig { field, reason });
        }
        Ok((program, Err(Refused::Messages(mut messages)))) => {
            messages.extend(program.warnings.into_iter().map(crate::compiler::message));
            messages.sort_by_key(|m| (m.start_line_number, m.start_column));
            ("SqlError", program_error(&messages, code), None, vec![])
        }
        Err(ProgramStatus::SqlError(messages)) => {
            ("SqlError", program_error(&messages, code), None, vec![])
        }
        Err(other) => {
            let reason = match other {
                ProgramStatus::SystemError(r) | ProgramStatus::RustError(r) => r,
                status => format!("{status:?}"),
            };
            ("SystemError", system_error(&reason), None, vec![])
        }
    };
    let version = match previous {
        Some(p) if p.program_code == request.program_code => p.program_version,
        Some(p) => p.program_version + 1,
        None => 1,
    };
    Ok(EmbeddedProgram {
        program_code: request.program_code.clone(),
        udf_rust: request.udf_rust.clone(),
        udf_toml: request.udf_toml.clone(),
        program_config: request.program_config.clone(),
        runtime_config: request.runtime_config.clone(),
        tags: request.tags.clone(),
        program_version: version,
        program_status: status.to_string(),
        program_status_since: now(),
        program_error: error,
        program_info: info,
        connectors,
    })
}

/// The pipeline in the shape of the API that wrote it: flat (current API) when it has `program_code`, `None` for a
/// 2024 pipeline (whose shape is [`Pipeline`]'s own).
pub fn show(state: &AppState, p: &Pipeline, selector: Selector) -> Option<Value> {
    let e = p.embedded.as_ref()?;
    let in_use = state.runner().has_state(&p.state.pipeline_id);
    Some(flat_pipeline(p, e, selector, in_use))
}

/// `POST /v0/pipelines/{name}/dismiss_error`: forgets the error of a stopped pipeline (a failed one is stopped
/// first, releasing what it held), so that it can be started again.
pub async fn dismiss_error(state: &AppState, name: &str) -> Result<(), ApiError> {
    let p = db::get(state.db(), name).await?;
    let id = p.state.pipeline_id.clone();
    if p.state.current_status == PipelineStatus::Failed {
        db::set_desired(state.db(), &id, PipelineStatus::Shutdown).await?;
        state.runner().reconcile(&id).await?;
    }
    let p = db::get(state.db(), name).await?;
    if p.state.current_status == PipelineStatus::Shutdown && p.state.error.is_some() {
        db::set_current(state.db(), &id, PipelineStatus::Shutdown, None).await?;
    }
    Ok(())
}

/// `GET /v0/config`: what Feldera's clients read when they connect (its edition decides whether they accept the
/// server).
#[utoipa::path(get, path = "/v0/config", tag = "Health", operation_id = "get_config",
    responses((status = 200, body = Object, description = "edition, version, revision and the other fields Feldera's clients read")))]
pub async fn config() -> Json<Value> {
    Json(json!({
        "edition": "Open source",
        "version": FELDERA_VERSION,
        "revision": format!("sluice-{}", env!("CARGO_PKG_VERSION")),
        "runtime_revision": format!("sluice-{}", env!("CARGO_PKG_VERSION")),
        "changelog_url": "",
        "license_validity": null,
        "update_info": null,
        "telemetry": "",
        "unstable_features": null,
        "build_info": {"server": "sluice", "server_version": env!("CARGO_PKG_VERSION")},
    }))
}

/// `GET /v0/cluster_healthz`: whether the server and its database answer (Feldera's clients ask after a 502).
#[utoipa::path(get, path = "/v0/cluster_healthz", tag = "Health", operation_id = "get_cluster_health",
    responses((status = 200, body = Object), (status = 503, body = Object)))]
pub async fn cluster_healthz(State(state): State<AppState>) -> Response {
    let healthy = state.db().ping().await.is_ok();
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let message = if healthy {
        ""
    } else {
        "the database does not answer"
    };
    let part = json!({"healthy": healthy, "message": message, "unchanged_since": now(), "checked_at": now()});
    (
        status,
        Json(json!({"all_healthy": healthy, "api": part, "compiler": part, "runner": part})),
    )
        .into_response()
}
