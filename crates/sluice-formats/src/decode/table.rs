//! The table a parser feeds: its columns, how a JSON key finds its column, and how errors are worded.
//!
//! Every error a parser reports reads `table 't', record N at line L: column 'c' (TYPE[ NOT NULL]): detail`, so
//! that a user can find the record in what they sent and see what the column wanted.

use std::collections::HashMap;

use sluice_data::{Field, Relation, Row, Value};

use super::json_value::{convert, members};
use super::parser::ParseError;

/// A table's columns with what the parsers need to find them and to name them in errors.
pub(crate) struct Table {
    name: String,
    fields: Vec<Field>,
    /// `column 'qty' (BIGINT NOT NULL)` per column.
    labels: Vec<String>,
    exact: HashMap<String, usize>,
    /// Lower-cased names; when two columns differ only in case, the first keeps the lower-cased name.
    folded: HashMap<String, usize>,
}

impl Table {
    /// The parsers' view of `relation`.
    pub fn new(relation: &Relation) -> Self {
        let mut exact = HashMap::new();
        let mut folded = HashMap::new();
        for (i, f) in relation.fields.iter().enumerate() {
            exact.entry(f.name.clone()).or_insert(i);
            folded.entry(f.name.to_lowercase()).or_insert(i);
        }
        let labels = relation
            .fields
            .iter()
            .map(|f| {
                let not_null = if f.nullable { "" } else { " NOT NULL" };
                format!("column '{}' ({}{not_null})", f.name, f.sql_type.sql_name())
            })
            .collect();
        Table {
            name: relation.name.clone(),
            fields: relation.fields.clone(),
            labels,
            exact,
            folded,
        }
    }

    /// The columns, in row order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// `detail` about column `i`.
    pub fn column_error(&self, i: usize, detail: &str) -> String {
        format!("{}: {detail}", self.labels[i])
    }

    /// The error about the record at 0-based `index` that starts at 1-based `line`.
    pub fn error(&self, index: usize, line: usize, detail: &str) -> ParseError {
        ParseError {
            index,
            line: Some(line),
            message: format!(
                "table '{}', record {} at line {line}: {detail}",
                self.name,
                index + 1
            ),
        }
    }

    /// The column a JSON key names: the exact name, else the name compared case-insensitively (unquoted SQL
    /// names are lower case, and users often send `ID` for `id`). The flag says whether the match was exact.
    fn lookup(&self, key: &str) -> Option<(usize, bool)> {
        if let Some(&i) = self.exact.get(key) {
            return Some((i, true));
        }
        self.folded.get(&key.to_lowercase()).map(|&i| (i, false))
    }

    /// The row of the JSON object `raw`. Unknown keys are ignored; a missing key is NULL, or an error for a NOT
    /// NULL column; an exact key wins over a case-insensitive one whatever their order.
    pub fn json_row(&self, raw: &str) -> Result<Row, String> {
        let members = members(raw, "a record (a JSON object)")?;
        let mut slots: Vec<Option<(&str, bool)>> = vec![None; self.fields.len()];
        for (key, value) in &members.0 {
            if let Some((i, exact)) = self.lookup(key) {
                if exact || !matches!(slots[i], Some((_, true))) {
                    slots[i] = Some((value.get(), exact));
                }
            }
        }
        let values = self
            .fields
            .iter()
            .zip(slots)
            .enumerate()
            .map(|(i, (field, slot))| match slot {
                Some((raw, _)) => convert(raw, &field.sql_type, field.nullable)
                    .map_err(|e| self.column_error(i, &e)),
                None if field.nullable => Ok(Value::Null),
                None => Err(self.column_error(i, "missing from the record")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Row(values))
    }
}
