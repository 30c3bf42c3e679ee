//! The connector config: a transport plus a format, and the rules that tie them together.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::format::avro::AvroEncoderConfig;
use crate::format::csv::CsvEncoderConfig;
use crate::format::json::JsonEncoderConfig;
use crate::transport::file::FileOutputConfig;
use crate::transport::kafka::KafkaOutputConfig;
use crate::transport::kafka_input::KafkaInputConfig;
use crate::ConfigError;

/// Whether a connector feeds a table or drains a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Reads records into a table.
    Input,
    /// Writes a view's changes out.
    Output,
}

/// A connector: where data goes (or comes from) and in which format.
///
/// ```json
/// {"transport": {"name": "kafka_output", "config": {"bootstrap.servers": "localhost:9092", "topic": "t"}},
///  "format": {"name": "json", "config": {"update_format": "insert_delete", "array": false}}}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// The transport endpoint.
    pub transport: TransportConfig,
    /// The data format; required for every transport that carries records as bytes.
    #[serde(default)]
    pub format: Option<FormatConfig>,
    /// How many records may wait in this connector's queue before the pipeline stops stepping (backpressure).
    /// Default 1,000,000; must be at least 1.
    #[serde(default = "default_max_queued_records")]
    pub max_queued_records: u64,
    /// What an output connector does with a record its format cannot encode (larger than a message may be, a
    /// value the format cannot represent): `fail` (the default) stops the connector, and with it the pipeline,
    /// naming the view, the record and why; `skip` sends the rest and counts and lists the skipped records.
    /// Sluice's own field.
    #[serde(default, skip_serializing_if = "EncodeErrorPolicy::is_fail")]
    pub on_encode_error: EncodeErrorPolicy,
    /// Output only (Feldera's name): before the view's changes, send its current contents as inserts (Debezium
    /// `r` rows), once per connector: the first time it runs with this config on a pipeline that has state. The
    /// view must be `CREATE MATERIALIZED VIEW` (only those keep their contents). Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub send_snapshot: bool,
    /// Output only (Feldera's name): the name of a `CREATE INDEX` on the connector's view; its columns become the
    /// format's `key_fields` (which may then be left out, or must list the same columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
}

/// See [`ConnectorConfig::on_encode_error`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodeErrorPolicy {
    /// Stop the connector: a change that cannot be delivered must not pass unnoticed (a skipped delete leaves a
    /// stale row downstream for good).
    #[default]
    Fail,
    /// Send the rest; count and list what was skipped.
    Skip,
}

impl EncodeErrorPolicy {
    fn is_fail(&self) -> bool {
        *self == EncodeErrorPolicy::Fail
    }
}

/// Feldera's default, kept so that configs behave the same on both systems.
const fn default_max_queued_records() -> u64 {
    1_000_000
}

/// A transport endpoint, tagged by `name` with its settings under `config`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "config", rename_all = "snake_case")]
pub enum TransportConfig {
    /// Write to a Kafka topic.
    KafkaOutput(KafkaOutputConfig),
    /// Read from Kafka topics.
    KafkaInput(KafkaInputConfig),
    /// Append every message to a file, one per line.
    FileOutput(FileOutputConfig),
    /// Acknowledge every message at once and keep nothing: measures a pipeline without a destination.
    NullOutput,
    /// The pipeline's HTTP ingress; created by the pipeline itself, never by users.
    HttpInput,
    /// The pipeline's HTTP egress; created by the pipeline itself, never by users.
    HttpOutput,
}

impl TransportConfig {
    /// The transport's `name` as it appears in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            TransportConfig::KafkaOutput(_) => "kafka_output",
            TransportConfig::KafkaInput(_) => "kafka_input",
            TransportConfig::FileOutput(_) => "file_output",
            TransportConfig::NullOutput => "null_output",
            TransportConfig::HttpInput => "http_input",
            TransportConfig::HttpOutput => "http_output",
        }
    }

    /// Whether the transport reads into tables or writes out views.
    pub fn direction(&self) -> Direction {
        match self {
            TransportConfig::KafkaInput(_) | TransportConfig::HttpInput => Direction::Input,
            TransportConfig::KafkaOutput(_)
            | TransportConfig::FileOutput(_)
            | TransportConfig::NullOutput
            | TransportConfig::HttpOutput => Direction::Output,
        }
    }
}

