//! The runner: moves each pipeline's current status towards its desired status by starting, pausing, resuming
//! and shutting down [`sluice_pipeline::Pipeline`]s inside this process.
//!
//! Lifecycle requests only record the desired status and call [`Runner::reconcile`] in the background, so they
//! answer `202 Accepted` at once. A reconciliation reads the pipeline from the database, acts, and writes the
//! current status (`Provisioning` → `Initializing` → `Running`/`Paused`, `ShuttingDown` → `Shutdown`, or
//! `Failed` with the error). Reconciliations of one pipeline run one at a time; each acts on the latest desired
//! status, so requests that arrive during a slow start are honoured when it ends.
//!
//! When the server starts, [`Runner::recover`] restarts the pipelines that were meant to run; when it stops,
//! [`Runner::stop_all`] shuts them down, flushing their outputs, without changing what they are meant to do.
//! A monitor task per running pipeline records a failure (an engine error, a panic) in the database.
//!
//! A pipeline whose `fault_tolerance.model` is `at_least_once` (the default) keeps its journal and checkpoints in
//! a directory of its own under the state directory, named by pipeline id; a start picks up from there, and
//! deleting the pipeline (or `clear`) deletes it.
//!
//! A middle floor: the runner is given the database, the secrets, the output directory and the state directory
//! ([`Runner::new`]) and knows nothing of HTTP; its errors are [`RunnerError`]s.

pub mod metrics;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sluice_pipeline::durable::{clear_state, DurableConfig, ExactlyOnceConfig};
use sluice_pipeline::{
    ControllerConfig, InputSpec, OutputSpec, Pipeline, PipelineError, PipelineSpec, PipelineState,
};
use sluice_sql::Program;
use sluice_types::{ConnectorConfig, ErrorResponse};

use crate::model::pipelines::{FaultToleranceModel, Pipeline as PipelineRecord, RuntimeConfig};
use crate::model::programs::canonical_identifier;
use crate::model::status::PipelineStatus;
use crate::model::ListFilter;
use crate::secrets::Secrets;
use crate::store::pipelines as db;
use crate::store::{Db, StoreError};

/// How long a shutdown waits for the output connectors' acknowledgements.
/// How long a pipeline's shutdown waits for its outputs' acknowledgements, unless the server is told otherwise
/// (`ServerConfig::shutdown_timeout`).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the monitor looks for a failure.
const MONITOR_INTERVAL: Duration = Duration::from_millis(200);

/// What the runner can fail with (a start failure is not one: it is recorded as the pipeline's error).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// Reading or writing the pipeline's row failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a pipeline did not start, recorded as its `PipelineStartFailed` error.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("the pipeline has no program")]
    NoProgram,
    #[error("program '{name}': {source}")]
    Program { name: String, source: StoreError },
    #[error("program '{name}' does not compile: {reason}")]
    Compile { name: String, reason: String },
    #[error("connector '{name}': {reason}")]
    Connector { name: String, reason: String },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("{0} panicked")]
    Panicked(&'static str),
}

