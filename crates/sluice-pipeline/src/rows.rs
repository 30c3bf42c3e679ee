//! Checking records against a table's schema, for every way records enter a pipeline (HTTP ingress through the
//! controller, input connectors on their own threads): a leaf both use, so neither depends on the other.

use sluice_data::Row;
use sluice_sql::TableDef;

/// Checks every record against `table` (its schema, and that an append-only table only gains rows): the checked
/// records, or one message per invalid record (numbered from 1) when any is invalid.
pub(crate) fn check_rows(
    table: &TableDef,
    records: Vec<(Row, i64)>,
) -> Result<Vec<(Row, i64)>, Vec<String>> {
    let mut valid = Vec::with_capacity(records.len());
    let mut invalid = Vec::new();
    for (i, (row, weight)) in records.into_iter().enumerate() {
        match sluice_engine::validate_change(table, row, weight) {
            Ok(row) => valid.push((row, weight)),
            Err(e) => invalid.push(format!("record {}: {e}", i + 1)),
        }
    }
    if invalid.is_empty() {
        Ok(valid)
    } else {
        Err(invalid)
    }
}