/// A data format, tagged by `name` with its settings under `config` (which may be omitted for all defaults).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "name", content = "config", rename_all = "snake_case")]
pub enum FormatConfig {
    /// JSON, one record per line or in arrays.
    Json(JsonEncoderConfig),
    /// CSV (RFC 4180), one record per line.
    Csv(CsvEncoderConfig),
    /// Avro binary (output), in the Confluent wire format by default (boxed: its registry settings make it the
    /// largest by far).
    Avro(Box<AvroEncoderConfig>),
}

impl FormatConfig {
    /// The format's `name` as it appears in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            FormatConfig::Json(_) => "json",
            FormatConfig::Csv(_) => "csv",
            FormatConfig::Avro(_) => "avro",
        }
    }
}

impl<'de> Deserialize<'de> for FormatConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Hand-written so that `config` may be absent or null (all defaults), which serde's adjacently tagged
        // enums do not allow for variants with data.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Tagged {
            name: String,
            #[serde(default)]
            config: Option<serde_json::Value>,
        }
        let tagged = Tagged::deserialize(deserializer)?;
        let config = tagged
            .config
            .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        let parse_err = |e: serde_json::Error| D::Error::custom(format!("format.config: {e}"));
        match tagged.name.as_str() {
            "json" => serde_json::from_value(config)
                .map(FormatConfig::Json)
                .map_err(parse_err),
            "csv" => serde_json::from_value(config)
                .map(FormatConfig::Csv)
                .map_err(parse_err),
            "avro" => serde_json::from_value(config)
                .map(|c| FormatConfig::Avro(Box::new(c)))
                .map_err(parse_err),
            other => Err(D::Error::custom(format!(
                "format.name: unknown format `{other}`, expected one of `json`, `csv`, `avro`"
            ))),
        }
    }
}

