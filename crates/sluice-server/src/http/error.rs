//! The one error type of the API, and its single mapping to an HTTP status and an [`ErrorResponse`] body.
//!
//! Every answer that is not a success goes through [`ApiError::into_response`], including the ones the framework
//! would otherwise produce as plain text (malformed bodies, unknown routes, wrong methods), so clients can always
//! parse `{"message", "error_code", "details"}`. `details` is always an object.
//!
//! Client errors (4xx) are returned and not logged. Server errors (5xx caused by a fault, not by a state such as
//! `ProgramNotCompiled`) are logged here with the cause and answered with a generic message.
//!
//! Longer than 600 lines because it is one table in four parts (variants, status, code, details) that must stay
//! together: a variant added without its status, code and details does not compile.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sluice_types::secret::redact;
use sluice_types::ErrorResponse;

use crate::model::connectors::ConnectorConfigError;
use crate::model::names::NameError;
use crate::model::pipelines::AttachmentError;
use crate::runner::RunnerError;
use crate::store::StoreError;

/// Which part of a request body was wrong, as a stable `error_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyErrorCode {
    /// The body is not JSON at all (syntax error, truncated, trailing characters).
    InvalidJson,
    /// A required field is absent.
    MissingField,
    /// A field the type does not know, where the type rejects unknown fields.
    UnknownField,
    /// A value of the wrong JSON type (a string where a number is expected, ...).
    InvalidType,
    /// A value of the right type that is not allowed (an unknown enum variant, a number out of range, ...).
    InvalidValue,
}

impl BodyErrorCode {
    fn as_str(self) -> &'static str {
        match self {
            BodyErrorCode::InvalidJson => "InvalidJson",
            BodyErrorCode::MissingField => "MissingField",
            BodyErrorCode::UnknownField => "UnknownField",
            BodyErrorCode::InvalidType => "InvalidType",
            BodyErrorCode::InvalidValue => "InvalidValue",
        }
    }
}

