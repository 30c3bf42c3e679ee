//! The error body of every API answer, and the error type of config validation.

use serde::{Deserialize, Serialize};

/// The JSON body of every error the REST API returns: `{"message", "error_code", "details"}`.
///
/// `error_code` is a stable CamelCase string clients may match on; `message` is for humans; `details` carries the
/// error's fields as an object (never `null`, so clients can always index into it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ErrorBody))]
pub struct ErrorResponse {
    /// Human-readable description.
    pub message: String,
    /// Stable machine-readable code, e.g. `UnknownConnectorName`.
    pub error_code: String,
    /// Structured fields of the error, an object.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
}

/// A configuration value that is missing, malformed or not allowed, with where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// Dotted path of the offending field inside the connector config, e.g. `transport.config.topic`.
    pub field: String,
    /// Why the value is rejected, and what would be accepted.
    pub reason: String,
}

impl ConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error, with its field path put under `prefix` (`topic` under `transport.config`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}