impl ConnectorConfig {
    /// Checks what can be checked without a network or a schema, and returns warnings about settings that are
    /// accepted but have no effect.
    ///
    /// Errors name the field by its dotted path inside the config (`transport.config.topic`).
    pub fn validate(&self) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        if self.max_queued_records == 0 {
            return Err(ConfigError::new(
                "max_queued_records",
                "must be at least 1 (it is the number of records a connector may queue before backpressure)",
            ));
        }
        match &self.transport {
            TransportConfig::KafkaOutput(kafka) => {
                warnings.extend(kafka.validate().map_err(|e| e.within("transport.config"))?);
            }
            TransportConfig::KafkaInput(kafka) => {
                warnings.extend(kafka.validate().map_err(|e| e.within("transport.config"))?);
            }
            TransportConfig::FileOutput(file) => {
                file.validate().map_err(|e| e.within("transport.config"))?;
            }
            TransportConfig::NullOutput
            | TransportConfig::HttpInput
            | TransportConfig::HttpOutput => {}
        }
        let direction = self.transport.direction();
        if direction == Direction::Input {
            if self.send_snapshot {
                return Err(ConfigError::new(
                    "send_snapshot",
                    "applies to output connectors only (it sends a view's contents); remove it here",
                ));
            }
            if self.index.is_some() {
                return Err(ConfigError::new(
                    "index",
                    "applies to output connectors only (it names the key of a view's messages); remove it here",
                ));
            }
        }
        if self.index.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::new(
                "index",
                "must name a CREATE INDEX of the program",
            ));
        }
        match (&self.format, direction) {
            (None, _)
                if matches!(
                    self.transport,
                    TransportConfig::KafkaOutput(_)
                        | TransportConfig::KafkaInput(_)
                        | TransportConfig::FileOutput(_)
                        | TransportConfig::NullOutput
                ) =>
            {
                return Err(ConfigError::new(
                    "format",
                    format!(
                        "the {} transport needs a format: {{\"name\": \"json\"}} or {{\"name\": \"csv\"}}",
                        self.transport.name()
                    ),
                ));
            }
            (Some(FormatConfig::Json(json)), Direction::Output) => {
                json.validate_for_output()
                    .map_err(|e| e.within("format.config"))?;
            }
            (Some(FormatConfig::Json(json)), Direction::Input) => {
                json.validate_for_input()
                    .map_err(|e| e.within("format.config"))?;
            }
            (Some(FormatConfig::Csv(csv)), Direction::Output) => {
                csv.validate_for_output()
                    .map_err(|e| e.within("format.config"))?;
            }
            (Some(FormatConfig::Csv(csv)), Direction::Input) => {
                csv.validate_for_input()
                    .map_err(|e| e.within("format.config"))?;
            }
            (Some(FormatConfig::Avro(avro)), Direction::Output) => {
                avro.validate_for_output(self.index.is_some())
                    .map_err(|e| e.within("format.config"))?;
            }
            (Some(FormatConfig::Avro(avro)), Direction::Input) => {
                avro.validate_for_input()
                    .map_err(|e| e.within("format.config"))?;
            }
            _ => {}
        }
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed() -> serde_json::Value {
        json!({
            "transport": {"name": "kafka_output", "config": {
                "bootstrap.servers": "example.com:9092",
                "auto.offset.reset": "earliest",
                "topic": "total-sales"
            }},
            "format": {"name": "json", "config": {"update_format": "insert_delete", "array": false}}
        })
    }

    #[test]
    fn seed_config_parses_and_validates_with_a_warning_for_the_consumer_option() {
        let config: ConnectorConfig = serde_json::from_value(seed()).unwrap();
        let warnings = config.validate().unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("auto.offset.reset"), "{warnings:?}");
    }

    #[test]
    fn serialization_fills_in_defaults() {
        let config: ConnectorConfig = serde_json::from_value(seed()).unwrap();
        let out = serde_json::to_value(&config).unwrap();
        assert_eq!(
            out,
            json!({
                "transport": {"name": "kafka_output", "config": {
                    "auto.offset.reset": "earliest",
                    "bootstrap.servers": "example.com:9092",
                    "topic": "total-sales",
                    "headers": [],
                    "log_level": null,
                    "initialization_timeout_secs": 60
                }},
                "format": {"name": "json", "config": {
                    "update_format": "insert_delete",
                    "array": false,
                    "buffer_size_records": 1,
                    "json_flavor": null,
                    "key_fields": null
                }},
                "max_queued_records": 1000000
            })
        );
    }

    #[test]
    fn format_config_may_be_omitted() {
        let mut v = seed();
        v["format"] = json!({"name": "csv"});
        let config: ConnectorConfig = serde_json::from_value(v).unwrap();
        assert_eq!(
            config.format,
            Some(FormatConfig::Csv(CsvEncoderConfig::default()))
        );
    }

    #[test]
    fn unknown_format_and_transport_names_are_rejected_by_name() {
        let mut v = seed();
        v["format"]["name"] = json!("parquet");
        let err = serde_json::from_value::<ConnectorConfig>(v)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown format `parquet`"), "{err}");

        let mut v = seed();
        v["transport"]["name"] = json!("kafka_outptu");
        let err = serde_json::from_value::<ConnectorConfig>(v)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `kafka_outptu`"), "{err}");
    }

    #[test]
    fn send_snapshot_and_index_are_for_output_connectors_only() {
        let mut v = seed();
        v["send_snapshot"] = json!(true);
        let config: ConnectorConfig = serde_json::from_value(v.clone()).unwrap();
        assert!(config.send_snapshot);
        config.validate().unwrap();
        assert_eq!(
            serde_json::to_value(&config).unwrap()["send_snapshot"],
            true
        );
        v["transport"] = json!({"name": "kafka_input", "config": {
            "bootstrap.servers": "example.com:9092", "topics": ["t"]}});
        let config: ConnectorConfig = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(config.validate().unwrap_err().field, "send_snapshot");
        v["send_snapshot"] = json!(false);
        v["index"] = json!("by_id");
        let config: ConnectorConfig = serde_json::from_value(v).unwrap();
        assert_eq!(config.validate().unwrap_err().field, "index");
    }

    #[test]
    fn kafka_output_without_format_is_rejected() {
        let mut v = seed();
        v.as_object_mut().unwrap().remove("format");
        let config: ConnectorConfig = serde_json::from_value(v).unwrap();
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "format");
    }

    #[test]
    fn raw_output_is_accepted_and_on_delete_belongs_to_it() {
        let mut v = seed();
        v["format"]["config"]["update_format"] = json!("raw");
        v["format"]["config"]["on_delete"] = json!("op_header");
        let config: ConnectorConfig = serde_json::from_value(v.clone()).unwrap();
        assert!(config.validate().is_ok(), "{:?}", config.validate());
        v["format"]["config"]["update_format"] = json!("upsert");
        let config: ConnectorConfig = serde_json::from_value(v).unwrap();
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "format.config.on_delete");
        assert_eq!(err.reason, "applies to 'raw' only; remove it for 'upsert'");
    }

    #[test]
    fn keyed_formats_round_trip_and_are_refused_for_input() {
        let mut v = seed();
        v["format"]["config"] = json!({"update_format": "upsert", "key_fields": ["id"], "key_format": "text",
                                       "header_fields": ["region"], "system_headers": true,
                                       "enforce_unique_key": false});
        let config: ConnectorConfig = serde_json::from_value(v.clone()).unwrap();
        assert!(config.validate().is_ok(), "{:?}", config.validate());
        let out = serde_json::to_value(&config).unwrap();
        for field in [
            "key_fields",
            "key_format",
            "header_fields",
            "system_headers",
            "enforce_unique_key",
        ] {
            assert_eq!(
                out["format"]["config"][field], v["format"]["config"][field],
                "{field}"
            );
        }
        let mut input = kafka_input_seed();
        input["format"] = json!({"name": "json", "config": {"header_fields": ["region"]}});
        let config: ConnectorConfig = serde_json::from_value(input).unwrap();
        assert_eq!(
            config.validate().unwrap_err().field,
            "format.config.header_fields"
        );
    }

    #[test]
    fn weighted_update_format_is_rejected_for_output() {
        let mut v = seed();
        v["format"]["config"]["update_format"] = json!("weighted");
        let config: ConnectorConfig = serde_json::from_value(v).unwrap();
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "format.config.update_format");
        assert_eq!(
            err.reason,
            "'weighted' is an input format; output supports 'insert_delete', 'upsert', 'debezium', 'raw' and \
             'snowflake'"
        );
    }

    #[test]
    fn debezium_in_arrays_is_rejected() {
        let mut v = seed();
        v["format"]["config"] = json!({"update_format": "debezium", "array": true});
        let config: ConnectorConfig = serde_json::from_value(v).unwrap();
        assert_eq!(config.validate().unwrap_err().field, "format.config.array");
    }

    #[test]
    fn zero_max_queued_records_is_rejected() {
        let mut v = seed();
        v["max_queued_records"] = json!(0);
        let config: ConnectorConfig = serde_json::from_value(v).unwrap();
        assert_eq!(config.validate().unwrap_err().field, "max_queued_records");
    }

    fn kafka_input_seed() -> serde_json::Value {
        json!({
            "transport": {"name": "kafka_input", "config": {
                "bootstrap.servers": "example.com:9092",
                "auto.offset.reset": "earliest",
                "topics": ["orders"]
            }},
            "format": {"name": "json", "config": {"update_format": "raw"}}
        })
    }

    #[test]
    fn kafka_input_is_an_input_transport_named_kafka_input() {
        let config: ConnectorConfig = serde_json::from_value(kafka_input_seed()).unwrap();
        assert_eq!(config.transport.name(), "kafka_input");
        assert_eq!(config.transport.direction(), Direction::Input);
        // `raw` is an input-only update format: accepted because the connector is an input.
        assert!(config.validate().is_ok(), "{:?}", config.validate());
        let out = serde_json::to_value(&config).unwrap();
        assert_eq!(
            out["transport"],
            json!({"name": "kafka_input", "config": {
                "auto.offset.reset": "earliest",
                "bootstrap.servers": "example.com:9092",
                "topics": ["orders"],
                "log_level": null,
                "group_join_timeout_secs": 10
            }})
        );
    }

    #[test]
    fn kafka_input_errors_name_the_field_under_transport_config() {
        let mut v = kafka_input_seed();
        v["transport"]["config"]["topics"] = json!([]);
        let config: ConnectorConfig = serde_json::from_value(v).unwrap();
        assert_eq!(
            config.validate().unwrap_err().field,
            "transport.config.topics"
        );

        let mut v = kafka_input_seed();
        v["transport"]["config"]
            .as_object_mut()
            .unwrap()
            .remove("topics");
        let err = serde_json::from_value::<ConnectorConfig>(v)
            .unwrap_err()
            .to_string();
        assert!(err.contains("transport.config.topics: required"), "{err}");
    }

    #[test]
    fn kafka_input_without_format_is_rejected() {
        let mut v = kafka_input_seed();
        v.as_object_mut().unwrap().remove("format");
        let config: ConnectorConfig = serde_json::from_value(v).unwrap();
        assert_eq!(config.validate().unwrap_err().field, "format");
    }

    #[test]
    fn unknown_top_level_fields_are_rejected() {
        let mut v = seed();
        v["enable_output_buffer"] = json!(true);
        let err = serde_json::from_value::<ConnectorConfig>(v)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown field `enable_output_buffer`"),
            "{err}"
        );
    }
}
