//! Input parsers: bytes a user sends (an HTTP ingress body, one Kafka message) become changes to a table.
//!
//! [`build_parser`] checks a [`FormatConfig`] for input and returns a boxed [`Parser`] for one table. Each
//! [`Parser::parse`] call takes one chunk and appends `(row, weight)` pairs; a bad record is reported as a
//! [`ParseError`] with its position and does not stop the records after it. Parsers keep no state between
//! chunks, so a record never spans two chunks; one long input may still be parsed as it arrives ([`Pieces`]), cut
//! where the format says whole records end.
//!
//! Modules: `parser` ([`Parser`] and [`ParseError`]), `pieces` (one input parsed piece by piece), `json` (chunk framing and update formats), `json_value`
//! (one JSON value, or one value's text, to a SQL value), `csv` (RFC 4180 records), `text` (scalar value text
//! shared by both formats), `temporal` (dates and times), `table` (column lookup and error wording).

mod csv;
mod json;
mod json_value;
mod parser;
mod pieces;
mod table;
mod temporal;
mod text;

pub use parser::{ParseError, Parser, Position};
pub use pieces::Pieces;

use sluice_data::Relation;
use sluice_types::{AvroEncoderConfig, ConfigError, FormatConfig};

use crate::avro::{AvroParser, SchemaLookup};

/// Builds the parser of `format` for `table`.
///
/// Fails when the format's settings are not valid for input (field paths start with `format.config`): JSON
/// input supports the `insert_delete`, `weighted` and `raw` update formats in the `default` flavor.
pub fn build_parser(
    format: &FormatConfig,
    table: &Relation,
) -> Result<Box<dyn Parser>, ConfigError> {
    let within = |e: ConfigError| e.within("format.config");
    Ok(match format {
        FormatConfig::Json(config) => {
            config.validate_for_input().map_err(within)?;
            Box::new(json::JsonParser::new(config, table))
        }
        FormatConfig::Csv(config) => {
            config.validate_for_input().map_err(within)?;
            Box::new(csv::CsvParser::new(config, table))
        }
        FormatConfig::Avro(config) => return build_avro_parser(config, table, None),
    })
}

/// Builds the Avro parser of `config` for `table`; `lookup` finds a schema by id in the connector's registry (it is
/// needed with `registry_urls`, and the pipeline builds it).
pub fn build_avro_parser(
    config: &AvroEncoderConfig,
    table: &Relation,
    lookup: Option<SchemaLookup>,
) -> Result<Box<dyn Parser>, ConfigError> {
    Ok(Box::new(
        AvroParser::new(config, table, lookup).map_err(|e| e.within("format.config"))?,
    ))
}
