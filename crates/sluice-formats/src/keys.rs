//! What a message carries besides its value: the key ([`Keys`]) and per-message headers ([`Headers`]), the
//! same for every format, and [`Decor`], which sends a record with them or packs it when it has neither.
//!
//! A key is a JSON object of the key columns (`{"id":1}`, in the format's JSON flavor) or, with `key_format:
//! "text"`, the one key column as text; Debezium wraps it in a Kafka Connect envelope (a prefix and suffix).
//! Header values are text, spelled like CSV fields (strings as they are, dates ISO, binary as hex); a NULL column
//! gives a header without a value, and so does a NULL text key (no key at all).

use std::sync::Arc;

use sluice_data::{Field, Relation, Row};
use sluice_types::{ConfigError, KeyFormat, MessageOptions, SYSTEM_HEADERS};

use crate::encoder::{Message, MessageHeader, Output};
use crate::error::{Mismatch, SinkError};
use crate::json::record::ObjectWriter;
use crate::json::values::JsonWriter;
use crate::plain::CsvWriter;
use crate::text::write_int;
use crate::visit::write_column;

/// What a change did to its row (or key): the `sluice.op` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Insert,
    Update,
    Delete,
}

impl Op {
    /// The change of a weight's sign.
    pub fn of(insert: bool) -> Op {
        if insert {
            Op::Insert
        } else {
            Op::Delete
        }
    }

    fn name(self) -> &'static [u8] {
        match self {
            Op::Insert => b"insert",
            Op::Update => b"update",
            Op::Delete => b"delete",
        }
    }
}

/// Which columns form the key, and how.
enum KeyColumns {
    /// A JSON object of these columns.
    Object(ObjectWriter),
    /// One column as text.
    Text { index: usize, field: Field },
}

/// Writes each message's key.
pub(crate) struct Keys {
    columns: KeyColumns,
    /// Written before and after the key columns (Debezium's `{"schema":..,"payload":` and `}`).
    prefix: Vec<u8>,
    suffix: &'static [u8],
    buf: Vec<u8>,
}

impl Keys {
    /// The key of `key_fields` (in `key_format`) for `view`, or of the whole record when `key_fields` is absent
    /// and `whole_record` says so; `None` when messages have no key. `json` spells the object's values.
    pub fn new(
        options: &MessageOptions<'_>,
        view: &Relation,
        json: JsonWriter,
        whole_record: bool,
    ) -> Result<Option<Keys>, ConfigError> {
        let columns = match options.key_fields {
            None if whole_record => {
                KeyColumns::Object(ObjectWriter::new(&view.fields, 0..view.fields.len(), json))
            }
            None => return Ok(None),
            Some(names) => {
                let indices = column_indices(view, "key_fields", names)?;
                match options.key_format {
                    KeyFormat::Json => {
                        KeyColumns::Object(ObjectWriter::new(&view.fields, indices, json))
                    }
                    KeyFormat::Text => KeyColumns::Text {
                        index: indices[0],
                        field: view.fields[indices[0]].clone(),
                    },
                }
            }
        };
        Ok(Some(Keys {
            columns,
            prefix: Vec::new(),
            suffix: b"",
            buf: Vec::new(),
        }))
    }

    /// Wraps every key in `prefix` and `suffix`.
    pub fn wrapped(mut self, prefix: Vec<u8>, suffix: &'static [u8]) -> Self {
        self.prefix = prefix;
        self.suffix = suffix;
        self
    }

    /// The fewest bytes a key takes.
    pub fn min_len(&self) -> usize {
        let columns = match &self.columns {
            KeyColumns::Object(object) => object.min_len(),
            KeyColumns::Text { .. } => 0,
        };
        self.prefix.len() + columns + self.suffix.len()
    }

    /// Writes the key of `row`; `Ok(None)` for a NULL text key (no key).
    pub fn write(&mut self, row: &Row) -> Result<Option<&[u8]>, (String, Mismatch)> {
        self.buf.clear();
        self.buf.extend_from_slice(&self.prefix);
        match &self.columns {
            KeyColumns::Object(object) => object
                .write(&mut self.buf, row)
                .map_err(|(column, m)| (column.to_string(), m))?,
            KeyColumns::Text { index, field } => {
                if row.values().get(*index).is_some_and(|v| v.is_null()) {
                    return Ok(None);
                }
                write_column(&CsvWriter, &mut self.buf, row, *index, field)
                    .map_err(|m| (field.name.clone(), m))?;
            }
        }
        self.buf.extend_from_slice(self.suffix);
        Ok(Some(&self.buf))
    }
}

/// Writes each message's headers: the `header_fields` columns, then the system headers.
pub(crate) struct Headers {
    columns: Vec<(Arc<str>, usize, Field)>,
    /// `sluice.op`, `sluice.view`, `sluice.step`.
    system: bool,
    /// `sluice.op` alone (plain-row output with `on_delete: "op_header"`).
    op_only: bool,
    names: [Arc<str>; 3],
    view: Vec<u8>,
    step: Vec<u8>,
    buf: Vec<MessageHeader>,
}

