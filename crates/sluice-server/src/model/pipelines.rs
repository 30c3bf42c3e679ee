//! Pipelines as the API shows them (descriptor and runtime state) and as requests describe them.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sluice_types::{ConfigError, ErrorResponse};
use utoipa::ToSchema;

use super::programs::ProgramSchema;
use super::status::PipelineStatus;

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
    /// What survives a restart or a crash (Feldera's field). Sluice's default is `at_least_once`, where Feldera's
    /// is none: a sink that forgets its views at a restart is not a safe default.
    pub fault_tolerance: FaultTolerance,
}

/// `fault_tolerance`: the model and how often to checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FaultTolerance {
    /// `none` (state lives in memory only: a restart starts from empty views and forgets input that was not
    /// stepped), `at_least_once` (input is journaled before it is acknowledged and state is checkpointed; a
    /// restart or crash loses nothing and may send again changes sent since the last checkpoint), or
    /// `exactly_once` (as `at_least_once`, and every change reaches each Kafka output exactly once: with
    /// transactions, or with progress markers on brokers without them). `null` means `none`, as in Feldera.
    #[serde(deserialize_with = "model_or_null")]
    pub model: FaultToleranceModel,
    /// Seconds between automatic checkpoints, 1 to 3600. Default 60.
    pub checkpoint_interval_secs: u64,
}

impl Default for FaultTolerance {
    fn default() -> Self {
        FaultTolerance {
            model: FaultToleranceModel::AtLeastOnce,
            checkpoint_interval_secs: 60,
        }
    }
}

/// A fault-tolerance model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultToleranceModel {
    /// Nothing survives the process.
    None,
    /// No acknowledged input or change is lost; changes since the last checkpoint may be sent twice.
    AtLeastOnce,
    /// As `at_least_once`, and Kafka outputs deliver every change exactly once.
    ExactlyOnce,
}

fn model_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<FaultToleranceModel, D::Error> {
    Ok(Option::<FaultToleranceModel>::deserialize(d)?.unwrap_or(FaultToleranceModel::None))
}

/// The longest checkpoint interval accepted, as in Feldera (which clamps where Sluice refuses).
pub const MAX_CHECKPOINT_INTERVAL_SECS: u64 = 3600;

impl RuntimeConfig {
    /// Checks what the types cannot: refuses an interval out of range, naming the field (under `config.`).
    pub fn check(&self) -> Result<(), ConfigError> {
        let ft = &self.fault_tolerance;
        if !(1..=MAX_CHECKPOINT_INTERVAL_SECS).contains(&ft.checkpoint_interval_secs) {
            return Err(ConfigError::new(
                "config.fault_tolerance.checkpoint_interval_secs",
                format!(
                    "must be between 1 and {MAX_CHECKPOINT_INTERVAL_SECS} seconds, got {}",
                    ft.checkpoint_interval_secs
                ),
            ));
        }
        Ok(())
    }
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
            fault_tolerance: FaultTolerance::default(),
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
    /// The program of a pipeline written with `program_code`, shown in Feldera's current shape instead (see
    /// [`super::embedded`]).
    #[serde(skip)]
    pub embedded: Option<super::embedded_program::EmbeddedProgram>,
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

/// An attachment that does not fit the program or the connector it names.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// Inputs naming relations that are not tables of the program: `(attachment, relation)` pairs.
    #[error("Pipeline configuration specifies invalid connector->table pairs '{}': The table(s) don't exist in the program", pairs(.missing))]
    TablesNotInSchema {
        /// The offending pairs.
        missing: Vec<(String, String)>,
    },
    /// Outputs naming relations that are not views of the program.
    #[error("Pipeline configuration specifies invalid connector->view pairs '{}': The view(s) don't exist in the program", pairs(.missing))]
    ViewsNotInSchema {
        /// The offending pairs.
        missing: Vec<(String, String)>,
    },
    /// An attachment that contradicts itself or its connector.
    #[error("Invalid attached connector '{name}': {reason}")]
    Invalid {
        /// The attachment name.
        name: String,
        /// Why.
        reason: String,
    },
}

fn pairs(missing: &[(String, String)]) -> String {
    missing
        .iter()
        .map(|(a, r)| format!("{a} -> {r}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that every input names a table and every output a view of `schema`.
pub fn check_relations(
    schema: &ProgramSchema,
    attached: &[AttachedConnector],
) -> Result<(), AttachmentError> {
    let missing = |inputs: bool| -> Vec<(String, String)> {
        attached
            .iter()
            .filter(|a| a.is_input == inputs)
            .filter(|a| {
                if inputs {
                    !schema.has_table(&a.relation_name)
                } else {
                    !schema.has_view(&a.relation_name)
                }
            })
            .map(|a| (a.name.clone(), a.relation_name.clone()))
            .collect()
    };
    let tables = missing(true);
    if !tables.is_empty() {
        return Err(AttachmentError::TablesNotInSchema { missing: tables });
    }
    let views = missing(false);
    if !views.is_empty() {
        return Err(AttachmentError::ViewsNotInSchema { missing: views });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::programs::ProgramRelation;
    use sluice_data::Relation;

    fn attached(name: &str, is_input: bool, relation: &str) -> AttachedConnector {
        AttachedConnector {
            name: name.into(),
            is_input,
            connector_name: "c".into(),
            relation_name: relation.into(),
        }
    }

    /// No input transport can be created through the API yet, so the table check is tested here.
    #[test]
    fn inputs_need_tables_and_outputs_need_views() {
        let schema = ProgramSchema {
            inputs: vec![ProgramRelation::plain(Relation::new("orders", vec![]))],
            outputs: vec![ProgramRelation::plain(Relation::new("totals", vec![]))],
            warnings: vec![],
        };
        check_relations(
            &schema,
            &[
                attached("i", true, "Orders"),
                attached("o", false, "totals"),
            ],
        )
        .unwrap();
        match check_relations(&schema, &[attached("i", true, "totals")]) {
            Err(AttachmentError::TablesNotInSchema { missing }) => {
                assert_eq!(missing, vec![("i".to_string(), "totals".to_string())])
            }
            other => panic!("{other:?}"),
        }
        match check_relations(&schema, &[attached("o", false, "orders")]) {
            Err(AttachmentError::ViewsNotInSchema { missing }) => {
                assert_eq!(missing, vec![("o".to_string(), "orders".to_string())])
            }
            other => panic!("{other:?}"),
        }
    }
}
