//! Pipelines whose program is part of them (`program_code`), as Feldera's current API and its clients see them.
//!
//! Such a pipeline is written whole by one `PUT /v0/pipelines/{name}` carrying its SQL; its connectors are
//! declared in that SQL (`WITH ('connectors' = '[...]')`), and it is shown flat, with Feldera's status words
//! (`deployment_status`, `program_status`, `storage_status`). A pipeline created with `program_name` keeps the
//! 2024 shapes; which one a pipeline is follows from how it was last written ([`EmbeddedProgram`] present or not).
//!
//! Lifecycle, runner and storage are shared with the 2024 pipelines: this module only translates. The status words
//! come from the one lifecycle of [`super::status`] ([`deployment`]), the schema from Sluice's relations
//! ([`relation_schema`]), the runtime settings from Feldera's `runtime_config` ([`runtime_settings`]).

use serde::Deserialize;
use serde_json::{json, Map, Value};
use sluice_data::{Field, Relation, SqlType};
use sluice_types::{ConfigError, ErrorResponse};

pub use super::embedded_program::{DeclaredConnector, EmbeddedProgram};
use super::pipelines::{FaultTolerance, FaultToleranceModel, Pipeline, RuntimeConfig};
use super::programs::SqlCompilerMessage;
use super::status::PipelineStatus;

/// The Feldera release whose API this one follows: `GET /v0/config` reports it, so that its clients do not warn.
pub const FELDERA_VERSION: &str = "0.349.0";

/// Body of `PUT /v0/pipelines/{name}` and `POST /v0/pipelines` with `program_code`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedPipelineRequest {
    /// The name (required by `POST`; when given to `PUT`, it must be the path's).
    #[serde(default)]
    pub name: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The SQL program: tables, views, indexes, connectors in `WITH`.
    pub program_code: String,
    /// Rust UDFs: not supported, refused unless empty.
    #[serde(default)]
    pub udf_rust: String,
    /// Cargo dependencies of Rust UDFs: refused unless empty.
    #[serde(default)]
    pub udf_toml: String,
    /// Compilation settings (profile and so on): kept, without effect (the SQL is planned in-process).
    #[serde(default = "empty_object")]
    pub program_config: Value,
    /// Feldera's `RuntimeConfig`, kept verbatim; see [`runtime_settings`] for what takes effect.
    #[serde(default = "empty_object")]
    pub runtime_config: Value,
    /// Free labels.
    #[serde(default)]
    pub tags: Vec<String>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// Feldera's `program_error` for compiler messages; `exit_code` 1 when any is an error.
pub fn program_error(messages: &[SqlCompilerMessage], code: &str) -> Value {
    let failed = messages.iter().any(|m| !m.warning);
    let lines: Vec<&str> = code.lines().collect();
    let messages: Vec<Value> = messages
        .iter()
        .map(|m| {
            let snippet = lines
                .get((m.start_line_number as usize).saturating_sub(1))
                .map(|l| format!("{:>4}|{l}\n", m.start_line_number))
                .unwrap_or_default();
            json!({
                "start_line_number": m.start_line_number,
                "start_column": m.start_column,
                "end_line_number": m.end_line_number,
                "end_column": m.end_column,
                "warning": m.warning,
                "error_type": m.error_type,
                "message": m.message,
                "snippet": snippet,
            })
        })
        .collect();
    json!({
        "sql_compilation": {"exit_code": i32::from(failed), "messages": messages},
        "rust_compilation": null,
        "system_error": null,
    })
}

/// Feldera's `program_error` for a failure that is not the program's fault.
pub fn system_error(message: &str) -> Value {
    json!({"sql_compilation": null, "rust_compilation": null, "system_error": message})
}

/// A relation in Feldera's schema shape: `name` and `case_sensitive` (a name with upper-case letters can only
/// have been quoted), `fields` with `columntype`, `materialized`, `properties` (empty: the declared connectors are
/// in `program_info`'s connector maps), `primary_key`. `lateness` holds each column's `LATENESS` expression as
/// written, in column order (empty for a view).
pub fn relation_schema(
    relation: &Relation,
    materialized: bool,
    primary_key: Option<Vec<String>>,
    lateness: Vec<Option<String>>,
) -> Value {
    let fields: Vec<Value> = relation
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| field_schema(f, lateness.get(i).cloned().flatten()))
        .collect();
    let properties = json!({});
    json!({
        "name": relation.name,
        "case_sensitive": case_sensitive(&relation.name),
        "fields": fields,
        "materialized": materialized,
        "properties": properties,
        "primary_key": primary_key,
    })
}

fn case_sensitive(name: &str) -> bool {
    name != name.to_lowercase()
}

