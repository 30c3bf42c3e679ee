//! Reading JSON into the model's types with the path of the field that failed (`config.transport.config.topic`),
//! and serde_json's messages without their line and column, which mean nothing next to a field path.

use serde::de::DeserializeOwned;

/// Deserializes an already parsed JSON value as `T`; errors carry the path inside `value`.
pub fn from_value<T: DeserializeOwned>(
    value: &serde_json::Value,
) -> Result<T, (String, serde_json::Error)> {
    serde_path_to_error::deserialize(value).map_err(|e| (path_text(e.path()), e.into_inner()))
}

/// The dotted path, empty for the root (serde_path_to_error writes the root as `.`, an unknown place as `?`).
pub fn path_text(path: &serde_path_to_error::Path) -> String {
    let text = path.to_string();
    if text == "." || text == "?" {
        String::new()
    } else {
        text
    }
}

/// serde_json's message without its ` at line L column C` suffix, which is noise next to a field path.
pub fn serde_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}
