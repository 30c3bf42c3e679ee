//! The Avro parser: one Kafka message is one record of the table, in the Confluent wire format unless
//! `skip_schema_id`, decoded with the given `schema` or with the schema the registry has for the message's id
//! (looked up once per id through a [`SchemaLookup`] the pipeline provides). `raw` records are inserts.

use std::collections::HashMap;

use sluice_data::{Relation, Row};
use sluice_types::{AvroEncoderConfig, ConfigError};

use super::read::{read_value, Input};
use super::schema::{self, Shape};
use crate::decode::{ParseError, Parser};

/// Finds the schema (JSON text) a registry has under an id.
pub type SchemaLookup = Box<dyn FnMut(u32) -> Result<String, String> + Send>;

/// Parses Avro records into rows of one table.
pub(crate) struct AvroParser {
    table: Relation,
    skip_schema_id: bool,
    /// The given schema's shapes, when there is one.
    given: Option<Vec<Shape>>,
    lookup: Option<SchemaLookup>,
    /// Shapes of the schemas looked up so far, or why one cannot be read into the table.
    by_id: HashMap<u32, Result<Vec<Shape>, String>>,
}

impl AvroParser {
    /// The parser of `config` (checked for input) for `table`; `lookup` is needed when `config` names a registry.
    pub fn new(
        config: &AvroEncoderConfig,
        table: &Relation,
        lookup: Option<SchemaLookup>,
    ) -> Result<Self, ConfigError> {
        config.validate_for_input()?;
        let given = match &config.schema {
            Some(text) => Some(schema::given(text, table, false)?.fields),
            None => None,
        };
        if given.is_none() && lookup.is_none() {
            return Err(ConfigError::new(
                "registry_urls",
                "reading by the registry's schemas needs the pipeline's registry lookup",
            ));
        }
        Ok(AvroParser {
            table: table.clone(),
            skip_schema_id: config.skip_schema_id,
            given,
            lookup,
            by_id: HashMap::new(),
        })
    }

    fn shapes(&mut self, id: Option<u32>) -> Result<&[Shape], String> {
        if let Some(given) = &self.given {
            return Ok(given);
        }
        let id = id.ok_or("without a schema id (skip_schema_id) a schema must be given")?;
        let (table, lookup) = (&self.table, &mut self.lookup);
        let found = self.by_id.entry(id).or_insert_with(|| {
            let text = (lookup.as_mut().expect("checked when built"))(id)?;
            schema::given(&text, table, false)
                .map(|r| r.fields)
                .map_err(|e| {
                    format!(
                        "the registry's schema {id} does not fit the table: {}",
                        e.reason
                    )
                })
        });
        found.as_deref().map_err(Clone::clone)
    }

    fn record(&mut self, bytes: &[u8]) -> Result<Row, String> {
        let (id, body) = if self.skip_schema_id {
            (None, bytes)
        } else {
            match bytes {
                [0, a, b, c, d, body @ ..] => (Some(u32::from_be_bytes([*a, *b, *c, *d])), body),
                [] => return Err("an empty message".into()),
                _ => {
                    return Err(
                        "no Confluent header (a zero byte and a 4-byte schema id); set skip_schema_id for bare datums"
                            .into(),
                    )
                }
            }
        };
        let fields = self.table.fields.clone();
        let shapes = self.shapes(id)?;
        let mut input = Input::new(body);
        let mut values = Vec::with_capacity(fields.len());
        for (shape, field) in shapes.iter().zip(&fields) {
            let value = read_value(shape, &field.sql_type, &mut input)
                .map_err(|e| format!("column '{}': {e}", field.name))?;
            values.push(value);
        }
        if !input.is_empty() {
            return Err("bytes are left after the record".into());
        }
        Ok(Row(values))
    }
}

impl Parser for AvroParser {
    fn parse(&mut self, bytes: &[u8], out: &mut Vec<(Row, i64)>) -> Vec<ParseError> {
        match self.record(bytes) {
            Ok(row) => {
                out.push((row, 1));
                Vec::new()
            }
            Err(why) => vec![ParseError {
                index: 0,
                line: None,
                message: format!("table '{}': Avro record: {why}", self.table.name),
            }],
        }
    }
}
