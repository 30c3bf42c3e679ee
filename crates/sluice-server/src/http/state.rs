//! What every handler shares ([`AppState`]) and the server's settings ([`ServerConfig`]).

use std::sync::Arc;

use super::auth::AuthMode;
use super::browser::BrowserPolicy;
use super::metrics::Metrics;
use crate::compiler::{ProgramCompiler, SqlCompiler};
use crate::runner::Runner;
use crate::secrets::Secrets;
use crate::store::Db;

/// The default request body limit: 2 MiB, as Feldera's server had.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The default limit of one ingress body: 256 MiB. Bodies are parsed as they arrive, so this bounds the records
/// one request can hold in memory, not a copy of the text.
pub const DEFAULT_MAX_INGRESS_BYTES: u64 = 256 * 1024 * 1024;

/// Settings of the API server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Whether `/v0` needs an API key.
    pub auth: AuthMode,
    /// The largest request body accepted, except ingress bodies; larger ones get 413.
    pub max_body_bytes: usize,
    /// The largest ingress body accepted; larger ones get 413.
    pub max_ingress_bytes: u64,
    /// Secret storage and resolution, and which dangerous connector options are allowed.
    pub secrets: Secrets,
    /// Which requests a browser may send ([`super::browser`]).
    pub browser: BrowserPolicy,
    /// Whether `/metrics` needs an API key too (with [`AuthMode::ApiKey`]).
    pub metrics_need_key: bool,
    /// The directory `file_output` connectors write under (their `path` is relative to it).
    pub file_output_dir: std::path::PathBuf,
    /// The directory durable pipelines keep their journal and checkpoints under, one directory per pipeline id.
    pub state_dir: std::path::PathBuf,
    /// How long stopping a pipeline waits for its outputs' acknowledgements; the server's own stop takes at most
    /// this plus a few seconds, whatever clients hold open.
    pub shutdown_timeout: std::time::Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            auth: AuthMode::None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_ingress_bytes: DEFAULT_MAX_INGRESS_BYTES,
            secrets: Secrets::default(),
            browser: BrowserPolicy::default(),
            metrics_need_key: false,
            file_output_dir: std::env::temp_dir().join("sluice-files"),
            state_dir: std::env::temp_dir().join("sluice-state"),
            shutdown_timeout: crate::runner::DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    config: ServerConfig,
    compiler: Arc<dyn ProgramCompiler>,
    metrics: Metrics,
    runner: Runner,
}

impl AppState {
    /// A state over `db` with the compiler of this build ([`SqlCompiler`]).
    pub fn new(db: Db, config: ServerConfig) -> Self {
        Self::with_compiler(db, config, Arc::new(SqlCompiler))
    }

    /// A state with a specific compiler (the SQL engine, or a test double).
    pub fn with_compiler(db: Db, config: ServerConfig, compiler: Arc<dyn ProgramCompiler>) -> Self {
        let runner = Runner::new(
            db.clone(),
            config.secrets.clone(),
            config.file_output_dir.clone(),
            config.state_dir.clone(),
            config.shutdown_timeout,
        );
        AppState {
            inner: Arc::new(Inner {
                db,
                config,
                compiler,
                metrics: Metrics::default(),
                runner,
            }),
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The server settings.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The body limit.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.config.max_body_bytes
    }

    /// The program compiler.
    pub fn compiler(&self) -> &Arc<dyn ProgramCompiler> {
        &self.inner.compiler
    }

    /// The pipelines running in this process.
    pub fn runner(&self) -> &Runner {
        &self.inner.runner
    }

    /// The request metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}