impl Headers {
    /// The headers `options` asks for, of `view`; `op_only` adds `sluice.op` even without system headers.
    pub fn new(
        options: &MessageOptions<'_>,
        view: &Relation,
        op_only: bool,
    ) -> Result<Headers, ConfigError> {
        let indices = column_indices(view, "header_fields", options.header_fields)?;
        let columns = indices
            .into_iter()
            .map(|i| {
                (
                    Arc::from(view.fields[i].name.as_str()),
                    i,
                    view.fields[i].clone(),
                )
            })
            .collect();
        Ok(Headers {
            columns,
            system: options.system_headers,
            op_only,
            names: SYSTEM_HEADERS.map(Arc::from),
            view: view.name.as_bytes().to_vec(),
            step: b"0".to_vec(),
            buf: Vec::new(),
        })
    }

    /// Whether no message gets a header.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty() && !self.system && !self.op_only
    }

    /// The step the next messages belong to.
    pub fn set_step(&mut self, step: u64) {
        self.step.clear();
        write_int(&mut self.step, step);
    }

    /// The headers of a message about `row` that did `op`. Header columns were type-checked with the record.
    pub fn write(&mut self, row: &Row, op: Op) -> &[MessageHeader] {
        self.buf.clear();
        for (name, index, field) in &self.columns {
            let value = if row.values().get(*index).is_none_or(|v| v.is_null()) {
                None
            } else {
                let mut text = Vec::new();
                let written = write_column(&CsvWriter, &mut text, row, *index, field);
                debug_assert!(
                    written.is_ok(),
                    "header columns are checked with the record"
                );
                Some(text)
            };
            self.buf.push(MessageHeader {
                name: name.clone(),
                value,
            });
        }
        if self.system || self.op_only {
            self.buf.push(MessageHeader {
                name: self.names[0].clone(),
                value: Some(op.name().to_vec()),
            });
        }
        if self.system {
            self.buf.push(MessageHeader {
                name: self.names[1].clone(),
                value: Some(self.view.clone()),
            });
            self.buf.push(MessageHeader {
                name: self.names[2].clone(),
                value: Some(self.step.clone()),
            });
        }
        &self.buf
    }
}

/// A record's message as the format wrote it, before the key and headers are added.
pub(crate) struct Record<'a> {
    /// The row, for the key and header columns.
    pub row: &'a Row,
    /// The whole record as written, shown in errors.
    pub record: &'a [u8],
    /// The message value; `None` for a tombstone.
    pub value: Option<&'a [u8]>,
    pub op: Op,
    /// What each message counts as records.
    pub records: usize,
}

/// The key and headers of an encoder's messages.
pub(crate) struct Decor {
    pub keys: Option<Keys>,
    pub headers: Headers,
}

impl Decor {
    /// Whether records may be packed several to a message (no key, no headers).
    pub fn is_plain(&self) -> bool {
        self.keys.is_none() && self.headers.is_empty()
    }

    /// Sends `copies` messages of `record`: packed when plain and not a tombstone, otherwise one message each
    /// with its key and headers.
    pub fn send(
        &mut self,
        out: &mut Output<'_, '_>,
        record: Record<'_>,
        copies: u64,
    ) -> Result<(), SinkError> {
        if self.is_plain() {
            if let Some(value) = record.value {
                return out.push_copies(value, copies);
            }
        }
        let key = match &mut self.keys {
            None => None,
            Some(keys) => match keys.write(record.row) {
                Ok(key) => key,
                Err((column, m)) => {
                    out.errors
                        .push(out.context.type_mismatch(record.row, &column, m));
                    return Ok(());
                }
            },
        };
        let headers = if self.headers.is_empty() {
            &[][..]
        } else {
            self.headers.write(record.row, record.op)
        };
        let message = Message {
            key,
            value: record.value,
            headers,
            records: record.records,
        };
        out.send_each(message, copies, record.record)
    }
}

/// The column indices of `names` in `view`, or an error for `field` naming the first unknown column and listing
/// the view's columns.
pub(crate) fn column_indices(
    view: &Relation,
    field: &str,
    names: &[String],
) -> Result<Vec<usize>, ConfigError> {
    names
        .iter()
        .map(|name| {
            view.field_index(name).ok_or_else(|| {
                let columns: Vec<&str> = view.fields.iter().map(|f| f.name.as_str()).collect();
                ConfigError::new(
                    format!("format.config.{field}"),
                    format!(
                        "view '{}' has no column '{name}'; its columns are: {}",
                        view.name,
                        columns.join(", ")
                    ),
                )
            })
        })
        .collect()
}
