//! What every output format may add around a record's bytes: the message key, per-row headers, and what a
//! plain-row format does with a delete. Shared by the JSON and CSV configs, which each carry these fields
//! under the same names.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// How the key columns are written into the message key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyFormat {
    /// A JSON object of the key columns, `{"id":1}` (Debezium: the Kafka Connect key envelope).
    #[default]
    Json,
    /// The one key column's value as plain text (`1`, `alice`), as Kafka's string serializer would write it.
    Text,
}

impl KeyFormat {
    /// Whether this is the default, `json` (left out when a config is written back).
    pub fn is_json(&self) -> bool {
        *self == KeyFormat::Json
    }
}

/// What a plain-row output (JSON `raw`, CSV without the weight column) does with a deleted row, since the row
/// alone cannot say it was deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletePolicy {
    /// The connector fails at the step that deletes, naming the view and the row; nothing of that step is sent.
    /// Right for views that only ever grow (append-only).
    #[default]
    Fail,
    /// The deleted row is sent like an insert, with the header `sluice.op: delete` (inserts carry
    /// `sluice.op: insert`), so consumers that read headers can tell.
    OpHeader,
    /// Deletes are not sent (counted as processed): the topic keeps every row ever inserted.
    Drop,
}

/// The names of the system headers a connector may add with `system_headers: true`.
pub const SYSTEM_HEADERS: [&str; 3] = ["sluice.op", "sluice.view", "sluice.step"];

/// The key and header settings of an output format, borrowed from its config for checking.
#[derive(Clone, Copy, Debug)]
pub struct MessageOptions<'a> {
    /// `key_fields`: the columns that form the message key.
    pub key_fields: Option<&'a [String]>,
    /// `key_format`.
    pub key_format: KeyFormat,
    /// `header_fields`: one header per named column.
    pub header_fields: &'a [String],
    /// `system_headers`.
    pub system_headers: bool,
}

impl MessageOptions<'_> {
    /// Whether each record needs a message of its own (a key or headers belong to one record).
    pub fn per_record(&self) -> bool {
        self.key_fields.is_some() || !self.header_fields.is_empty() || self.system_headers
    }

    /// Checks the settings on their own; `one_record_per_message` says whether the format's other settings put
    /// each record into a message of its own. Column names are checked against the view when the encoder is built.
    pub fn validate(&self, one_record_per_message: bool) -> Result<(), ConfigError> {
        if let Some(keys) = self.key_fields {
            if keys.is_empty() {
                return Err(ConfigError::new(
                    "key_fields",
                    "must name at least one column (or be omitted)",
                ));
            }
            check_distinct("key_fields", keys)?;
        }
        match (self.key_format, self.key_fields) {
            (KeyFormat::Text, None) => {
                return Err(ConfigError::new(
                    "key_format",
                    "'text' writes the one key column as text; set key_fields to that column",
                ))
            }
            (KeyFormat::Text, Some(keys)) if keys.len() != 1 => {
                return Err(ConfigError::new(
                    "key_format",
                    format!(
                        "'text' writes one column as the key, but key_fields names {}; use 'json' for a key of \
                         several columns",
                        keys.len()
                    ),
                ))
            }
            _ => {}
        }
        check_distinct("header_fields", self.header_fields)?;
        if self.per_record() && !one_record_per_message {
            let what = if self.key_fields.is_some() {
                "key_fields"
            } else if self.header_fields.is_empty() {
                "system_headers"
            } else {
                "header_fields"
            };
            return Err(ConfigError::new(
                "buffer_size_records",
                format!(
                    "{what} belongs to one record, so each record needs a message of its own; remove \
                     buffer_size_records or set it to 1"
                ),
            ));
        }
        Ok(())
    }

    /// Refuses every output-only setting in an input format's config.
    pub fn refuse_for_input(&self) -> Result<(), ConfigError> {
        let set = if self.key_fields.is_some() {
            Some("key_fields")
        } else if self.key_format != KeyFormat::Json {
            Some("key_format")
        } else if !self.header_fields.is_empty() {
            Some("header_fields")
        } else if self.system_headers {
            Some("system_headers")
        } else {
            None
        };
        match set {
            Some(field) => Err(ConfigError::new(
                field,
                "is an output setting (message keys and headers); remove it from an input format",
            )),
            None => Ok(()),
        }
    }
}

/// Refuses a list that names one column twice.
fn check_distinct(field: &str, names: &[String]) -> Result<(), ConfigError> {
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(ConfigError::new(field, "a column name is empty"));
        }
        if names[..i].contains(name) {
            return Err(ConfigError::new(
                field,
                format!("column '{name}' is listed twice"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options<'a>(keys: Option<&'a [String]>, headers: &'a [String]) -> MessageOptions<'a> {
        MessageOptions {
            key_fields: keys,
            key_format: KeyFormat::Json,
            header_fields: headers,
            system_headers: false,
        }
    }

    #[test]
    fn keys_and_headers_need_one_record_per_message() {
        let keys = vec!["id".to_string()];
        assert_eq!(options(Some(&keys), &[]).validate(true), Ok(()));
        let err = options(Some(&keys), &[]).validate(false).unwrap_err();
        assert_eq!(err.field, "buffer_size_records");
        assert!(err.reason.starts_with("key_fields belongs to one record"));
        let err = options(None, &keys).validate(false).unwrap_err();
        assert!(err.reason.starts_with("header_fields"), "{err:?}");
        assert_eq!(options(None, &[]).validate(false), Ok(()));
    }

    #[test]
    fn text_keys_take_exactly_one_column() {
        let one = vec!["id".to_string()];
        let two = vec!["id".to_string(), "x".to_string()];
        let text = |keys| MessageOptions {
            key_format: KeyFormat::Text,
            ..options(keys, &[])
        };
        assert_eq!(text(Some(&one)).validate(true), Ok(()));
        assert_eq!(
            text(Some(&two)).validate(true).unwrap_err().field,
            "key_format"
        );
        assert_eq!(text(None).validate(true).unwrap_err().field, "key_format");
    }

    #[test]
    fn duplicate_and_empty_names_are_refused_by_field() {
        let twice = vec!["a".to_string(), "a".to_string()];
        let err = options(Some(&twice), &[]).validate(true).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.reason.as_str()),
            ("key_fields", "column 'a' is listed twice")
        );
        let err = options(None, &twice).validate(true).unwrap_err();
        assert_eq!(err.field, "header_fields");
        let none: Vec<String> = Vec::new();
        let err = options(Some(&none), &[]).validate(true).unwrap_err();
        assert_eq!(err.field, "key_fields");
    }

    #[test]
    fn input_formats_refuse_output_settings() {
        let keys = vec!["id".to_string()];
        assert_eq!(
            options(Some(&keys), &[])
                .refuse_for_input()
                .unwrap_err()
                .field,
            "key_fields"
        );
        let system = MessageOptions {
            system_headers: true,
            ..options(None, &[])
        };
        assert_eq!(
            system.refuse_for_input().unwrap_err().field,
            "system_headers"
        );
        assert_eq!(options(None, &[]).refuse_for_input(), Ok(()));
    }
}
