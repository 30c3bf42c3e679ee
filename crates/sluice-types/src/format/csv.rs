//! The CSV format config.

use serde::{Deserialize, Serialize};

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
        }
    }
}

impl CsvEncoderConfig {
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
