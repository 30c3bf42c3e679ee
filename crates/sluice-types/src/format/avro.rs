//! The Avro format config (output), with Feldera's field names.
//!
//! Messages are Avro binary in the Confluent wire format (a zero byte, the schema id as 4 big-endian bytes, the
//! datum) unless `skip_schema_id`. The schema is generated from the view's columns or given (`schema`); with
//! `registry_urls` the pipeline registers it at start and writes the ids the registry assigns (with basic or bearer
//! authentication). `cdc_field` is refused: every setting either works or is refused by name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// How changes are represented in Avro.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvroUpdateFormat {
    /// The row itself as the value; a header `op` (`insert` or `delete`) says what happened to it.
    #[default]
    Raw,
    /// Debezium's envelope (`before`, `after`, `source`, `op`, `ts_ms`), keyed by the key columns (an update of a
    /// key in a step is one `u` message) or by the whole row, with a tombstone after each delete.
    Debezium,
    /// The Confluent JDBC sink's upsert layout: key = the key columns as an Avro record, value = the row after the
    /// change, or no value (a tombstone) when the key's row was deleted.
    ConfluentJdbc,
}

/// Whether `raw` messages carry a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvroKeyMode {
    /// No key.
    None,
    /// The key columns (the connector's `index`, or `key_fields`) as an Avro record.
    KeyFields,
}

/// How schema registry subjects are named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectNameStrategy {
    /// `{topic}-key` / `{topic}-value`.
    TopicName,
    /// The record's name (the view, or the index for keys).
    RecordName,
    /// `{topic}-{record}-key` / `{topic}-{record}-value`.
    TopicRecordName,
}

/// Configuration of the Avro encoder.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvroEncoderConfig {
    /// How changes are represented. Default `raw`.
    #[serde(default)]
    pub update_format: AvroUpdateFormat,
    /// `raw` only: whether messages carry a key. Default: `key_fields` when the connector has a key (`index` or
    /// `key_fields`), `none` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_mode: Option<AvroKeyMode>,
    /// The value schema as JSON text; by default generated from the view's columns. It must have the view's
    /// columns, in order, with matching types; a column may be declared non-null only if the view's is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Feldera's CDC field: refused (not written by this build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdc_field: Option<String>,
    /// The namespace of generated schemas. Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Subject naming in the schema registry (needs `registry_urls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_name_strategy: Option<SubjectNameStrategy>,
    /// Write the bare Avro datum, without the Confluent header (magic byte and schema id). Default false.
    #[serde(default)]
    pub skip_schema_id: bool,
    /// Sluice: the schema id written in every value's header when no registry assigns one. Default 0, as Feldera
    /// writes without a registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_id: Option<u32>,
    /// Sluice: the schema id written in every key's header (keyed messages). Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_schema_id: Option<u32>,
    /// Sluice, as for JSON: the key columns (the connector's `index` sets them too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fields: Option<Vec<String>>,
    /// Schema registry URLs (Confluent-compatible API), tried in order: the schemas are registered at start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registry_urls: Vec<String>,
    /// Headers of registry requests (needs `registry_urls`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub registry_headers: BTreeMap<String, String>,
    /// Proxy for registry requests (needs `registry_urls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_proxy: Option<String>,
    /// Timeout of registry requests (needs `registry_urls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_timeout_secs: Option<u64>,
    /// Sluice: PEM certificates of the authorities that sign the registry's HTTPS certificate, trusted besides the
    /// system's (a registry behind an internal CA). Public, not a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_tls_ca_pem: Option<String>,
    /// Basic-auth user of the registry (with `registry_password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_username: Option<String>,
    /// Basic-auth password of the registry; sealed and masked by the server like the transport's passwords.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_password: Option<String>,
    /// Bearer token of the registry (instead of a user and password); sealed and masked like a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_authorization_token: Option<String>,
    /// Feldera's encoder threads. Accepted (Feldera clients send it); Sluice encodes on the connector's thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
}