impl StartError {
    fn connector(name: &str, reason: impl std::fmt::Display) -> StartError {
        StartError::Connector {
            name: name.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The pipelines running in this process, by pipeline id; cheap to clone (clones share them).
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    secrets: Secrets,
    file_output_dir: PathBuf,
    state_dir: PathBuf,
    /// How long a pipeline's shutdown waits for its outputs' acknowledgements.
    shutdown_timeout: Duration,
    live: RwLock<HashMap<String, Arc<Pipeline>>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Runner {
    /// A runner over `db`, resolving connector secrets with `secrets`, placing `file_output` files under
    /// `file_output_dir` and durable pipelines' state under `state_dir`; stopping a pipeline waits at most
    /// `shutdown_timeout` for its outputs.
    pub fn new(
        db: Db,
        secrets: Secrets,
        file_output_dir: PathBuf,
        state_dir: PathBuf,
        shutdown_timeout: Duration,
    ) -> Runner {
        Runner {
            inner: Arc::new(Inner {
                db,
                secrets,
                file_output_dir,
                state_dir,
                shutdown_timeout,
                live: RwLock::default(),
                locks: Mutex::default(),
            }),
        }
    }

    /// The running pipeline with id `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Pipeline>> {
        self.inner
            .live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Every running pipeline, by id.
    pub fn all(&self) -> Vec<(String, Arc<Pipeline>)> {
        let live = self.inner.live.read().unwrap_or_else(|p| p.into_inner());
        live.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn insert(&self, id: &str, p: Arc<Pipeline>) {
        let mut live = self.inner.live.write().unwrap_or_else(|p| p.into_inner());
        live.insert(id.to_string(), p);
    }

    fn remove(&self, id: &str) -> Option<Arc<Pipeline>> {
        let mut live = self.inner.live.write().unwrap_or_else(|p| p.into_inner());
        live.remove(id)
    }

    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(id.to_string()).or_default().clone()
    }

    /// The directory of pipeline `id`'s durable state.
    fn state_dir(&self, id: &str) -> PathBuf {
        self.inner.state_dir.join(id)
    }

    /// Whether pipeline `id` keeps durable state (checkpoints or a journal) from an earlier run.
    pub fn has_state(&self, id: &str) -> bool {
        self.state_dir(id).exists()
    }

    /// Deletes pipeline `id`'s durable state (checkpoints and journal); the caller makes sure it is not running.
    pub fn clear_state(&self, id: &str) -> Result<(), String> {
        clear_state(&self.state_dir(id)).map_err(|e| e.to_string())
    }

    /// Reconciles pipeline `id` in the background; errors are logged.
    pub fn spawn_reconcile(&self, id: &str) {
        let runner = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            if let Err(e) = runner.reconcile(&id).await {
                tracing::error!(pipeline_id = %id, error = %e, "Pipeline reconciliation failed.");
            }
        });
    }

    /// Moves pipeline `id` one transition towards its desired status.
    pub async fn reconcile(&self, id: &str) -> Result<(), RunnerError> {
        let runner = self;
        let lock = runner.lock_for(id);
        let _guard = lock.lock().await;
        let database = &self.inner.db;
        let Some(p) = db::get_by_id(database, id).await? else {
            // Deleted: nothing may keep running under its id.
            if let Some(live) = runner.remove(id) {
                shut_down(live, self.inner.shutdown_timeout).await;
            }
            return Ok(());
        };
        let current = p.state.current_status;
        let desired = p.state.desired_status;
        match (desired, runner.get(id)) {
            (PipelineStatus::Shutdown, Some(live)) => {
                db::set_current(database, id, PipelineStatus::ShuttingDown, None).await?;
                runner.remove(id);
                let errors = shut_down(live, self.inner.shutdown_timeout).await;
                // The pipeline is down either way; what was not delivered is kept as the error to read.
                let error = (!errors.is_empty())
                    .then(|| runtime_error("ShutdownIncomplete", errors.join("; ")));
                db::set_current(database, id, PipelineStatus::Shutdown, error.as_ref()).await?;
            }
            (PipelineStatus::Shutdown, None) => {
                if current != PipelineStatus::Shutdown || p.state.error.is_some() {
                    db::set_current(database, id, PipelineStatus::Shutdown, None).await?;
                }
            }
            (_, None) if current == PipelineStatus::Failed => {}
            (wanted, None) => {
                db::set_current(database, id, PipelineStatus::Provisioning, None).await?;
                match self.start(&p, wanted == PipelineStatus::Paused).await {
                    Ok(live) => {
                        runner.insert(id, live.clone());
                        db::set_current(database, id, wanted, None).await?;
                        tokio::spawn(self.clone().monitor(id.to_string(), live));
                    }
                    Err(message) => {
                        tracing::warn!(pipeline = %p.descriptor.name, error = %message, "Pipeline failed to start.");
                        let error = runtime_error("PipelineStartFailed", message.to_string());
                        db::set_current(database, id, PipelineStatus::Failed, Some(&error)).await?;
                    }
                }
            }
            (wanted, Some(live)) => {
                if live.state().0 == PipelineState::Failed {
                    return Ok(());
                }
                if wanted == PipelineStatus::Paused {
                    live.pause();
                } else {
                    live.resume();
                }
                if current != wanted {
                    db::set_current(database, id, wanted, None).await?;
                }
            }
        }
        Ok(())
    }

    /// Starts reconciling every pipeline that is not shut down and meant to stay so (after a server restart).
    pub async fn recover(&self) -> Result<(), RunnerError> {
        for p in db::list(&self.inner.db, &ListFilter::default()).await? {
            let s = &p.state;
            if s.desired_status != PipelineStatus::Shutdown
                || s.current_status != PipelineStatus::Shutdown
            {
                // The status stored by the previous process is stale: nothing runs yet. Say so before the API
                // answers, so no client sees `Running` for a pipeline that is still starting.
                if s.current_status != PipelineStatus::Failed {
                    let now = if s.desired_status == PipelineStatus::Shutdown {
                        PipelineStatus::Shutdown
                    } else {
                        PipelineStatus::Provisioning
                    };
                    db::set_current(&self.inner.db, &s.pipeline_id, now, None).await?;
                }
                self.spawn_reconcile(&s.pipeline_id);
            }
        }
        Ok(())
    }

    /// Shuts down every running pipeline (flushing outputs), leaving their desired status as it is so that the
    /// next server start runs them again.
    pub async fn stop_all(&self) {
        let all: Vec<_> = {
            let mut live = self.inner.live.write().unwrap_or_else(|p| p.into_inner());
            live.drain().collect()
        };
        // All at once: one after the other, N pipelines with stuck outputs would take N times the timeout.
        let stopping: Vec<_> = all
            .into_iter()
            .map(|(_, p)| tokio::spawn(shut_down(p, self.inner.shutdown_timeout)))
            .collect();
        for s in stopping {
            let _ = s.await;
        }
    }
}

fn runtime_error(code: &str, message: String) -> ErrorResponse {
    ErrorResponse {
        // Stored and shown: no secret value may be in it (a broker or librdkafka may quote one).
        message: sluice_types::secret::redact::scrub(&message).into_owned(),
        error_code: code.to_string(),
        details: serde_json::json!({}),
    }
}

/// Shuts `live` down on a blocking thread; the errors say what was not delivered.
async fn shut_down(live: Arc<Pipeline>, timeout: Duration) -> Vec<String> {
    tokio::task::spawn_blocking(move || live.shutdown(timeout).err().unwrap_or_default())
        .await
        .unwrap_or_else(|e| vec![format!("shutdown panicked: {e}")])
}

impl Runner {
    /// Records a failure of `live` in the database, once, while it is the running instance of `id`.
    async fn monitor(self, id: String, live: Arc<Pipeline>) {
        loop {
            tokio::time::sleep(MONITOR_INTERVAL).await;
            match self.get(&id) {
                Some(p) if Arc::ptr_eq(&p, &live) => {}
                _ => return,
            }
            if let (PipelineState::Failed, Some(error)) = live.state() {
                let lock = self.lock_for(&id);
                let _guard = lock.lock().await;
                let error = runtime_error("PipelineFailed", error);
                if let Err(e) =
                    db::set_current(&self.inner.db, &id, PipelineStatus::Failed, Some(&error)).await
                {
                    tracing::error!(pipeline_id = %id, error = %e, "Could not record a pipeline failure.");
                }
                return;
            }
        }
    }

