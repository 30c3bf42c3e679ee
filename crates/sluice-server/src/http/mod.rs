//! The HTTP floor: the one error type and its JSON body ([`error`]), the extractors that turn malformed requests
//! into those errors ([`extract`]), authentication ([`auth`]), the browser guard ([`browser`]), request metrics
//! ([`metrics`]), the middleware that applies them ([`middleware`]) and the state every handler shares ([`state`]).
//!
//! It sits above the model, storage and the runner and converts their errors ([`error::ApiError`] implements
//! `From` for each); the handlers in [`crate::api`] sit above it.

pub mod auth;
pub mod browser;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod state;

/// 201 for a create, 200 for a replace (the PUT endpoints).
pub fn created_or_ok(created: bool) -> axum::http::StatusCode {
    if created {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::OK
    }
}
