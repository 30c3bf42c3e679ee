//! The public configuration and error shapes of Sluice.
//!
//! A connector is a [`ConnectorConfig`]: a transport (where bytes go, e.g. [`KafkaOutputConfig`], or come from, e.g.
//! [`KafkaInputConfig`]) and a format
//! (how a view's changes become bytes, e.g. [`JsonEncoderConfig`]), tagged as `{"name": ..., "config": ...}` exactly as
//! Feldera's connector API spells them. [`ConnectorConfig::validate`] checks everything that can be checked
//! without a network and without the view's schema; librdkafka option validation is done by `sluice-transports`,
//! which owns librdkafka, and key columns are checked against the view by `sluice-formats`.
//!
//! Deserializing then serializing a config gives it back with every default filled in, which is what the REST API
//! stores and returns.
//!
//! This crate must not depend on any runtime crate (tokio, rdkafka, axum, dbsp, datafusion).
#![deny(missing_docs)]

mod connector;
mod error;
pub mod format;
pub mod secret;
pub mod transport;

pub use connector::{ConnectorConfig, Direction, EncodeErrorPolicy, FormatConfig, TransportConfig};
pub use error::{ConfigError, ErrorResponse};
pub use format::avro::{AvroEncoderConfig, AvroKeyMode, AvroUpdateFormat};
pub use format::csv::CsvEncoderConfig;
pub use format::json::{JsonEncoderConfig, JsonFlavor, JsonUpdateFormat};
pub use format::message::{DeletePolicy, KeyFormat, MessageOptions, SYSTEM_HEADERS};
pub use transport::file::FileOutputConfig;
pub use transport::kafka::{
    ExactlyOnceMode, KafkaHeader, KafkaLogLevel, KafkaOutputConfig, KafkaOutputFaultTolerance,
};
pub use transport::kafka_input::KafkaInputConfig;
