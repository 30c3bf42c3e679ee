//! The JSON format config.

use serde::{Deserialize, Serialize};

use super::message::{DeletePolicy, KeyFormat, MessageOptions};
use crate::ConfigError;

/// How changes are represented in JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonUpdateFormat {
    /// `{"insert": {...}}` / `{"delete": {...}}`, one per copy of a record.
    #[default]
    InsertDelete,
    /// `{"weight": w, "data": {...}}`; input only.
    Weighted,
    /// The bare record. Input: always an insert. Output: one row per record, for views that only grow;
    /// `on_delete` says what a delete does.
    Raw,
    /// Output only: key = the key columns, value = the row after the change, or no value at all (a tombstone)
    /// when the key's row was deleted. One message per changed key and step; the layout compacted topics,
    /// Kafka Streams tables and the JDBC sink's upsert mode read.
    Upsert,
    /// The flat record plus `__action`, `__stream_id`, `__seq_number`, one record per message.
    Snowflake,
    /// Kafka Connect / Debezium envelopes `{"schema", "payload": {"before", "after", "source", "op", "ts_ms"}}`
    /// with a message key; an update of a key within a step is one `u` message.
    Debezium,
}

impl JsonUpdateFormat {
    /// The name as written in JSON.
    pub fn name(self) -> &'static str {
        match self {
            JsonUpdateFormat::InsertDelete => "insert_delete",
            JsonUpdateFormat::Weighted => "weighted",
            JsonUpdateFormat::Raw => "raw",
            JsonUpdateFormat::Upsert => "upsert",
            JsonUpdateFormat::Snowflake => "snowflake",
            JsonUpdateFormat::Debezium => "debezium",
        }
    }
}

/// How SQL values are spelled in JSON (dates, decimals, binary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonFlavor {
    /// Dates and times as ISO-like strings, DECIMAL as an exact JSON number, binary as byte arrays.
    Default,
    /// Kafka Connect's JsonConverter: dates as day numbers, times and timestamps as milliseconds, DECIMAL as string.
    KafkaConnectJsonConverter,
    /// Snowflake's connector: timestamps as `YYYY-MM-DDTHH:MM:SS+00:00`, DECIMAL as string.
    Snowflake,
}

/// Configuration of the JSON encoder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonEncoderConfig {
    /// How changes are represented. Default `insert_delete`.
    #[serde(default)]
    pub update_format: JsonUpdateFormat,
    /// Wrap the records of each message in a JSON array. Default false.
    #[serde(default)]
    pub array: bool,
    /// The most records one Kafka message may carry, newline-separated (or as array elements). Default 1: one
    /// record per message, so consumers can parse each message as one JSON value. Messages never exceed the
    /// transport's size limit whatever this says. `snowflake` and `debezium` always use 1.
    #[serde(default = "default_buffer_size_records")]
    pub buffer_size_records: usize,
    /// Type encoding; `null` picks the update format's natural flavor (`snowflake` for snowflake,
    /// `kafka_connect_json_converter` for debezium, `default` otherwise).
    #[serde(default)]
    pub json_flavor: Option<JsonFlavor>,
    /// The columns that form each message's key. `null`: `debezium` and `upsert` key by the whole record, the
    /// other formats send no key. Needs one record per message.
    #[serde(default)]
    pub key_fields: Option<Vec<String>>,
    /// How the key is written: `json` (default) or `text` (one key column, its value as text).
    #[serde(default, skip_serializing_if = "KeyFormat::is_json")]
    pub key_format: KeyFormat,
    /// One message header per named column, the value as text (NULL: a header without a value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub header_fields: Vec<String>,
    /// Add the headers `sluice.op` (`insert`, `update`, `delete`), `sluice.view` and `sluice.step`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub system_headers: bool,
    /// `upsert`, and `debezium` with `key_fields`: fail the connector when a step leaves two rows with one key
    /// (default true). `false` for `upsert` declares the key unique without checking it: the last row of a key
    /// wins. `false` for `debezium` says the key is not unique (a partitioning key): no pairing into `u`
    /// messages, each change is its own `c` or `d` message with that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_unique_key: Option<bool>,
    /// `debezium` only: send a tombstone (the key, no value) after each delete, as Debezium does, so that
    /// compaction can drop the key. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tombstones: Option<bool>,
    /// `raw` output only: what a deleted row does (`fail` by default, `op_header`, `drop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<DeletePolicy>,
}

