//! API keys as the API shows them: scopes, descriptors, the create request and its one-time answer.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What a key allows: `Read` (GET requests and the egress stream), `Write` (every other request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ApiPermission {
    /// Read.
    Read,
    /// Write.
    Write,
}

/// A stored key (without the key).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyDescr {
    /// Its id (UUID v7).
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it allows.
    pub scopes: Vec<ApiPermission>,
}

/// Body of `POST /v0/api_keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKeyRequest {
    /// The key's name.
    pub name: String,
    /// What the key may do; both `Read` and `Write` when absent or empty. `["Read"]` makes a read-only key.
    #[serde(default)]
    pub scopes: Vec<ApiPermission>,
}

/// A key just created: the only time its text is shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewApiKey {
    /// Its id.
    pub api_key_id: String,
    /// Its name.
    pub name: String,
    /// The key, `apikey:...`; send it as `Authorization: Bearer apikey:...`.
    pub api_key: String,
}

/// `?name=` of the list endpoint.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiKeyQuery {
    /// Only the key with this name.
    pub name: Option<String>,
}
