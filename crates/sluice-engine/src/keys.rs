//! Primary-key semantics: the current row per key of each keyed table, and what a checkpoint saves of it.
//!
//! dbsp input Z-sets add weights; they do not replace rows. For a table with a `PRIMARY KEY` the engine keeps
//! the current row of every key and turns an upsert into "delete the old row, insert the new one" and a
//! delete-by-key into "delete the current row", so the circuit only ever sees a consistent table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sluice_data::{Relation, Row, Value};
use sluice_sql::{Program, TableDef};

use dbsp::utils::Tup2;

use crate::error::EngineError;
use crate::lateness::SavedWaterlines;
use crate::row::{Changes, DRow};
use crate::validate;

/// The current rows of a table with a primary key.
#[derive(Clone, Debug)]
pub struct KeyedTable {
    key_columns: Vec<usize>,
    rows: BTreeMap<Vec<Value>, Row>,
}

impl KeyedTable {
    /// An empty index for `table`, or `None` when the table has no primary key.
    pub fn for_table(table: &TableDef) -> Option<KeyedTable> {
        (!table.primary_key.is_empty()).then(|| KeyedTable {
            key_columns: table.primary_key.clone(),
            rows: BTreeMap::new(),
        })
    }

    /// The key values of a row.
    pub fn key_of(&self, row: &Row) -> Vec<Value> {
        self.key_columns.iter().map(|&i| row.0[i].clone()).collect()
    }

    /// Replaces the row with `row`'s key (if any) by `row`, recording the changes in `out`.
    pub fn upsert(&mut self, row: Row, out: &mut Changes) {
        let key = self.key_of(&row);
        if let Some(old) = self.rows.insert(key, row.clone()) {
            if old == row {
                return;
            }
            out.push(Tup2(DRow::from(old), -1));
        }
        out.push(Tup2(DRow::from(row), 1));
    }

    /// The current row with `key`, if any.
    pub fn current(&self, key: &[Value]) -> Option<&Row> {
        self.rows.get(key)
    }

    /// Removes the row with `key`, if any, recording the change in `out`.
    pub fn delete(&mut self, key: &[Value], out: &mut Changes) {
        if let Some(old) = self.rows.remove(key) {
            out.push(Tup2(DRow::from(old), -1));
        }
    }

    /// Checks that `key` has the key columns' count and types and returns it normalised the way stored rows are
    /// (an INT column given a BIGINT value, a DECIMAL at its declared scale): stored keys are compared by value
    /// representation, so an unnormalised key would match nothing.
    pub fn check_key(&self, table: &Relation, key: Row) -> Result<Row, EngineError> {
        if key.0.len() != self.key_columns.len() {
            return Err(EngineError::KeyArity {
                table: table.name.clone(),
                key: key.to_string(),
                found: key.0.len(),
                expected: self.key_columns.len(),
            });
        }
        let key_relation = Relation::new(
            table.name.clone(),
            self.key_columns
                .iter()
                .map(|&i| table.fields[i].clone())
                .collect(),
        );
        validate::validate(&key_relation, key)
    }
}

/// One checkpoint of an engine: dbsp's checkpoint id (its files are in the storage directory) and the engine's
/// own state, which dbsp does not hold: the rows of every keyed table. Serializable, so that the caller stores
/// it with its own progress in one write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineCheckpoint {
    /// dbsp's checkpoint id.
    pub(crate) checkpoint: String,
    /// Whether the constant-row input was already fed.
    pub(crate) unit_pushed: bool,
    /// The rows of every keyed table, by table name.
    pub(crate) keyed: BTreeMap<String, Vec<Row>>,
    /// The waterlines' largest values and the late-record counts (empty for a program without `LATENESS`, and in
    /// checkpoints written before there was lateness).
    #[serde(default)]
    pub(crate) waterlines: SavedWaterlines,
    /// The rows of each `emit_final` view that are not final yet, by view name.
    #[serde(default)]
    pub(crate) final_rows: BTreeMap<String, Vec<(Row, i64)>>,
}

impl EngineCheckpoint {
    /// The state to save.
    pub fn new(
        checkpoint: String,
        unit_pushed: bool,
        program: &Program,
        keyed: &[Option<KeyedTable>],
        waterlines: SavedWaterlines,
        final_rows: BTreeMap<String, Vec<(Row, i64)>>,
    ) -> Self {
        let keyed = program
            .tables
            .iter()
            .zip(keyed)
            .filter_map(|(t, k)| {
                Some((
                    t.relation.name.clone(),
                    k.as_ref()?.rows.values().cloned().collect(),
                ))
            })
            .collect();
        EngineCheckpoint {
            checkpoint,
            unit_pushed,
            keyed,
            waterlines,
            final_rows,
        }
    }

    /// dbsp's id of this checkpoint.
    pub fn id(&self) -> Result<uuid::Uuid, EngineError> {
        self.checkpoint.parse().map_err(|e| {
            EngineError::Checkpoint(format!("invalid checkpoint id {}: {e}", self.checkpoint))
        })
    }

    /// The restored index of `table`.
    pub fn keyed_table(&self, table: &TableDef) -> Result<Option<KeyedTable>, EngineError> {
        let Some(mut k) = KeyedTable::for_table(table) else {
            return Ok(None);
        };
        for row in self.keyed.get(&table.relation.name).into_iter().flatten() {
            k.rows.insert(k.key_of(row), row.clone());
        }
        Ok(Some(k))
    }
}
