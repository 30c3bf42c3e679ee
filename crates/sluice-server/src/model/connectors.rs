//! Connectors as the API shows them and as requests describe them.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use utoipa::ToSchema;

/// A stored connector.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorDescr {
    /// Its id (UUID v7), kept across replacements and renames.
    pub connector_id: String,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The config as stored: normalized, with every default filled in.
    #[schema(value_type = Object)]
    pub config: Box<RawValue>,
}

/// Body of `POST /v0/connectors`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConnectorRequest {
    /// The name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The connector config (`{"transport": ..., "format": ...}`).
    #[schema(value_type = Object)]
    pub config: Value,
}

/// Body of `PUT /v0/connectors/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrReplaceConnectorRequest {
    /// Free text.
    pub description: String,
    /// The connector config.
    #[schema(value_type = Object)]
    pub config: Value,
}

/// Body of `PATCH /v0/connectors/{name}`: absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnectorRequest {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new config, replacing the whole config.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}

/// Answer of a create or replace.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConnectorIdResponse {
    /// The connector's id.
    pub connector_id: String,
}

/// Answer of a patch (empty object).
#[derive(Debug, Serialize, ToSchema)]
pub struct UpdateConnectorResponse {}

/// Why a connector config is refused, naming the field by its path in the request body.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorConfigError {
    /// A field that is missing, malformed or not allowed.
    #[error("Invalid connector config: {field}: {reason}")]
    Invalid {
        /// Dotted path of the field inside the request body (`config.transport.config.topic`).
        field: String,
        /// Why it is refused.
        reason: String,
    },
    /// A transport users may not create (`http_input`, `http_output`).
    #[error("Invalid connector transport: '{reason}'")]
    Transport {
        /// Why.
        reason: String,
    },
    /// A stored config this version cannot read.
    #[error("corrupt connector config: {0}")]
    Corrupt(String),
}
