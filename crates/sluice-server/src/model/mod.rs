//! The bottom floor: the `/v0` JSON shapes (requests, answers, descriptors), the pipeline statuses and their
//! rules, and the naming rule.
//!
//! Everything here is data and pure functions over it. Storage, the runner and the HTTP layer all speak these
//! types, so they live below all of them: this module imports nothing from the rest of the crate.

pub mod api_keys;
pub mod connectors;
pub mod decode;
pub mod embedded;
pub mod embedded_program;
pub mod names;
pub mod pipelines;
pub mod programs;
pub mod status;

/// An optional `?id=` / `?name=` filter of a list endpoint.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListFilter {
    /// Only the entity with this id.
    pub id: Option<String>,
    /// Only the entity with this name.
    pub name: Option<String>,
}