fn field_schema(f: &Field, lateness: Option<String>) -> Value {
    json!({
        "name": f.name,
        "case_sensitive": case_sensitive(&f.name),
        "columntype": column_type(&f.sql_type, f.nullable),
        "lateness": lateness,
        "default": null,
        "unused": false,
    })
}

/// Feldera's `columntype` of a Sluice type: the upper-case type word, nullability, precision and scale, and the
/// component or key/value types of arrays and maps.
pub fn column_type(t: &SqlType, nullable: bool) -> Value {
    let length = |l: &Option<u32>| l.map_or(-1, i64::from);
    let (name, precision, scale): (&str, Option<i64>, Option<i64>) = match t {
        SqlType::Boolean => ("BOOLEAN", None, None),
        SqlType::TinyInt => ("TINYINT", None, None),
        SqlType::SmallInt => ("SMALLINT", None, None),
        SqlType::Int => ("INTEGER", None, None),
        SqlType::BigInt => ("BIGINT", None, None),
        SqlType::Real => ("REAL", None, None),
        SqlType::Double => ("DOUBLE", None, None),
        SqlType::Decimal { precision, scale } => (
            "DECIMAL",
            Some(i64::from(*precision)),
            Some(i64::from(*scale)),
        ),
        SqlType::Char { length: l } => ("CHAR", Some(length(l)), None),
        SqlType::Varchar { length: l } => ("VARCHAR", Some(length(l)), None),
        SqlType::Binary { length: l } => ("BINARY", Some(length(l)), None),
        SqlType::Varbinary { length: l } => ("VARBINARY", Some(length(l)), None),
        SqlType::Date => ("DATE", None, None),
        SqlType::Time => ("TIME", Some(0), None),
        SqlType::Timestamp => ("TIMESTAMP", Some(0), None),
        SqlType::Array { .. } => ("ARRAY", None, None),
        SqlType::Map { .. } => ("MAP", None, None),
        SqlType::Null => ("NULL", None, None),
    };
    let mut out = json!({
        "type": name,
        "nullable": nullable,
        "precision": precision,
        "scale": scale,
        "component": null,
        "fields": null,
        "key": null,
        "value": null,
    });
    match t {
        SqlType::Array {
            element,
            element_nullable,
        } => out["component"] = column_type(element, *element_nullable),
        SqlType::Map {
            key,
            value,
            value_nullable,
        } => {
            out["key"] = column_type(key, false);
            out["value"] = column_type(value, *value_nullable);
        }
        _ => {}
    }
    out
}

/// Sluice's settings from Feldera's `runtime_config`: `workers`, `min_batch_size_records`,
/// `max_buffering_delay_usecs` and `fault_tolerance` take effect; the rest is kept and shown but has no effect
/// (resources, tracing, profiling: the pipeline runs inside the server process). Without `fault_tolerance` the
/// model is Sluice's default, `at_least_once`; `{"model": "none"}` (or `null`) turns it off, as in Feldera.
pub fn runtime_settings(runtime_config: &Value) -> Result<RuntimeConfig, ConfigError> {
    let field = |name: &str| format!("runtime_config.{name}");
    let Some(map) = runtime_config.as_object() else {
        return Err(ConfigError::new("runtime_config", "must be an object"));
    };
    let mut out = RuntimeConfig::default();
    let uint = |name: &str| -> Result<Option<u64>, ConfigError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                ConfigError::new(
                    field(name),
                    format!("must be a non-negative integer, got {v}"),
                )
            }),
        }
    };
    if let Some(w) = uint("workers")? {
        out.workers = u16::try_from(w).ok().filter(|w| *w > 0).ok_or_else(|| {
            ConfigError::new(field("workers"), format!("must be 1 to 65535, got {w}"))
        })?;
    }
    if let Some(n) = uint("min_batch_size_records")? {
        out.min_batch_size_records = n;
    }
    if let Some(n) = uint("max_buffering_delay_usecs")? {
        out.max_buffering_delay_usecs = n;
    }
    match map.get("fault_tolerance") {
        None => {}
        Some(Value::Null) => out.fault_tolerance.model = FaultToleranceModel::None,
        Some(Value::Object(ft)) => {
            let model = match ft.get("model") {
                None => FaultToleranceModel::ExactlyOnce,
                Some(Value::Null) => FaultToleranceModel::None,
                Some(Value::String(s)) => match s.as_str() {
                    "none" => FaultToleranceModel::None,
                    "at_least_once" => FaultToleranceModel::AtLeastOnce,
                    "exactly_once" => FaultToleranceModel::ExactlyOnce,
                    other => {
                        return Err(ConfigError::new(
                            field("fault_tolerance.model"),
                            format!(
                                "'{other}' is not a model: none, at_least_once or exactly_once"
                            ),
                        ))
                    }
                },
                Some(v) => {
                    return Err(ConfigError::new(
                        field("fault_tolerance.model"),
                        format!("must be a string, got {v}"),
                    ))
                }
            };
            let interval = match ft.get("checkpoint_interval_secs") {
                None | Some(Value::Null) => FaultTolerance::default().checkpoint_interval_secs,
                Some(v) => v.as_u64().ok_or_else(|| {
                    ConfigError::new(
                        field("fault_tolerance.checkpoint_interval_secs"),
                        format!("must be a whole number of seconds, got {v}"),
                    )
                })?,
            };
            out.fault_tolerance = FaultTolerance {
                model,
                checkpoint_interval_secs: interval,
            };
        }
        Some(v) => {
            return Err(ConfigError::new(
                field("fault_tolerance"),
                format!("must be an object or null, got {v}"),
            ))
        }
    }
    out.check().map_err(|e| {
        ConfigError::new(e.field.replacen("config.", "runtime_config.", 1), e.reason)
    })?;
    Ok(out)
}

