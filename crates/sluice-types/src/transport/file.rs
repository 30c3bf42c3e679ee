//! The `file_output` transport config (Feldera's name and shape): `{"path": "changes.jsonl"}`.
//!
//! Where the path may point is the server's decision (its operator names an output directory); this type only
//! checks that a path is given.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Configuration of the `file_output` transport: every message is appended to the file as one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOutputConfig {
    /// The file; created when missing, appended to when present.
    pub path: String,
}

impl FileOutputConfig {
    /// A path is given and has no NUL byte.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.path.trim().is_empty() {
            return Err(ConfigError::new("path", "required: the file to write"));
        }
        if self.path.contains('\0') {
            return Err(ConfigError::new("path", "must not contain a NUL byte"));
        }
        Ok(())
    }
}