impl AvroEncoderConfig {
    /// Whether messages carry a key: `confluent_jdbc` and `debezium` always (Debezium by the whole row without key
    /// columns), `raw` per `key_mode` (default: when key columns are
    /// known, from `key_fields` or the connector's `index`, given as `has_index`).
    pub fn keyed(&self, has_index: bool) -> bool {
        match self.update_format {
            AvroUpdateFormat::ConfluentJdbc | AvroUpdateFormat::Debezium => true,
            AvroUpdateFormat::Raw => match self.key_mode {
                Some(mode) => mode == AvroKeyMode::KeyFields,
                None => self.key_fields.is_some() || has_index,
            },
        }
    }

    /// The registry settings: URLs that are URLs, no credentials, the other settings only with URLs.
    fn check_registry(&self) -> Result<(), ConfigError> {
        for url in &self.registry_urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "registry_urls",
                    format!("'{url}' is not an http:// or https:// URL"),
                ));
            }
        }
        // An Authorization header would be shown in clear: the credentials have settings of their own, which the
        // server keeps sealed and masked like the transport's passwords.
        if self
            .registry_headers
            .keys()
            .any(|h| h.eq_ignore_ascii_case("authorization"))
        {
            return Err(ConfigError::new(
                "registry_headers",
                "must not carry credentials (they would be shown in clear); use registry_username and \
                 registry_password, or registry_authorization_token",
            ));
        }
        if let Some(pem) = &self.registry_tls_ca_pem {
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(ConfigError::new(
                    "registry_tls_ca_pem",
                    "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                ));
            }
        }
        match (
            &self.registry_username,
            &self.registry_password,
            &self.registry_authorization_token,
        ) {
            (Some(_), None, _) | (None, Some(_), _) => {
                let field = if self.registry_username.is_some() {
                    "registry_password"
                } else {
                    "registry_username"
                };
                return Err(ConfigError::new(
                    field,
                    "basic authentication needs both registry_username and registry_password",
                ));
            }
            (Some(_), Some(_), Some(_)) => return Err(ConfigError::new(
                "registry_authorization_token",
                "and registry_username/registry_password are two ways to authenticate; keep one",
            )),
            _ => {}
        }
        let registry_only = [
            ("registry_headers", !self.registry_headers.is_empty()),
            ("registry_tls_ca_pem", self.registry_tls_ca_pem.is_some()),
            ("registry_username", self.registry_username.is_some()),
            ("registry_password", self.registry_password.is_some()),
            (
                "registry_authorization_token",
                self.registry_authorization_token.is_some(),
            ),
            ("registry_proxy", self.registry_proxy.is_some()),
            (
                "registry_timeout_secs",
                self.registry_timeout_secs.is_some(),
            ),
            (
                "subject_name_strategy",
                self.subject_name_strategy.is_some(),
            ),
        ];
        if self.registry_urls.is_empty() {
            if let Some((field, _)) = registry_only.iter().find(|(_, set)| *set) {
                return Err(ConfigError::new(*field, "requires registry_urls"));
            }
        }
        if self.registry_timeout_secs == Some(0) {
            return Err(ConfigError::new(
                "registry_timeout_secs",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Checks the rules for an input connector: `raw` records, decoded with the given `schema` or with the
    /// registry's schema of each message's id (exactly one of the two); the settings that only shape output are
    /// refused by name.
    pub fn validate_for_input(&self) -> Result<(), ConfigError> {
        if self.update_format != AvroUpdateFormat::Raw {
            return Err(ConfigError::new(
                "update_format",
                "input reads 'raw' Avro records (each an insert) in this build",
            ));
        }
        let output_only = [
            ("key_mode", self.key_mode.is_some()),
            ("cdc_field", self.cdc_field.is_some()),
            ("namespace", self.namespace.is_some()),
            (
                "subject_name_strategy",
                self.subject_name_strategy.is_some(),
            ),
            ("schema_id", self.schema_id.is_some()),
            ("key_schema_id", self.key_schema_id.is_some()),
            ("key_fields", self.key_fields.is_some()),
            ("threads", self.threads.is_some()),
        ];
        if let Some((field, _)) = output_only.iter().find(|(_, set)| *set) {
            return Err(ConfigError::new(
                *field,
                "applies to output connectors only; remove it here",
            ));
        }
        self.check_registry()?;
        match (&self.schema, self.registry_urls.is_empty()) {
            (Some(_), false) => Err(ConfigError::new(
                "schema",
                "and registry_urls both say which schema to read with; keep one",
            )),
            (None, true) => Err(ConfigError::new(
                "schema",
                "Avro input needs the writer's schema: give it here, or set registry_urls to read each message's \
                 schema from the registry",
            )),
            (Some(schema), true) => {
                let parsed: serde_json::Value = serde_json::from_str(schema)
                    .map_err(|e| ConfigError::new("schema", format!("is not JSON: {e}")))?;
                if parsed.get("type").and_then(|t| t.as_str()) != Some("record") {
                    return Err(ConfigError::new("schema", "must be an Avro record schema"));
                }
                Ok(())
            }
            (None, false) if self.skip_schema_id => Err(ConfigError::new(
                "skip_schema_id",
                "messages without a schema id cannot be decoded with the registry's schemas; give the schema",
            )),
            (None, false) => Ok(()),
        }
    }

    /// Checks the rules for an output connector (`has_index`: the connector names an index, which supplies the
    /// key columns at start). Field paths are relative to the format's `config`.
    pub fn validate_for_output(&self, has_index: bool) -> Result<(), ConfigError> {
        if self.cdc_field.is_some() {
            return Err(ConfigError::new(
                "cdc_field",
                "is not supported by this build; 'raw' messages say insert or delete in their 'op' header",
            ));
        }
        self.check_registry()?;
        let ids_not_given = if !self.registry_urls.is_empty() {
            Some("the schema registry assigns the ids when registry_urls is set")
        } else if self.skip_schema_id {
            Some("contradicts skip_schema_id (no schema id is written)")
        } else {
            None
        };
        if let Some(why) = ids_not_given {
            for (field, set) in [
                ("schema_id", self.schema_id.is_some()),
                ("key_schema_id", self.key_schema_id.is_some()),
            ] {
                if set {
                    return Err(ConfigError::new(field, format!("{why}; remove one")));
                }
            }
        }
        if self.threads == Some(0) {
            return Err(ConfigError::new("threads", "must be at least 1"));
        }
        if let Some(fields) = &self.key_fields {
            if fields.is_empty() {
                return Err(ConfigError::new(
                    "key_fields",
                    "names no column; list the key columns or remove it",
                ));
            }
            if let Some(dup) = fields
                .iter()
                .enumerate()
                .find_map(|(i, f)| fields[..i].contains(f).then_some(f))
            {
                return Err(ConfigError::new(
                    "key_fields",
                    format!("names column '{dup}' twice"),
                ));
            }
        }
        let has_key = self.key_fields.is_some() || has_index;
        if self.update_format == AvroUpdateFormat::ConfluentJdbc && !has_key {
            return Err(ConfigError::new(
                "update_format",
                "'confluent_jdbc' keys every message by the view's key columns: name a CREATE INDEX in the \
                 connector's 'index', or set key_fields",
            ));
        }
        if self.update_format != AvroUpdateFormat::Raw && self.key_mode.is_some() {
            return Err(ConfigError::new(
                "key_mode",
                "applies to 'raw' only ('confluent_jdbc' and 'debezium' are always keyed)",
            ));
        }
        if self.key_mode == Some(AvroKeyMode::KeyFields) && !has_key {
            return Err(ConfigError::new(
                "key_mode",
                "'key_fields' needs key columns: name a CREATE INDEX in the connector's 'index', or set key_fields",
            ));
        }
        if !self.keyed(has_index) && self.key_schema_id.is_some() {
            return Err(ConfigError::new(
                "key_schema_id",
                "the messages have no key; remove it",
            ));
        }
        if let Some(schema) = &self.schema {
            let parsed: serde_json::Value = serde_json::from_str(schema)
                .map_err(|e| ConfigError::new("schema", format!("is not JSON: {e}")))?;
            if parsed.get("type").and_then(|t| t.as_str()) != Some("record") {
                return Err(ConfigError::new(
                    "schema",
                    "must be an Avro record schema ({\"type\": \"record\", \"name\": ..., \"fields\": [...]})",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: serde_json::Value) -> AvroEncoderConfig {
        serde_json::from_value(v).unwrap()
    }

    /// Feldera's field names parse; defaults are raw, unkeyed, with the Confluent header.
    #[test]
    fn feldera_shapes_parse() {
        let c = config(
            json!({"update_format": "confluent_jdbc", "skip_schema_id": false,
                              "namespace": "shop", "threads": 4, "key_fields": ["id"]}),
        );
        assert_eq!(c.update_format, AvroUpdateFormat::ConfluentJdbc);
        assert!(c.keyed(false));
        c.validate_for_output(false).unwrap();
        let d = config(json!({}));
        assert_eq!(d.update_format, AvroUpdateFormat::Raw);
        assert!(!d.keyed(false) && d.keyed(true));
        d.validate_for_output(false).unwrap();
        assert!(serde_json::from_value::<AvroEncoderConfig>(json!({"nope": 1})).is_err());
    }

    /// What this build cannot do yet, and settings that contradict each other, are refused by name.
    #[test]
    fn unsupported_and_contradictory_settings_are_refused_by_name() {
        for (v, field, says) in [
            (
                json!({"update_format": "debezium", "key_mode": "none"}),
                "key_mode",
                "'raw' only",
            ),
            (json!({"cdc_field": "op"}), "cdc_field", "not supported"),
            (
                json!({"registry_urls": ["r:8081"]}),
                "registry_urls",
                "not an http",
            ),
            (
                json!({"registry_urls": ["http://r:8081"], "registry_username": "u"}),
                "registry_password",
                "needs both",
            ),
            (
                json!({"registry_urls": ["http://r"], "registry_username": "u", "registry_password": "p",
                       "registry_authorization_token": "t"}),
                "registry_authorization_token",
                "keep one",
            ),
            (
                json!({"registry_password": "p"}),
                "registry_username",
                "needs both",
            ),
            (
                json!({"registry_authorization_token": "t"}),
                "registry_authorization_token",
                "requires registry_urls",
            ),
            (
                json!({"registry_urls": ["https://r"], "registry_tls_ca_pem": "not a cert"}),
                "registry_tls_ca_pem",
                "no PEM certificate",
            ),
            (
                json!({"registry_urls": ["http://r"], "registry_headers": {"Authorization": "x"}}),
                "registry_headers",
                "credentials",
            ),
            (
                json!({"registry_urls": ["http://r"], "schema_id": 1}),
                "schema_id",
                "registry assigns",
            ),
            (
                json!({"registry_proxy": "http://p"}),
                "registry_proxy",
                "requires registry_urls",
            ),
            (
                json!({"subject_name_strategy": "topic_name"}),
                "subject_name_strategy",
                "requires registry_urls",
            ),
            (
                json!({"skip_schema_id": true, "schema_id": 3}),
                "schema_id",
                "contradicts skip_schema_id",
            ),
            (json!({"threads": 0}), "threads", "at least 1"),
            (
                json!({"update_format": "confluent_jdbc"}),
                "update_format",
                "CREATE INDEX",
            ),
            (
                json!({"update_format": "confluent_jdbc", "key_fields": ["a"], "key_mode": "none"}),
                "key_mode",
                "'raw' only",
            ),
            (
                json!({"key_mode": "key_fields"}),
                "key_mode",
                "needs key columns",
            ),
            (json!({"key_schema_id": 2}), "key_schema_id", "no key"),
            (json!({"key_fields": ["a", "a"]}), "key_fields", "twice"),
            (json!({"schema": "{"}), "schema", "not JSON"),
            (json!({"schema": "\"long\""}), "schema", "record schema"),
        ] {
            let e = config(v.clone())
                .validate_for_output(false)
                .expect_err(&v.to_string());
            assert_eq!(e.field, field, "{v}");
            assert!(e.reason.contains(says), "{v}: {e}");
        }
        // An index supplies the key of confluent_jdbc; a registry without credentials is accepted.
        config(json!({"update_format": "confluent_jdbc"}))
            .validate_for_output(true)
            .unwrap();
        config(
            json!({"registry_urls": ["http://127.0.0.1:8081"], "registry_headers": {"X-Team": "a"},
                      "subject_name_strategy": "record_name", "registry_timeout_secs": 3}),
        )
        .validate_for_output(false)
        .unwrap();
    }
}