/// Where a pipeline is, in Feldera's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// `deployment_status`.
    pub status: &'static str,
    /// `deployment_desired_status`.
    pub desired: &'static str,
    /// `deployment_resources_status`.
    pub resources: &'static str,
    /// `deployment_resources_desired_status`.
    pub resources_desired: &'static str,
    /// `deployment_runtime_status` (`None` when not deployed).
    pub runtime: Option<&'static str>,
    /// `deployment_runtime_desired_status`.
    pub runtime_desired: Option<&'static str>,
}

/// Sluice's lifecycle in Feldera's status words. A failed pipeline is `Stopped`, wanted `Stopped`, with its
/// error: that is how Feldera's clients recognise a failed start (`dismiss_error` clears it).
pub fn deployment(current: PipelineStatus, desired: PipelineStatus) -> Deployment {
    use PipelineStatus as S;
    let status = match current {
        S::Shutdown | S::Failed => "Stopped",
        S::Provisioning => "Provisioning",
        S::Initializing => "Initializing",
        S::Paused => "Paused",
        S::Running => "Running",
        S::ShuttingDown => "Stopping",
    };
    let desired = match (current, desired) {
        (S::Failed, _) | (_, S::Shutdown) => "Stopped",
        (_, S::Paused) => "Paused",
        _ => "Running",
    };
    let resources = match current {
        S::Shutdown | S::Failed => "Stopped",
        S::Provisioning => "Provisioning",
        S::ShuttingDown => "Stopping",
        S::Initializing | S::Paused | S::Running => "Provisioned",
    };
    let runtime = match current {
        S::Initializing => Some("Initializing"),
        S::Paused => Some("Paused"),
        S::Running => Some("Running"),
        _ => None,
    };
    let runtime_desired = match desired {
        "Paused" => Some("Paused"),
        "Running" => Some("Running"),
        _ => None,
    };
    Deployment {
        status,
        desired,
        resources,
        resources_desired: if desired == "Stopped" {
            "Stopped"
        } else {
            "Provisioned"
        },
        runtime,
        runtime_desired,
    }
}

/// Which part of a pipeline `GET` shows: `all` (the default) or `status` (without the program and its
/// compilation output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Everything.
    All,
    /// Without `program_code`, `udf_*`, `program_error`, `program_info`, `runtime_config`.
    Status,
}

impl Selector {
    /// Parses `?selector=`; `status_with_connectors` is shown as `status`.
    pub fn parse(text: Option<&str>) -> Result<Selector, String> {
        match text {
            None | Some("all") => Ok(Selector::All),
            Some("status") | Some("status_with_connectors") => Ok(Selector::Status),
            Some(other) => Err(format!(
                "'{other}' is not a selector: all, status or status_with_connectors"
            )),
        }
    }
}