/// One record per message: every consumer can parse a message as one JSON value.
const fn default_buffer_size_records() -> usize {
    1
}

impl Default for JsonEncoderConfig {
    fn default() -> Self {
        JsonEncoderConfig {
            update_format: JsonUpdateFormat::InsertDelete,
            array: false,
            buffer_size_records: default_buffer_size_records(),
            json_flavor: None,
            key_fields: None,
            key_format: KeyFormat::Json,
            header_fields: Vec::new(),
            system_headers: false,
            enforce_unique_key: None,
            tombstones: None,
            on_delete: None,
        }
    }
}

impl JsonEncoderConfig {
    /// The flavor in effect: the configured one, or the update format's natural one.
    pub fn effective_flavor(&self) -> JsonFlavor {
        self.json_flavor.unwrap_or(match self.update_format {
            JsonUpdateFormat::Snowflake => JsonFlavor::Snowflake,
            JsonUpdateFormat::Debezium => JsonFlavor::KafkaConnectJsonConverter,
            _ => JsonFlavor::Default,
        })
    }

    /// The key and header settings, for checking and for the encoder.
    pub fn message_options(&self) -> MessageOptions<'_> {
        MessageOptions {
            key_fields: self.key_fields.as_deref(),
            key_format: self.key_format,
            header_fields: &self.header_fields,
            system_headers: self.system_headers,
        }
    }

    /// Whether a step's changes are grouped by key, so that a key's delete and insert become one message:
    /// `upsert` always, `debezium` when it has `key_fields`.
    pub fn groups_by_key(&self) -> bool {
        match self.update_format {
            JsonUpdateFormat::Upsert => true,
            // A Debezium key declared not unique (a partitioning key, say) keys each change's own c/d message.
            JsonUpdateFormat::Debezium => {
                self.key_fields.is_some() && self.enforce_unique_key != Some(false)
            }
            _ => false,
        }
    }

    /// Whether the format promises one row per key and refuses a step that breaks it: the grouped formats, unless
    /// `enforce_unique_key` is false.
    pub fn enforces_unique_key(&self) -> bool {
        self.groups_by_key() && self.enforce_unique_key != Some(false)
    }

    /// What `raw` output does with a delete.
    pub fn delete_policy(&self) -> DeletePolicy {
        self.on_delete.unwrap_or_default()
    }

    /// Checks the rules for an input connector (a parser). Field paths are relative to the format's `config`.
    ///
    /// Input accepts the `insert_delete`, `weighted` and `raw` update formats in the `default` flavor only;
    /// `snowflake` and `debezium` describe what Sluice writes, and their envelopes are not parsed (yet).
    /// `buffer_size_records` is an output setting and is ignored here.
    pub fn validate_for_input(&self) -> Result<(), ConfigError> {
        if matches!(
            self.update_format,
            JsonUpdateFormat::Snowflake | JsonUpdateFormat::Debezium | JsonUpdateFormat::Upsert
        ) {
            return Err(ConfigError::new(
                "update_format",
                format!(
                    "'{}' is not supported for input; input supports 'insert_delete', 'weighted' and 'raw'",
                    self.update_format.name()
                ),
            ));
        }
        if let Some(flavor) = self.json_flavor.filter(|f| *f != JsonFlavor::Default) {
            let name = match flavor {
                JsonFlavor::KafkaConnectJsonConverter => "kafka_connect_json_converter",
                _ => "snowflake",
            };
            return Err(ConfigError::new(
                "json_flavor",
                format!("'{name}' is not supported for input; remove json_flavor or set it to 'default'"),
            ));
        }
        self.message_options().refuse_for_input()?;
        for (field, set) in [
            ("enforce_unique_key", self.enforce_unique_key.is_some()),
            ("tombstones", self.tombstones.is_some()),
            ("on_delete", self.on_delete.is_some()),
        ] {
            if set {
                return Err(ConfigError::new(
                    field,
                    "is an output setting; remove it from an input format",
                ));
            }
        }
        Ok(())
    }

    /// Checks the rules for an output connector. Field paths are relative to the format's `config`.
    pub fn validate_for_output(&self) -> Result<(), ConfigError> {
        let format = self.update_format;
        if format == JsonUpdateFormat::Weighted {
            return Err(ConfigError::new(
                "update_format",
                "'weighted' is an input format; output supports 'insert_delete', 'upsert', 'debezium', 'raw' \
                 and 'snowflake'",
            ));
        }
        let one_per_message = matches!(
            format,
            JsonUpdateFormat::Snowflake | JsonUpdateFormat::Debezium | JsonUpdateFormat::Upsert
        );
        if one_per_message && self.buffer_size_records != 1 {
            return Err(ConfigError::new(
                "buffer_size_records",
                format!(
                    "the '{}' update format writes exactly one record per message; remove buffer_size_records or \
                     set it to 1",
                    format.name()
                ),
            ));
        }
        if matches!(
            format,
            JsonUpdateFormat::Debezium | JsonUpdateFormat::Upsert
        ) && self.array
        {
            return Err(ConfigError::new(
                "array",
                format!(
                    "a '{}' message is one record (or none), never an array; remove array or set it to false",
                    format.name()
                ),
            ));
        }
        if self.buffer_size_records == 0 {
            return Err(ConfigError::new(
                "buffer_size_records",
                "must be at least 1",
            ));
        }
        let only = |field: &str, set: bool, allowed: bool, which: &str| {
            if set && !allowed {
                Err(ConfigError::new(
                    field,
                    format!("applies to {which} only; remove it for '{}'", format.name()),
                ))
            } else {
                Ok(())
            }
        };
        let keyed = format == JsonUpdateFormat::Upsert
            || (format == JsonUpdateFormat::Debezium && self.key_fields.is_some());
        only(
            "enforce_unique_key",
            self.enforce_unique_key.is_some(),
            keyed,
            "'upsert', and 'debezium' with key_fields,",
        )?;
        only(
            "tombstones",
            self.tombstones.is_some(),
            format == JsonUpdateFormat::Debezium,
            "'debezium'",
        )?;
        only(
            "on_delete",
            self.on_delete.is_some(),
            format == JsonUpdateFormat::Raw,
            "'raw'",
        )?;
        let options = self.message_options();
        let op_header =
            self.delete_policy() == DeletePolicy::OpHeader && format == JsonUpdateFormat::Raw;
        if op_header && self.buffer_size_records != 1 {
            return Err(ConfigError::new(
                "buffer_size_records",
                "on_delete 'op_header' marks each record, so each record needs a message of its own; remove \
                 buffer_size_records or set it to 1",
            ));
        }
        options.validate(self.buffer_size_records == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(update_format: JsonUpdateFormat) -> JsonEncoderConfig {
        JsonEncoderConfig {
            update_format,
            ..JsonEncoderConfig::default()
        }
    }

    #[test]
    fn input_accepts_the_input_update_formats_in_the_default_flavor() {
        for f in [
            JsonUpdateFormat::InsertDelete,
            JsonUpdateFormat::Weighted,
            JsonUpdateFormat::Raw,
        ] {
            assert_eq!(input(f).validate_for_input(), Ok(()));
            let explicit = JsonEncoderConfig {
                json_flavor: Some(JsonFlavor::Default),
                array: true,
                ..input(f)
            };
            assert_eq!(explicit.validate_for_input(), Ok(()));
        }
    }

    #[test]
    fn input_rejects_output_only_settings_by_field() {
        let err = input(JsonUpdateFormat::Debezium)
            .validate_for_input()
            .unwrap_err();
        assert_eq!(err.field, "update_format");
        assert_eq!(
            err.reason,
            "'debezium' is not supported for input; input supports 'insert_delete', 'weighted' and 'raw'"
        );
        let snowflake = input(JsonUpdateFormat::Snowflake).validate_for_input();
        assert_eq!(snowflake.unwrap_err().field, "update_format");
        let flavor = JsonEncoderConfig {
            json_flavor: Some(JsonFlavor::KafkaConnectJsonConverter),
            ..JsonEncoderConfig::default()
        };
        let err = flavor.validate_for_input().unwrap_err();
        assert_eq!(err.field, "json_flavor");
        assert!(err
            .reason
            .contains("'kafka_connect_json_converter' is not supported for input"));
        let keyed = JsonEncoderConfig {
            key_fields: Some(vec!["id".into()]),
            ..JsonEncoderConfig::default()
        };
        assert_eq!(keyed.validate_for_input().unwrap_err().field, "key_fields");
    }
}
