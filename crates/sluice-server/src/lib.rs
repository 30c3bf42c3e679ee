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

use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

pub use api::route_table;
pub use compiler::{ProgramCompiler, UnavailableCompiler};
pub use http::auth::AuthMode;
pub use http::browser::{validate_origin, BrowserPolicy};
pub use http::state::{AppState, ServerConfig, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INGRESS_BYTES};
pub use model::api_keys::{ApiPermission, NewApiKey};
pub use secrets::{SecretKey, Secrets};
pub use store::api_keys::create_api_key;
pub use store::{Db, DbLocation, OpenError, StoreError};

/// Every route of the server over `state`.
pub fn router(state: AppState) -> Router {
    api::router(state)
}

/// How long the server waits, after the pipelines stopped, for connections still open (a client that keeps a
/// finished response open) before it closes them.
const CONNECTION_GRACE: Duration = Duration::from_secs(5);

/// Restarts the pipelines meant to run and serves the API on `listener` until `shutdown` completes. Then it stops
/// accepting connections and, while the requests in flight finish, shuts the running pipelines down, all at once
/// (flushing their outputs, at most `ServerConfig::shutdown_timeout`): a pipeline's shutdown is also what ends its egress watches, which would
/// otherwise hold the server open for ever. Connections still open [`CONNECTION_GRACE`] after that are closed.
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
    let (stop_serving, serving_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(async move {
            let _ = serving_stopped.await;
        })
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => {
            // The listener failed: nothing serves the pipelines any more.
            state.runner().stop_all().await;
            return served;
        }
        () = shutdown => {}
    }
    let _ = stop_serving.send(());
    let runner = state.runner().clone();
    let mut stopping = tokio::spawn(async move { runner.stop_all().await });
    // The requests in flight and the pipelines' shutdown go on together; whichever ends first, the other is waited
    // for (connections at most CONNECTION_GRACE once no pipeline runs).
    let served = tokio::select! {
        served = &mut server => {
            let _ = stopping.await;
            Some(served)
        }
        _ = &mut stopping => tokio::time::timeout(CONNECTION_GRACE, &mut server).await.ok(),
    };
    served.unwrap_or_else(|| {
        tracing::warn!("Connections were still open after the pipelines stopped; closing them.");
        Ok(())
    })
}