/// A pipeline with `program_code` as Feldera's current API shows it: every field its clients read is present
/// (`null` where Sluice has nothing to say). `storage_in_use` says whether durable state is kept.
pub fn flat_pipeline(
    p: &Pipeline,
    e: &EmbeddedProgram,
    selector: Selector,
    storage_in_use: bool,
) -> Value {
    let d = &p.descriptor;
    let s = &p.state;
    let dep = deployment(s.current_status, s.desired_status);
    let error: Option<&ErrorResponse> = match s.current_status {
        PipelineStatus::Failed | PipelineStatus::Shutdown => s.error.as_ref(),
        _ => None,
    };
    let deployed = dep.resources != "Stopped";
    let mut out = json!({
        "id": d.pipeline_id,
        "name": d.name,
        "description": d.description,
        "created_at": s.created,
        "version": d.version,
        "platform_version": FELDERA_VERSION,
        "program_config": e.program_config,
        "program_version": e.program_version,
        "program_status": e.program_status,
        "program_status_since": e.program_status_since,
        "deployment_status": dep.status,
        "deployment_status_since": s.status_since,
        "deployment_desired_status": dep.desired,
        "deployment_desired_status_since": s.status_since,
        "deployment_resources_status": dep.resources,
        "deployment_resources_status_since": s.status_since,
        "deployment_resources_desired_status": dep.resources_desired,
        "deployment_resources_desired_status_since": s.status_since,
        "deployment_runtime_status": dep.runtime,
        "deployment_runtime_status_since": dep.runtime.map(|_| s.status_since.clone()),
        "deployment_runtime_status_details": null,
        "deployment_runtime_desired_status": dep.runtime_desired,
        "deployment_runtime_desired_status_since": dep.runtime_desired.map(|_| s.status_since.clone()),
        "deployment_error": error,
        "deployment_id": if deployed { Some(&d.pipeline_id) } else { None },
        "deployment_initial": dep.runtime_desired,
        "deployment_location": null,
        "deployment_config": null,
        "bootstrap_policy": null,
        "refresh_version": d.version,
        "storage_status": if storage_in_use { "InUse" } else { "Cleared" },
        "storage_status_details": null,
        "tags": e.tags,
        "connectors": null,
    });
    if selector == Selector::All {
        let o = out.as_object_mut().expect("an object");
        o.insert("program_code".into(), json!(e.program_code));
        o.insert("udf_rust".into(), json!(e.udf_rust));
        o.insert("udf_toml".into(), json!(e.udf_toml));
        o.insert("runtime_config".into(), e.runtime_config.clone());
        o.insert("program_error".into(), e.program_error.clone());
        o.insert("program_info".into(), json!(e.program_info));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every lifecycle state has Feldera's words; a failure reads as a stop wanted, which is how clients see a
    /// failed start.
    #[test]
    fn statuses_in_feldera_words() {
        use PipelineStatus as S;
        let d = deployment(S::Failed, S::Running);
        assert_eq!(
            (d.status, d.desired, d.runtime),
            ("Stopped", "Stopped", None)
        );
        let d = deployment(S::Running, S::Running);
        assert_eq!(
            (d.status, d.desired, d.resources),
            ("Running", "Running", "Provisioned")
        );
        let d = deployment(S::Paused, S::Running);
        assert_eq!(
            (d.status, d.desired, d.runtime),
            ("Paused", "Running", Some("Paused"))
        );
        let d = deployment(S::ShuttingDown, S::Shutdown);
        assert_eq!(
            (d.status, d.desired, d.resources),
            ("Stopping", "Stopped", "Stopping")
        );
        let d = deployment(S::Shutdown, S::Shutdown);
        assert_eq!(
            (d.status, d.desired, d.runtime_desired),
            ("Stopped", "Stopped", None)
        );
    }

    #[test]
    fn runtime_config_takes_feldera_fields_and_names_bad_ones() {
        let c = runtime_settings(
            &json!({"workers": 2, "tracing": false, "resources": {"cpu_cores_max": null}}),
        )
        .unwrap();
        assert_eq!(c.workers, 2);
        assert_eq!(c.fault_tolerance.model, FaultToleranceModel::AtLeastOnce);
        let c = runtime_settings(&json!({"fault_tolerance": {"model": "none"}})).unwrap();
        assert_eq!(c.fault_tolerance.model, FaultToleranceModel::None);
        let c = runtime_settings(
            &json!({"fault_tolerance": {"model": "exactly_once", "checkpoint_interval_secs": 5}}),
        )
        .unwrap();
        assert_eq!(c.fault_tolerance.model, FaultToleranceModel::ExactlyOnce);
        assert_eq!(c.fault_tolerance.checkpoint_interval_secs, 5);
        let e = runtime_settings(&json!({"workers": "two"})).unwrap_err();
        assert_eq!(e.field, "runtime_config.workers");
        let e = runtime_settings(&json!({"fault_tolerance": {"model": "twice"}})).unwrap_err();
        assert_eq!(e.field, "runtime_config.fault_tolerance.model");
        let e = runtime_settings(&json!({"fault_tolerance": {"checkpoint_interval_secs": 0}}))
            .unwrap_err();
        assert_eq!(
            e.field,
            "runtime_config.fault_tolerance.checkpoint_interval_secs"
        );
    }

    #[test]
    fn column_types_use_feldera_spellings() {
        let t = column_type(
            &SqlType::Array {
                element: Box::new(SqlType::Decimal {
                    precision: 10,
                    scale: 2,
                }),
                element_nullable: true,
            },
            false,
        );
        assert_eq!(t["type"], "ARRAY");
        assert_eq!(t["component"]["type"], "DECIMAL");
        assert_eq!(t["component"]["scale"], 2);
        assert_eq!(column_type(&SqlType::Int, true)["type"], "INTEGER");
        assert_eq!(column_type(&SqlType::varchar(), true)["precision"], -1);
    }
}