/// Every error the API can answer with. The variant name is the `error_code` unless noted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A request body that could not be read as the expected JSON; `error_code` is the [`BodyErrorCode`].
    #[error("Invalid request body: {}{reason}", path_prefix(path))]
    InvalidBody {
        /// What kind of body error.
        code: BodyErrorCode,
        /// Dotted path of the offending field (`config.transport.config.topic`); empty for the whole body.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The body is not declared as JSON.
    #[error("Unsupported media type '{content_type}': send the body as JSON with 'Content-Type: application/json'")]
    UnsupportedMediaType {
        /// The `Content-Type` received (empty when absent).
        content_type: String,
    },
    /// The body is longer than the server accepts.
    #[error("Request body is larger than the limit of {limit_bytes} bytes")]
    PayloadTooLarge {
        /// The limit (`sluice serve --max-body-bytes`).
        limit_bytes: usize,
    },
    /// A query string that does not parse.
    #[error("Invalid query string: {reason}")]
    InvalidQuery {
        /// What is wrong.
        reason: String,
    },
    /// No route has this path.
    #[error("Unknown route '{path}'")]
    UnknownRoute {
        /// The path requested.
        path: String,
    },
    /// The route exists but not with this method.
    #[error("Method {method} is not allowed on '{path}'")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The path requested.
        path: String,
    },
    /// A name (in the path or the body) that breaks the naming rules of [`crate::model::names`].
    #[error("Invalid name '{name}': {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// The rule it breaks.
        reason: String,
    },
    /// An `id` that is not a UUID.
    #[error("Invalid UUID '{value}'")]
    InvalidUuidParam {
        /// The rejected value.
        value: String,
    },
    /// No `Authorization: Bearer apikey:<key>` header on a request that needs one.
    #[error("Missing credentials: {reason}")]
    MissingCredentials {
        /// What was missing or malformed.
        reason: String,
    },
    /// The API key is not known (Feldera's `InvalidKey`).
    #[error("Unauthorized API key")]
    InvalidKey,
    /// Without authentication, a request naming a `Host` that is not a loopback name nor one the operator allowed
    /// (a DNS-rebinding page, or a name the server was not meant to be reached by).
    #[error("Host '{host}' is not allowed: without authentication this server answers only requests to a loopback name (localhost, 127.0.0.1, [::1]) or to a name given with `sluice serve --allowed-host`")]
    ForbiddenHost {
        /// The `Host` header.
        host: String,
    },
    /// Without authentication, a request a browser sent from another site's page.
    #[error("Origin '{origin}' is not allowed: without authentication this server refuses requests from other sites' pages; the operator can allow an origin with `sluice serve --cors-origin`")]
    ForbiddenOrigin {
        /// The `Origin` header (or why there was none).
        origin: String,
    },
    /// The API key lacks the scope the request needs.
    #[error("This API key may not {action}: it lacks the '{needed}' scope")]
    InsufficientPermissions {
        /// The scope the request needs (`Read` or `Write`).
        needed: String,
        /// What was attempted (`POST /v0/connectors`).
        action: String,
    },
    /// See the message.
    #[error("Unknown connector name '{connector_name}'")]
    UnknownConnectorName {
        /// The name looked up.
        connector_name: String,
    },
    /// See the message.
    #[error("Unknown connector id '{connector_id}'")]
    UnknownConnector {
        /// The id looked up.
        connector_id: String,
    },
    /// See the message.
    #[error("Unknown program name '{program_name}'")]
    UnknownProgramName {
        /// The name looked up.
        program_name: String,
    },
    /// See the message.
    #[error("Unknown program id '{program_id}'")]
    UnknownProgram {
        /// The id looked up.
        program_id: String,
    },
    /// See the message.
    #[error("Unknown pipeline name '{pipeline_name}'")]
    UnknownPipelineName {
        /// The name looked up.
        pipeline_name: String,
    },
    /// See the message.
    #[error("Unknown pipeline id '{pipeline_id}'")]
    UnknownPipeline {
        /// The id looked up.
        pipeline_id: String,
    },
    /// See the message.
    #[error("Unknown API key '{name}'")]
    UnknownApiKey {
        /// The name looked up.
        name: String,
    },
    /// A unique name is already taken.
    #[error("An entity with this name already exists")]
    DuplicateName,
    /// A connector config that does not deserialize or does not validate; nothing was stored.
    #[error("Invalid connector config: {field}: {reason}")]
    InvalidConnectorConfig {
        /// Dotted path of the field inside the request body (`config.transport.config.topic`).
        field: String,
        /// Why it is rejected.
        reason: String,
    },
    /// A transport users may not create (`http_input`, `http_output`).
    #[error("Invalid connector transport: '{reason}'")]
    InvalidConnectorTransport {
        /// Why.
        reason: String,
    },
    /// An attached connector entry of a pipeline that contradicts itself or its connector.
    #[error("Invalid attached connector '{name}': {reason}")]
    InvalidAttachedConnector {
        /// The attachment name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A program `guard` or compile `version` that is not the latest.
    #[error("Outdated program version. Latest version: '{latest_version}'")]
    OutdatedProgramVersion {
        /// The current version.
        latest_version: i64,
    },
    /// A program cannot be deleted while a pipeline uses it.
    #[error("Program named '{program_name}' is in use by a pipeline")]
    ProgramInUseByPipeline {
        /// The program.
        program_name: String,
    },
    /// Starting a pipeline that has no program.
    #[error("The pipeline does not have a program attached")]
    ProgramNotSet,
    /// Starting a pipeline whose program has no schema yet.
    #[error("The program attached to the pipeline hasn't been compiled yet.")]
    ProgramNotCompiled,
    /// Starting a pipeline whose program failed to compile.
    #[error("The program attached to the pipeline did not compile.")]
    ProgramFailedToCompile,
    /// Input attachments naming relations that are not tables of the program.
    #[error("Pipeline configuration specifies invalid connector->table pairs '{}': The table(s) don't exist in the program", pairs(missing))]
    TablesNotInSchema {
        /// `[attachment name, relation name]` pairs.
        missing: Vec<(String, String)>,
    },
    /// Output attachments naming relations that are not views of the program.
    #[error("Pipeline configuration specifies invalid connector->view pairs '{}': The view(s) don't exist in the program", pairs(missing))]
    ViewsNotInSchema {
        /// `[attachment name, relation name]` pairs.
        missing: Vec<(String, String)>,
    },
    /// `POST /v0/pipelines/{name}/{action}` with an action that does not exist.
    #[error(
        "Invalid pipeline action '{action}'; valid actions are: 'start', 'pause', 'resume', 'stop', 'dismiss_error', or 'shutdown'"
    )]
    InvalidPipelineAction {
        /// The action requested.
        action: String,
    },
    /// An action or a deletion the pipeline's state does not allow.
    #[error("{error}")]
    IllegalPipelineStateTransition {
        /// The pipeline.
        pipeline_id: String,
        /// What is wrong and what to do.
        error: String,
        /// Its current status.
        current_status: String,
        /// Its desired status.
        desired_status: String,
        /// The status the request asked for.
        requested_status: Option<String>,
    },
    /// The request needs a running (or paused) pipeline, and this one has no running instance: shut down,
    /// still provisioning, failed at start, or shutting down. Feldera's code and status for it.
    #[error(
        "Pipeline '{pipeline_name}' is not currently running (current status: {current_status})"
    )]
    PipelineShutdown {
        /// The pipeline's id.
        pipeline_id: String,
        /// The pipeline.
        pipeline_name: String,
        /// Its current status.
        current_status: String,
    },
    /// The running pipeline's program has no table of that name.
    #[error("Pipeline '{pipeline_name}' has no table '{table}'")]
    UnknownTable {
        /// The pipeline.
        pipeline_name: String,
        /// The table asked for.
        table: String,
    },
    /// The running pipeline's program has no view of that name.
    #[error("Pipeline '{pipeline_name}' has no view '{view}'")]
    UnknownView {
        /// The pipeline.
        pipeline_name: String,
        /// The view asked for.
        view: String,
    },
    /// The `format`/`update_format`/`array`/`mode` query parameters of an ingress or egress request are invalid.
    #[error("Invalid format: {field}: {reason}")]
    InvalidFormat {
        /// The query parameter or format setting.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Records of an ingress request could not be parsed or do not fit the table; none of the request's records
    /// were applied.
    #[error("{num_errors} record(s) of the request for table '{table}' are invalid; no record of the request was applied. First: {first}")]
    InvalidRecords {
        /// The table.
        table: String,
        /// How many records were rejected.
        num_errors: usize,
        /// The first error's message.
        first: String,
        /// Every error: `{index, line, message}`.
        errors: Value,
    },
    /// The pipeline's input buffer stayed full while the request waited.
    #[error("Pipeline '{pipeline_name}' is not accepting input right now: {reason}")]
    PipelineBusy {
        /// The pipeline.
        pipeline_name: String,
        /// Why (paused, an output connector stalled, ...), with what to do.
        reason: String,
    },
    /// A pipeline config value that the types accept but Sluice does not (an unavailable model, a value out of
    /// range).
    #[error("Invalid pipeline config: {field}: {reason}")]
    InvalidPipelineConfig {
        /// Dotted path of the field, e.g. `config.fault_tolerance.model`.
        field: String,
        /// Why, and what is accepted.
        reason: String,
    },
    /// Checkpoints were asked of a pipeline whose `fault_tolerance.model` is `none`.
    #[error("Pipeline '{pipeline_name}' keeps no durable state (fault_tolerance.model is \"none\"): it has no checkpoints")]
    PipelineNotDurable {
        /// The pipeline.
        pipeline_name: String,
    },
    /// The input journal could not be written (disk full, permissions): nothing of the request was accepted.
    #[error("Pipeline '{pipeline_name}' cannot make input durable; nothing of the request was accepted: {reason}")]
    InputNotDurable {
        /// The pipeline.
        pipeline_name: String,
        /// The file error.
        reason: String,
    },
    /// The pipeline failed; only `shutdown` is possible.
    #[error("Pipeline '{pipeline_name}' failed: {error}")]
    PipelineFailed {
        /// The pipeline.
        pipeline_name: String,
        /// Why it failed.
        error: String,
    },
    /// A pipeline's program or settings were to be replaced while it is deployed.
    #[error("Cannot update pipeline '{pipeline_name}' while it is {current_status}: stop it first (POST /v0/pipelines/{pipeline_name}/stop)")]
    CannotUpdateNonShutdownPipeline {
        /// The pipeline.
        pipeline_name: String,
        /// Its status, in the words of the API generation it was written with.
        current_status: String,
    },
    /// A request for something Sluice deliberately does not do (Rust UDFs, a standby start, ...).
    #[error("{feature} is not supported by Sluice: {reason}")]
    UnsupportedFeature {
        /// What was asked for.
        feature: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// A completion token that is malformed, or was issued by another run of the pipeline.
    #[error("Completion token '{token}' cannot be checked: {reason}")]
    InvalidCompletionToken {
        /// The token.
        token: String,
        /// Why.
        reason: String,
        /// Whether it is well-formed but of an earlier run (410) rather than malformed (400).
        gone: bool,
    },
    /// An ad-hoc query that cannot run (a parse or planning error, a relation that keeps no contents).
    #[error("Query failed: {reason}")]
    InvalidAdHocQuery {
        /// Why.
        reason: String,
    },
    /// The request raced with another that changed or removed what it refers to (a foreign key no longer
    /// holds); retrying it gives a definite answer.
    #[error("The request conflicted with a concurrent change; retry it")]
    ConcurrentModification,
    /// A database failure: logged, answered with a generic message.
    #[error("Internal database error")]
    Database(sqlx::Error),
    /// Any other internal failure: logged, answered with a generic message.
    #[error("Internal server error")]
    Internal(String),
}

fn path_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn pairs(missing: &[(String, String)]) -> String {
    missing
        .iter()
        .map(|(a, r)| format!("{a} -> {r}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ApiError {
    /// A body error at `path`.
    pub fn body(code: BodyErrorCode, path: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::InvalidBody {
            code,
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidBody { .. }
            | InvalidQuery { .. }
            | InvalidName { .. }
            | InvalidUuidParam { .. }
            | InvalidConnectorConfig { .. }
            | InvalidConnectorTransport { .. }
            | InvalidAttachedConnector { .. }
            | ProgramInUseByPipeline { .. }
            | ProgramNotSet
            | ProgramFailedToCompile
            | TablesNotInSchema { .. }
            | ViewsNotInSchema { .. }
            | InvalidPipelineAction { .. }
            | InvalidPipelineConfig { .. }
            | PipelineNotDurable { .. }
            | CannotUpdateNonShutdownPipeline { .. }
            | UnsupportedFeature { .. }
            | InvalidAdHocQuery { .. }
            | IllegalPipelineStateTransition { .. } => StatusCode::BAD_REQUEST,
            InvalidCompletionToken { gone: true, .. } => StatusCode::GONE,
            InvalidCompletionToken { gone: false, .. } => StatusCode::BAD_REQUEST,
            UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            MissingCredentials { .. } | InvalidKey => StatusCode::UNAUTHORIZED,
            ForbiddenHost { .. } | ForbiddenOrigin { .. } | InsufficientPermissions { .. } => {
                StatusCode::FORBIDDEN
            }
            UnknownRoute { .. }
            | UnknownConnectorName { .. }
            | UnknownConnector { .. }
            | UnknownProgramName { .. }
            | UnknownProgram { .. }
            | UnknownPipelineName { .. }
            | UnknownPipeline { .. }
            | UnknownApiKey { .. }
            | PipelineShutdown { .. } => StatusCode::NOT_FOUND,
            MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            DuplicateName | OutdatedProgramVersion { .. } | ConcurrentModification => {
                StatusCode::CONFLICT
            }
            ProgramNotCompiled | PipelineBusy { .. } | InputNotDurable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            UnknownTable { .. } | UnknownView { .. } => StatusCode::NOT_FOUND,
            InvalidFormat { .. } | InvalidRecords { .. } => StatusCode::BAD_REQUEST,
            PipelineFailed { .. } => StatusCode::CONFLICT,
            Database(_) | Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable `error_code`.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            InvalidBody { code, .. } => code.as_str(),
            UnsupportedMediaType { .. } => "UnsupportedMediaType",
            PayloadTooLarge { .. } => "PayloadTooLarge",
            InvalidQuery { .. } => "InvalidQuery",
            UnknownRoute { .. } => "UnknownRoute",
            MethodNotAllowed { .. } => "MethodNotAllowed",
            InvalidName { .. } => "InvalidName",
            InvalidUuidParam { .. } => "InvalidUuidParam",
            MissingCredentials { .. } => "MissingCredentials",
            InvalidKey => "InvalidKey",
            ForbiddenHost { .. } => "ForbiddenHost",
            ForbiddenOrigin { .. } => "ForbiddenOrigin",
            InsufficientPermissions { .. } => "InsufficientPermissions",
            UnknownConnectorName { .. } => "UnknownConnectorName",
            UnknownConnector { .. } => "UnknownConnector",
            UnknownProgramName { .. } => "UnknownProgramName",
            UnknownProgram { .. } => "UnknownProgram",
            UnknownPipelineName { .. } => "UnknownPipelineName",
            UnknownPipeline { .. } => "UnknownPipeline",
            UnknownApiKey { .. } => "UnknownApiKey",
            DuplicateName => "DuplicateName",
            ConcurrentModification => "ConcurrentModification",
            InvalidConnectorConfig { .. } => "InvalidConnectorConfig",
            InvalidConnectorTransport { .. } => "InvalidConnectorTransport",
            InvalidAttachedConnector { .. } => "InvalidAttachedConnector",
            OutdatedProgramVersion { .. } => "OutdatedProgramVersion",
            ProgramInUseByPipeline { .. } => "ProgramInUseByPipeline",
            ProgramNotSet => "ProgramNotSet",
            ProgramNotCompiled => "ProgramNotCompiled",
            ProgramFailedToCompile => "ProgramFailedToCompile",
            TablesNotInSchema { .. } => "TablesNotInSchema",
            ViewsNotInSchema { .. } => "ViewsNotInSchema",
            InvalidPipelineAction { .. } => "InvalidPipelineAction",
            IllegalPipelineStateTransition { .. } => "IllegalPipelineStateTransition",
            PipelineShutdown { .. } => "PipelineShutdown",
            UnknownTable { .. } => "UnknownTable",
            UnknownView { .. } => "UnknownView",
            InvalidFormat { .. } => "InvalidFormat",
            InvalidRecords { .. } => "InvalidRecords",
            PipelineBusy { .. } => "PipelineBusy",
            InvalidPipelineConfig { .. } => "InvalidPipelineConfig",
            PipelineNotDurable { .. } => "PipelineNotDurable",
            InputNotDurable { .. } => "InputNotDurable",
            PipelineFailed { .. } => "PipelineFailed",
            CannotUpdateNonShutdownPipeline { .. } => "CannotUpdateNonShutdownPipeline",
            UnsupportedFeature { .. } => "UnsupportedFeature",
            InvalidCompletionToken { .. } => "InvalidCompletionToken",
            InvalidAdHocQuery { .. } => "InvalidAdHocQuery",
            Database(_) => "DatabaseError",
            Internal(_) => "InternalError",
        }
    }

    /// The error's fields, always an object (`{}` for field-less errors).
    pub fn details(&self) -> Value {
        use ApiError::*;
        match self {
            InvalidBody { path, reason, .. } => json!({"path": path, "reason": reason}),
            UnsupportedMediaType { content_type } => json!({"content_type": content_type}),
            PayloadTooLarge { limit_bytes } => json!({"limit_bytes": limit_bytes}),
            InvalidQuery { reason } => json!({"reason": reason}),
            UnknownRoute { path } => json!({"path": path}),
            MethodNotAllowed { method, path } => json!({"method": method, "path": path}),
            InvalidName { name, reason } => json!({"name": name, "reason": reason}),
            InvalidUuidParam { value } => json!({"value": value}),
            MissingCredentials { reason } => json!({"reason": reason}),
            ForbiddenHost { host } => json!({"host": host}),
            ForbiddenOrigin { origin } => json!({"origin": origin}),
            InsufficientPermissions { needed, action } => {
                json!({"needed": needed, "action": action})
            }
            UnknownConnectorName { connector_name } => json!({"connector_name": connector_name}),
            UnknownConnector { connector_id } => json!({"connector_id": connector_id}),
            UnknownProgramName { program_name } | ProgramInUseByPipeline { program_name } => {
                json!({"program_name": program_name})
            }
            UnknownProgram { program_id } => json!({"program_id": program_id}),
            UnknownPipelineName { pipeline_name } => json!({"pipeline_name": pipeline_name}),
            UnknownPipeline { pipeline_id } => json!({"pipeline_id": pipeline_id}),
            UnknownTable {
                pipeline_name,
                table,
            } => json!({"pipeline_name": pipeline_name, "table": table}),
            UnknownView {
                pipeline_name,
                view,
            } => json!({"pipeline_name": pipeline_name, "view": view}),
            InvalidFormat { field, reason } => json!({"field": field, "reason": reason}),
            InvalidRecords {
                table,
                num_errors,
                errors,
                ..
            } => json!({"table": table, "num_errors": num_errors, "errors": errors}),
            PipelineBusy {
                pipeline_name,
                reason,
            }
            | InputNotDurable {
                pipeline_name,
                reason,
            } => json!({"pipeline_name": pipeline_name, "reason": reason}),
            InvalidPipelineConfig { field, reason } => json!({"field": field, "reason": reason}),
            PipelineNotDurable { pipeline_name } => json!({"pipeline_name": pipeline_name}),
            PipelineFailed {
                pipeline_name,
                error,
            } => json!({"pipeline_name": pipeline_name, "error": error}),
            UnknownApiKey { name } => json!({"name": name}),
            CannotUpdateNonShutdownPipeline {
                pipeline_name,
                current_status,
            } => json!({"pipeline_name": pipeline_name, "current_status": current_status}),
            UnsupportedFeature { feature, reason } => json!({"feature": feature, "reason": reason}),
            InvalidCompletionToken { token, reason, .. } => {
                json!({"token": token, "reason": reason})
            }
            InvalidAdHocQuery { reason } => json!({"reason": reason}),
            InvalidConnectorConfig { field, reason } => json!({"field": field, "reason": reason}),
            InvalidConnectorTransport { reason } => json!({"reason": reason}),
            InvalidAttachedConnector { name, reason } => json!({"name": name, "reason": reason}),
            OutdatedProgramVersion { latest_version } => json!({"latest_version": latest_version}),
            TablesNotInSchema { missing } | ViewsNotInSchema { missing } => {
                json!({"missing": missing})
            }
            InvalidPipelineAction { action } => json!({"action": action}),
            IllegalPipelineStateTransition {
                pipeline_id,
                error,
                current_status,
                desired_status,
                requested_status,
            } => json!({
                "pipeline_id": pipeline_id,
                "error": error,
                "current_status": current_status,
                "desired_status": desired_status,
                "requested_status": requested_status,
            }),
            PipelineShutdown {
                pipeline_id,
                pipeline_name,
                current_status,
            } => json!({
                "pipeline_id": pipeline_id,
                "pipeline_name": pipeline_name,
                "current_status": current_status,
            }),
            InvalidKey
            | DuplicateName
            | ConcurrentModification
            | ProgramNotSet
            | ProgramNotCompiled
            | ProgramFailedToCompile
            | Database(_)
            | Internal(_) => json!({}),
        }
    }

    /// The response body.
    ///
    /// Every secret value this process knows is scrubbed from the message and the details
    /// ([`sluice_types::secret::redact`]): an error may quote a value the client sent or a broker's words.
    pub fn to_error_response(&self) -> ErrorResponse {
        let details = self.details();
        let details_text = details.to_string();
        let details = match redact::scrub(&details_text) {
            std::borrow::Cow::Borrowed(_) => details,
            std::borrow::Cow::Owned(scrubbed) => {
                serde_json::from_str(&scrubbed).unwrap_or_else(|_| json!({}))
            }
        };
        ErrorResponse {
            message: redact::scrub(&self.to_string()).into_owned(),
            error_code: self.code().to_string(),
            details,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Database(e) => tracing::error!(error = %e, "Database error."),
            ApiError::Internal(e) => tracing::error!(error = %e, "Internal error."),
            _ => {}
        }
        let mut response = (status, axum::Json(self.to_error_response())).into_response();
        // The challenge Feldera sends: a bare `Bearer` when no usable credentials came, and the reason when a
        // key came that is not known.
        let challenge = match self {
            ApiError::InvalidKey => Some(r#"Bearer error_description="Unauthorized API key""#),
            ApiError::MissingCredentials { .. } => Some("Bearer"),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// Whether a database error is a unique-constraint violation (a name taken, possibly by a concurrent request).
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use crate::store::Entity;
        match e {
            StoreError::UnknownName { entity, name } => match entity {
                Entity::Connector => ApiError::UnknownConnectorName {
                    connector_name: name,
                },
                Entity::Program => ApiError::UnknownProgramName { program_name: name },
                Entity::Pipeline => ApiError::UnknownPipelineName {
                    pipeline_name: name,
                },
                Entity::ApiKey => ApiError::UnknownApiKey { name },
            },
            StoreError::UnknownId { entity, id } => match entity {
                Entity::Connector => ApiError::UnknownConnector { connector_id: id },
                Entity::Program => ApiError::UnknownProgram { program_id: id },
                Entity::Pipeline => ApiError::UnknownPipeline { pipeline_id: id },
                Entity::ApiKey => ApiError::UnknownApiKey { name: id },
            },
            StoreError::InvalidId(value) => ApiError::InvalidUuidParam { value },
            StoreError::DuplicateName => ApiError::DuplicateName,
            StoreError::ConcurrentModification => ApiError::ConcurrentModification,
            StoreError::OutdatedProgramVersion { latest_version } => {
                ApiError::OutdatedProgramVersion { latest_version }
            }
            StoreError::ProgramInUse(program_name) => {
                ApiError::ProgramInUseByPipeline { program_name }
            }
            StoreError::Attachment(e) => e.into(),
            StoreError::Name(e) => e.into(),
            StoreError::Corrupt(reason) => ApiError::Internal(reason),
            StoreError::Database(e) => ApiError::Database(e),
        }
    }
}

impl From<AttachmentError> for ApiError {
    fn from(e: AttachmentError) -> Self {
        match e {
            AttachmentError::TablesNotInSchema { missing } => {
                ApiError::TablesNotInSchema { missing }
            }
            AttachmentError::ViewsNotInSchema { missing } => ApiError::ViewsNotInSchema { missing },
            AttachmentError::Invalid { name, reason } => {
                ApiError::InvalidAttachedConnector { name, reason }
            }
        }
    }
}

impl From<NameError> for ApiError {
    fn from(NameError { name, reason }: NameError) -> Self {
        ApiError::InvalidName { name, reason }
    }
}

impl From<ConnectorConfigError> for ApiError {
    fn from(e: ConnectorConfigError) -> Self {
        match e {
            ConnectorConfigError::Invalid { field, reason } => {
                ApiError::InvalidConnectorConfig { field, reason }
            }
            ConnectorConfigError::Transport { reason } => {
                ApiError::InvalidConnectorTransport { reason }
            }
            ConnectorConfigError::Corrupt(reason) => ApiError::Internal(reason),
        }
    }
}

impl From<RunnerError> for ApiError {
    fn from(e: RunnerError) -> Self {
        match e {
            RunnerError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_less_errors_have_object_details() {
        for e in [
            ApiError::DuplicateName,
            ApiError::ProgramNotCompiled,
            ApiError::Internal("x".into()),
        ] {
            assert!(e.details().is_object(), "{e:?}");
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let e = ApiError::Internal("secret path /etc".into());
        assert_eq!(e.to_error_response().message, "Internal server error");
    }

    #[test]
    fn connector_config_message_names_field_and_reason() {
        let e = ApiError::InvalidConnectorConfig {
            field: "config.transport.config.topic".into(),
            reason: "required".into(),
        };
        assert_eq!(
            e.to_string(),
            "Invalid connector config: config.transport.config.topic: required"
        );
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }
}
