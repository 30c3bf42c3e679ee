//! The Sluice REST API (`/v0`) and its durable storage.
//!
//! # Brief overview
//! [`router`] builds the axum [`Router`] of every endpoint over an [`AppState`]: the database ([`Db`], SQLite or
//! PostgreSQL), the [`AuthMode`], the request body limit and the program compiler. [`run`] serves it on an already
//! bound listener until a shutdown future completes, so tests bind port 0.
//!
//! # Floors
//! Each floor imports only from the floors below it (the tidy test checks that no file import circle exists):
//! 1. `model`: the `/v0` JSON shapes, pipeline statuses and their rules, the naming rule. Data only.
//! 2. `store`: one file per table, portable SQL; errors are `StoreError`, never HTTP types.
//! 3. `compiler`, `validate`, `secrets`, `runner`: compiling programs, checking connector configs, sealing and
//!    resolving secrets, running pipelines. Each has its own error type.
//! 4. `http`: `ApiError` (with `From` for every error below) answered as `{"message", "error_code", "details"}`,
//!    extractors, authentication, the browser guard, request metrics and the shared state.
//! 5. `api`: the handlers, one file per resource, and the router.
//!
//! Only what the binary and the tests use is public; the rest is `pub(crate)`.
//!
//! The API follows Feldera's mid-2024 `/v0` API; `docs/api.md` lists where it deliberately differs.
//!
//! This crate knows HTTP and the database; it must not depend on the engine's internals (dbsp).

mod api;
mod compiler;
mod declared;
mod http;
mod model;
mod runner;
mod secrets;
mod store;
mod validate;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

pub use api::route_table;
pub use compiler::{ProgramCompiler, UnavailableCompiler};
pub use http::auth::AuthMode;
pub use http::browser::{validate_origin, BrowserPolicy};
pub use http::state::{AppState, ServerConfig, DEFAULT_MAX_BODY_BYTES};
pub use model::api_keys::{ApiPermission, NewApiKey};
pub use secrets::{SecretKey, Secrets};
pub use store::api_keys::create_api_key;
pub use store::{Db, DbLocation, OpenError, StoreError};

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
    if let Err(e) = state.runner().recover().await {
        tracing::error!(error = %e, "Could not restart the pipelines that were running.");
    }
    let served = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    state.runner().stop_all().await;
    served
}
