//! The CSV format config.

use serde::{Deserialize, Serialize};

use super::message::{DeletePolicy, KeyFormat, MessageOptions};
use crate::ConfigError;

/// Configuration of the CSV encoder.
///
/// Each record is one line, its fields in column order followed by the record's weight (Feldera's layout:
/// `1,foo,1` for an insert, `1,foo,-1` for a delete).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvEncoderConfig {
    /// Field separator, one ASCII character other than `"`, CR or LF. Default `,`.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// The most records one message may carry. Default 1.
    #[serde(default = "default_buffer_size_records")]
    pub buffer_size_records: usize,
    /// Start every message with a header line of column names (and `__weight`), so that each message is a
    /// self-describing CSV document. Default false.
    #[serde(default)]
    pub header: bool,
    /// End each line with the record's weight (default true). `false` writes the plain row, for views that only
    /// grow; `on_delete` then says what a delete does, and weights above 1 become repeated lines.
    #[serde(default = "default_weight_column")]
    pub weight_column: bool,
    /// Without the weight column only: what a deleted row does (`fail` by default, `op_header`, `drop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<DeletePolicy>,
    /// The columns that form each message's key (none by default). Needs one record per message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fields: Option<Vec<String>>,
    /// How the key is written: `json` (default, `{"id":1}`) or `text` (one key column, its value as text).
    #[serde(default, skip_serializing_if = "KeyFormat::is_json")]
    pub key_format: KeyFormat,
    /// One message header per named column, the value as text (NULL: a header without a value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub header_fields: Vec<String>,
    /// Add the headers `sluice.op`, `sluice.view` and `sluice.step`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub system_headers: bool,
}

const fn default_weight_column() -> bool {
    true
}

const fn default_delimiter() -> char {
    ','
}

const fn default_buffer_size_records() -> usize {
    1
}

impl Default for CsvEncoderConfig {
    fn default() -> Self {
        CsvEncoderConfig {
            delimiter: default_delimiter(),
            buffer_size_records: default_buffer_size_records(),
            header: false,
            weight_column: true,
            on_delete: None,
            key_fields: None,
            key_format: KeyFormat::Json,
            header_fields: Vec::new(),
            system_headers: false,
        }
    }
}

impl CsvEncoderConfig {
    /// The key and header settings, for checking and for the encoder.
    pub fn message_options(&self) -> MessageOptions<'_> {
        MessageOptions {
            key_fields: self.key_fields.as_deref(),
            key_format: self.key_format,
            header_fields: &self.header_fields,
            system_headers: self.system_headers,
        }
    }

    /// What a delete does without the weight column.
    pub fn delete_policy(&self) -> DeletePolicy {
        self.on_delete.unwrap_or_default()
    }

    /// Checks an output format: the shared rules, plus keys and headers. Field paths are relative to the
    /// format's `config`.
    pub fn validate_for_output(&self) -> Result<(), ConfigError> {
        self.validate()?;
        if self.on_delete.is_some() && self.weight_column {
            return Err(ConfigError::new(
                "on_delete",
                "applies only with weight_column false (with the weight column a delete is a line of weight -1)",
            ));
        }
        if !self.weight_column
            && self.delete_policy() == DeletePolicy::OpHeader
            && self.buffer_size_records != 1
        {
            return Err(ConfigError::new(
                "buffer_size_records",
                "on_delete 'op_header' marks each record, so each record needs a message of its own; remove \
                 buffer_size_records or set it to 1",
            ));
        }
        self.message_options()
            .validate(self.buffer_size_records == 1)
    }

    /// Checks an input format: the shared rules; output-only settings are refused.
    pub fn validate_for_input(&self) -> Result<(), ConfigError> {
        self.validate()?;
        self.message_options().refuse_for_input()?;
        if !self.weight_column || self.on_delete.is_some() {
            let field = if self.weight_column {
                "on_delete"
            } else {
                "weight_column"
            };
            return Err(ConfigError::new(
                field,
                "is an output setting; remove it from an input format",
            ));
        }
        Ok(())
    }

    /// Checks the delimiter and buffer size. Field paths are relative to the format's `config`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.delimiter.is_ascii() || matches!(self.delimiter, '"' | '\r' | '\n') {
            return Err(ConfigError::new(
                "delimiter",
                format!(
                    "{:?} cannot separate CSV fields; use one ASCII character other than '\"', CR or LF",
                    self.delimiter
                ),
            ));
        }
        if self.buffer_size_records == 0 {
            return Err(ConfigError::new(
                "buffer_size_records",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}
