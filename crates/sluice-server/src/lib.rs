//! The Sluice REST API (`/v0`) and its durable storage.
//!
//! # Brief overview
//! [`router`] builds the axum [`Router`] of every endpoint over an [`AppState`]: the database ([`db::Db`],
//! SQLite or PostgreSQL), the [`auth::AuthMode`], the request body limit and the [`compiler::ProgramCompiler`].
//! [`run`] serves it on an already bound listener until a shutdown future completes, so tests bind port 0.
//!
//! Requests go through [`extract`] (JSON bodies, queries and names that fail become JSON errors), the handlers
//! in [`api`] (one file per resource), and [`db`] (one file per table, portable SQL). Every failure is an
//! [`error::ApiError`], answered as `{"message", "error_code", "details"}`. Connector configs are checked by
//! [`validate::validate_connector_config`]; pipeline lifecycle rules live in [`pipeline_state`].
//!
//! The API follows Feldera's mid-2024 `/v0` API; `docs/api.md` lists where it deliberately differs.
//!
//! This crate knows HTTP and the database; it must not depend on the engine's internals (dbsp).

pub mod api;
pub mod auth;
pub mod browser;
pub mod compiler;
pub mod db;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod names;
pub mod pipeline_metrics;
pub mod pipeline_state;
pub mod runner;
pub mod secrets;
pub mod validate;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::auth::AuthMode;
use crate::browser::BrowserPolicy;
use crate::compiler::{ProgramCompiler, SqlCompiler};
use crate::db::Db;
use crate::metrics::Metrics;
use crate::runner::Runner;
use crate::secrets::Secrets;

/// The default request body limit: 2 MiB, as Feldera's server had.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Settings of the API server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Whether `/v0` needs an API key.
    pub auth: AuthMode,
    /// The largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// Secret storage and resolution, and which dangerous connector options are allowed.
    pub secrets: Secrets,
    /// Which requests a browser may send ([`browser`]).
    pub browser: BrowserPolicy,
    /// Whether `/metrics` needs an API key too (with [`AuthMode::ApiKey`]).
    pub metrics_need_key: bool,
    /// The directory `file_output` connectors write under (their `path` is relative to it).
    pub file_output_dir: std::path::PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            auth: AuthMode::None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            secrets: Secrets::default(),
            browser: BrowserPolicy::default(),
            metrics_need_key: false,
            file_output_dir: std::env::temp_dir().join("sluice-files"),
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
        AppState {
            inner: Arc::new(Inner {
                db,
                config,
                compiler,
                metrics: Metrics::default(),
                runner: Runner::default(),
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

/// Every route of the server over `state`.
pub fn router(state: AppState) -> Router {
    api::router(state)
}

/// Restarts the pipelines meant to run, serves the API on `listener` until `shutdown` completes, finishes the
/// requests in flight, then shuts the running pipelines down (flushing their outputs).
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state
        .config()
        .secrets
        .seal_stored(state.db())
        .await
        .map_err(|e| std::io::Error::other(format!("sealing stored secret values: {e}")))?;
    if let Err(e) = Runner::recover(&state).await {
        tracing::error!(error = %e, "Could not restart the pipelines that were running.");
    }
    let served = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    state.runner().stop_all().await;
    served
}