    /// Builds the pipeline's spec from the database and starts it; the error says which part failed and why.
    async fn start(&self, p: &PipelineRecord, paused: bool) -> Result<Arc<Pipeline>, StartError> {
        let spec = self.spec(p).await?;
        let pipeline = tokio::task::spawn_blocking(move || Pipeline::start(spec, paused))
            .await
            .map_err(|_| StartError::Panicked("start"))??;
        Ok(Arc::new(pipeline))
    }

    async fn spec(&self, p: &PipelineRecord) -> Result<PipelineSpec, StartError> {
        let d = &p.descriptor;
        // (the connector as errors name it, endpoint name, feeds a table, relation, the stored config text).
        let mut connectors: Vec<(String, String, bool, String, String)> = Vec::new();
        let (program_name, code) = match &p.embedded {
            Some(e) => {
                for c in &e.connectors {
                    connectors.push((
                        c.endpoint.clone(),
                        c.endpoint.clone(),
                        c.is_input,
                        c.relation.clone(),
                        c.config.to_string(),
                    ));
                }
                (d.name.clone(), e.program_code.clone())
            }
            None => {
                let program_name = d.program_name.clone().ok_or(StartError::NoProgram)?;
                let program = crate::store::programs::get(&self.inner.db, &program_name, true)
                    .await
                    .map_err(|source| StartError::Program {
                        name: program_name.clone(),
                        source,
                    })?;
                for a in &d.attached_connectors {
                    let name = &a.connector_name;
                    let connector = crate::store::connectors::get(&self.inner.db, name)
                        .await
                        .map_err(|e| StartError::connector(name, e))?;
                    connectors.push((
                        name.clone(),
                        a.name.clone(),
                        a.is_input,
                        canonical_identifier(&a.relation_name),
                        connector.config.get().to_string(),
                    ));
                }
                (program_name, program.code.unwrap_or_default())
            }
        };
        let durable = durable_config(
            &d.config,
            self.state_dir(&p.state.pipeline_id),
            &code,
            &p.state.pipeline_id,
        );
        let program = tokio::task::spawn_blocking(move || Program::compile(&code))
            .await
            .map_err(|_| StartError::Panicked("compiling"))?
            .map_err(|e| StartError::Compile {
                name: program_name.clone(),
                reason: e.to_string(),
            })?;
        let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
        for (label, name, is_input, relation, text) in connectors {
            let resolved = self
                .inner
                .secrets
                .resolve(&text)
                .map_err(|e| StartError::connector(&label, e))?;
            let config: ConnectorConfig = serde_json::from_value(resolved)
                .map_err(|e| StartError::connector(&label, format!("stored config: {e}")))?;
            let config = in_output_dir(config, &self.inner.file_output_dir)
                .map_err(|e| StartError::connector(&label, e))?;
            if is_input {
                inputs.push(InputSpec {
                    name,
                    table: relation,
                    config,
                    group_scope: Some(p.state.pipeline_id.clone()),
                });
            } else {
                outputs.push(OutputSpec {
                    name,
                    view: relation,
                    config,
                });
            }
        }
        Ok(PipelineSpec {
            name: d.name.clone(),
            program,
            config: controller_config(&d.config),
            inputs,
            outputs,
            durable,
        })
    }
}

/// The durable settings of a pipeline whose model is `at_least_once` or `exactly_once`; `None` for `none`. The
/// program is known by a hash of its SQL, so that state saved by another program is refused rather than misread;
/// exactly-once output names its Kafka transactions after the pipeline's id, which outlives renames.
fn durable_config(
    config: &RuntimeConfig,
    state_dir: PathBuf,
    code: &str,
    pipeline_id: &str,
) -> Option<DurableConfig> {
    let ft = &config.fault_tolerance;
    let exactly_once = match ft.model {
        FaultToleranceModel::None => return None,
        FaultToleranceModel::AtLeastOnce => None,
        FaultToleranceModel::ExactlyOnce => Some(ExactlyOnceConfig {
            scope: pipeline_id.to_string(),
        }),
    };
    Some(DurableConfig {
        state_dir,
        checkpoint_interval: Duration::from_secs(ft.checkpoint_interval_secs.max(1)),
        program_fingerprint: format!("sha256:{:x}", Sha256::digest(code.as_bytes())),
        exactly_once,
    })
}

/// A `file_output` config with its path made absolute under the output directory (created when missing).
fn in_output_dir(mut config: ConnectorConfig, dir: &Path) -> Result<ConnectorConfig, String> {
    if let sluice_types::TransportConfig::FileOutput(file) = &mut config.transport {
        let path = crate::validate::file_output_path(dir, &file.path)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create directory {}: {e}", parent.display()))?;
        }
        file.path = path.display().to_string();
    }
    Ok(config)
}

fn controller_config(c: &RuntimeConfig) -> ControllerConfig {
    let defaults = RuntimeConfig::default();
    let ignored = [
        ("storage", c.storage != defaults.storage),
        ("cpu_profiler", c.cpu_profiler != defaults.cpu_profiler),
        ("tracing", c.tracing != defaults.tracing),
        ("resources", c.resources != defaults.resources),
        ("min_storage_bytes", c.min_storage_bytes.is_some()),
    ];
    for (field, _) in ignored.iter().filter(|(_, set)| *set) {
        tracing::warn!(
            field,
            "Pipeline config setting accepted for compatibility; it has no effect in this version."
        );
    }
    ControllerConfig {
        workers: usize::from(c.workers.max(1)),
        min_batch_size_records: c.min_batch_size_records,
        max_buffering_delay: Duration::from_micros(c.max_buffering_delay_usecs),
        ..ControllerConfig::default()
    }
}
