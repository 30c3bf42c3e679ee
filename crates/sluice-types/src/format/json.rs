//! The JSON format config.

use serde::{Deserialize, Serialize};

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
    /// The bare record, always an insert; input only.
    Raw,
    /// The flat record plus `__action`, `__stream_id`, `__seq_number`, one record per message.
    Snowflake,
    /// Kafka Connect / Debezium envelopes `{"schema", "payload": {"op", "before"|"after"}}` with a message key.
    Debezium,
}

impl JsonUpdateFormat {
    /// The name as written in JSON.
    pub fn name(self) -> &'static str {
        match self {
            JsonUpdateFormat::InsertDelete => "insert_delete",
            JsonUpdateFormat::Weighted => "weighted",
            JsonUpdateFormat::Raw => "raw",
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
    /// Debezium only: the columns that form the message key. `null` keys by the whole record.
    #[serde(default)]
    pub key_fields: Option<Vec<String>>,
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

    /// Checks the rules for an input connector (a parser). Field paths are relative to the format's `config`.
    ///
    /// Input accepts the `insert_delete`, `weighted` and `raw` update formats in the `default` flavor only;
    /// `snowflake` and `debezium` describe what Sluice writes, and their envelopes are not parsed (yet).
    /// `buffer_size_records` is an output setting and is ignored here.
    pub fn validate_for_input(&self) -> Result<(), ConfigError> {
        if matches!(
            self.update_format,
            JsonUpdateFormat::Snowflake | JsonUpdateFormat::Debezium
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
        if self.key_fields.is_some() {
            return Err(ConfigError::new(
                "key_fields",
                "only 'debezium' output writes message keys; remove key_fields from an input format",
            ));
        }
        Ok(())
    }

    /// Checks the rules for an output connector. Field paths are relative to the format's `config`.
    pub fn validate_for_output(&self) -> Result<(), ConfigError> {
        match self.update_format {
            JsonUpdateFormat::Raw | JsonUpdateFormat::Weighted => {
                return Err(ConfigError::new(
                    "update_format",
                    format!(
                        "'{}' is an input format; output supports 'insert_delete', 'snowflake' and 'debezium'",
                        self.update_format.name()
                    ),
                ))
            }
            JsonUpdateFormat::Snowflake | JsonUpdateFormat::Debezium
                if self.buffer_size_records != 1 =>
            {
                return Err(ConfigError::new(
                    "buffer_size_records",
                    format!(
                        "the '{}' update format writes exactly one record per message; remove buffer_size_records or set it to 1",
                        self.update_format.name()
                    ),
                ))
            }
            JsonUpdateFormat::Debezium if self.array => {
                return Err(ConfigError::new(
                    "array",
                    "a 'debezium' message is one Kafka Connect envelope, never an array; remove array or set it to false",
                ))
            }
            _ => {}
        }
        if self.buffer_size_records == 0 {
            return Err(ConfigError::new(
                "buffer_size_records",
                "must be at least 1",
            ));
        }
        if let Some(keys) = &self.key_fields {
            if self.update_format != JsonUpdateFormat::Debezium {
                return Err(ConfigError::new(
                    "key_fields",
                    "only the 'debezium' update format writes message keys; remove key_fields",
                ));
            }
            if keys.is_empty() {
                return Err(ConfigError::new(
                    "key_fields",
                    "must name at least one column (or be omitted to key by the whole record)",
                ));
            }
            for (i, k) in keys.iter().enumerate() {
                if keys[..i].contains(k) {
                    return Err(ConfigError::new(
                        "key_fields",
                        format!("column '{k}' is listed twice"),
                    ));
                }
            }
        }
        Ok(())
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
