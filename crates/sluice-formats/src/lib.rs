//! Encoders that turn one step's changes of a SQL view into message payloads, and parsers that turn input bytes
//! into changes of a SQL table.
//!
//! This crate owns the byte formats of Sluice's output and input. Output: JSON (`insert_delete`, `snowflake` and `debezium` update
//! formats, in the `default`, `kafka_connect_json_converter` and `snowflake` flavors) and CSV. It never sees a
//! broker: it turns a view's schema and a delta into bytes, and must not depend on rdkafka, tokio or any network
//! code.
//!
//! # Brief overview
//!
//! [`build_encoder`] checks a [`FormatConfig`] against the view's [`Relation`] and the transport's
//! [`MessageLimits`], and returns a boxed [`Encoder`]. Each call to [`Encoder::encode`] takes one step's delta
//! (rows with weights), writes deletions then insertions, and hands the resulting [`EncodedMessage`]s to a sink
//! callback in order. A record that cannot be encoded (a value of the wrong type, a weight too large to expand,
//! a record too large for any message) is skipped and reported as an [`EncodeError`]; the rest of the batch
//! still goes out. A failing sink aborts the batch with its [`SinkError`].
//!
//! ```
//! use sluice_data::{Field, Relation, Row, SqlType, Value};
//! use sluice_formats::{build_encoder, MessageLimits};
//! use sluice_types::{FormatConfig, JsonEncoderConfig};
//!
//! let view = Relation::new("v", vec![Field::new("id", SqlType::BigInt, false)]);
//! let format = FormatConfig::Json(JsonEncoderConfig::default());
//! let mut encoder = build_encoder(&format, &view, MessageLimits { max_message_bytes: 1_000_000 }).unwrap();
//! let mut messages = Vec::new();
//! let delta = vec![(Row(vec![Value::BigInt(1)]), 1)];
//! let errors = encoder.encode(&delta, &mut |m| Ok(messages.push(m.value.unwrap()))).unwrap();
//! assert!(errors.is_empty());
//! assert_eq!(messages, vec![br#"{"insert":{"id":1}}"#.to_vec()]);
//! ```
//!
//! # Input
//!
//! [`build_parser`] checks a [`FormatConfig`] for input against a table's [`Relation`] and returns a boxed
//! [`Parser`]. Each [`Parser::parse`] call takes one chunk (an HTTP body, a Kafka message) and appends
//! `(row, weight)` changes; bad records are reported as [`ParseError`]s and skipped. Parsers read back exactly
//! what the encoders write (JSON `insert_delete` in the `default` flavor, CSV), and also the JSON `raw` and
//! `weighted` update formats.
//!
//! ```
//! use sluice_data::{Field, Relation, Row, SqlType, Value};
//! use sluice_formats::build_parser;
//! use sluice_types::{FormatConfig, JsonEncoderConfig};
//!
//! let table = Relation::new("t", vec![Field::new("id", SqlType::BigInt, false)]);
//! let mut parser = build_parser(&FormatConfig::Json(JsonEncoderConfig::default()), &table).unwrap();
//! let mut changes = Vec::new();
//! let errors = parser.parse(b"{\"insert\": {\"id\": 1}}\n{\"delete\": {\"ID\": 2}}", &mut changes);
//! assert!(errors.is_empty());
//! assert_eq!(changes, vec![(Row(vec![Value::BigInt(1)]), 1), (Row(vec![Value::BigInt(2)]), -1)]);
//! ```
//!
//! Modules: `decode` (the parsers), `encoder` (the trait, the shared batch loop and message packing), `visit` (the type check every
//! value passes), `json` (with `values` for each flavor, `record`, `snowflake`, `debezium` and the Kafka Connect
//! `schema`), `csv`, `text` and `time` (allocation-free byte writers), `error`.
#![deny(missing_docs)]

mod avro;
mod csv;
mod decode;
mod encoder;
mod error;
mod group;
mod json;
mod keys;
mod plain;
mod text;
mod time;
mod visit;

use sluice_data::Relation;
use sluice_types::{ConfigError, FormatConfig};

pub use avro::SchemaLookup;
pub use decode::{build_avro_parser, build_parser, ParseError, Parser, Pieces, Position};
pub use encoder::{BatchInfo, EncodedMessage, Encoder, MessageHeader, MessageLimits};
pub use error::{EncodeError, SinkError, StepRefused, MAX_PREVIEW_CHARS, MAX_WEIGHT};

/// The Avro schemas `config` writes `view`'s messages with: the value's and, for keyed messages, the key's, as
/// JSON text. Fails as [`build_encoder`] would.
pub fn avro_schemas(
    config: &sluice_types::AvroEncoderConfig,
    view: &Relation,
) -> Result<(String, Option<String>), ConfigError> {
    let limits = MessageLimits {
        max_message_bytes: usize::MAX,
    };
    // The schemas do not depend on where they are registered.
    let unregistered = sluice_types::AvroEncoderConfig {
        registry_urls: Vec::new(),
        registry_headers: Default::default(),
        registry_proxy: None,
        registry_timeout_secs: None,
        registry_username: None,
        registry_password: None,
        registry_authorization_token: None,
        registry_tls_ca_pem: None,
        subject_name_strategy: None,
        ..config.clone()
    };
    Ok(avro::AvroEncoder::new(&unregistered, view, limits)?.schemas())
}

/// Builds the encoder of `format` for `view`, whose messages must fit in `limits`.
///
/// Fails when the format's settings are invalid for output (field paths start with `format.config`), when
/// `key_fields` names a column the view lacks, or when `limits` is too small for any message of the view.
pub fn build_encoder(
    format: &FormatConfig,
    view: &Relation,
    limits: MessageLimits,
) -> Result<Box<dyn Encoder>, ConfigError> {
    Ok(match format {
        FormatConfig::Json(config) => Box::new(json::JsonEncoder::new(config, view, limits)?),
        FormatConfig::Csv(config) => Box::new(csv::CsvEncoder::new(config, view, limits)?),
        FormatConfig::Avro(config) => Box::new(avro::AvroEncoder::new(config, view, limits)?),
    })
}
