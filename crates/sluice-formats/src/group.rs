//! Groups one step's changes by message key, for the formats that send one message per changed key (`upsert`,
//! `debezium` with `key_fields`): a key's delete and insert in one step become one update.
//!
//! A key must name at most one row of the view. A step that inserts two rows with one key, or one row twice,
//! breaks that, and so does one that deletes two; with `enforce_unique_key` (the default) the whole step is refused
//! before any of its messages is sent, naming the view, the step and the key. Without it, the last row of a key
//! (in the step's order) wins. A key inserted while an older row with it stays in the view cannot be seen from
//! the step alone; the documentation says to key by columns the view keeps unique (its GROUP BY columns).

use std::collections::HashMap;

use sluice_data::Row;

use crate::encoder::for_each_change;
use crate::error::Mismatch;
use crate::error::{preview, EncodeError, ErrorContext, StepRefused};
use crate::keys::Keys;

/// Writes the key bytes that group a step's changes (each format's own key encoding).
pub(crate) trait GroupKey {
    /// The key of `row`: `Ok(None)` for no key (a NULL text key), or the column whose value does not fit.
    fn key(&mut self, row: &Row) -> Result<Option<&[u8]>, (String, Mismatch)>;

    /// The key of `row` as a user reads it, for errors.
    fn preview(&mut self, row: &Row) -> String {
        match self.key(row) {
            Ok(Some(key)) => preview(&String::from_utf8_lossy(key)),
            _ => "NULL".to_string(),
        }
    }
}

impl GroupKey for Keys {
    fn key(&mut self, row: &Row) -> Result<Option<&[u8]>, (String, Mismatch)> {
        self.write(row)
    }
}

/// What one key's changes in a step come to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit<'d> {
    /// The key is new: its row.
    Insert(&'d Row),
    /// The key is gone: its old row.
    Delete(&'d Row),
    /// The key's row changed.
    Update { before: &'d Row, after: &'d Row },
}

impl<'d> Unit<'d> {
    /// The row whose columns the message's key and headers come from: the new one, or the deleted one.
    pub fn row(&self) -> &'d Row {
        match *self {
            Unit::Insert(row) | Unit::Delete(row) => row,
            Unit::Update { after, .. } => after,
        }
    }
}

#[derive(Default)]
struct Group<'d> {
    before: Option<&'d Row>,
    after: Option<&'d Row>,
    deleted: u64,
    inserted: u64,
}

/// Two or more rows with one key in a step.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Duplicates {
    /// How many keys have more than one row.
    pub keys: usize,
    /// The first such key, as sent.
    pub key: String,
    /// The rows it has (inserted or deleted), as many as found.
    pub rows: u64,
    /// Whether the rows were inserted (else deleted).
    pub inserted: bool,
}

impl Duplicates {
    /// The refusal of step `step` of `view` over these duplicates.
    pub fn refusal(&self, view: &str, step: u64) -> StepRefused {
        let did = if self.inserted { "inserts" } else { "deletes" };
        StepRefused(format!(
            "view '{view}': step {step} {did} {} rows with the key {}{}, but the key of this connector must name at \
             most one row; nothing of the step was sent. Choose key_fields that are unique in the view (for a \
             GROUP BY view, the grouping columns), or set enforce_unique_key to false to let the last row of a key \
             win",
            self.rows,
            self.key,
            if self.keys > 1 {
                format!(" (and {} more keys like it)", self.keys - 1)
            } else {
                String::new()
            }
        ))
    }
}

/// Reusable grouping state: the map from key bytes to group.
#[derive(Default)]
pub(crate) struct Grouper {
    index: HashMap<Vec<u8>, usize>,
    scratch: Vec<u8>,
}

impl Grouper {
    /// Groups `delta` by the key `keys` writes, in the order keys first appear (deletes first, as
    /// [`for_each_change`] gives them). Rows whose key cannot be written are reported in `errors` and left out.
    /// With `enforce`, a key with two rows makes the result `Err`.
    pub fn group<'d>(
        &mut self,
        delta: &'d [(Row, i64)],
        keys: &mut dyn GroupKey,
        enforce: bool,
        context: &ErrorContext,
        errors: &mut Vec<EncodeError>,
    ) -> Result<Vec<Unit<'d>>, Duplicates> {
        self.index.clear();
        let mut groups: Vec<Group<'d>> = Vec::new();
        let _ = for_each_change::<()>(delta, |row, weight| {
            // A NULL text key is a key of its own (no key), kept apart from the empty string by the tag byte.
            self.scratch.clear();
            match keys.key(row) {
                Ok(Some(key)) => {
                    self.scratch.push(1);
                    self.scratch.extend_from_slice(key);
                }
                Ok(None) => self.scratch.push(0),
                Err((column, m)) => {
                    errors.push(context.type_mismatch(row, &column, m));
                    return Ok(());
                }
            }
            let next = groups.len();
            let at = *self.index.entry(self.scratch.clone()).or_insert(next);
            if at == next {
                groups.push(Group::default());
            }
            let group = &mut groups[at];
            let copies = weight.unsigned_abs();
            if weight > 0 {
                group.after = Some(row);
                group.inserted += copies;
            } else {
                group.before = Some(row);
                group.deleted += copies;
            }
            Ok(())
        });
        if enforce {
            self.check_unique(&groups, keys)?;
        }
        Ok(groups
            .iter()
            .filter_map(|g| match (g.before, g.after) {
                (None, Some(after)) => Some(Unit::Insert(after)),
                (Some(before), None) => Some(Unit::Delete(before)),
                (Some(before), Some(after)) => Some(Unit::Update { before, after }),
                (None, None) => None,
            })
            .collect())
    }

    /// Finds the keys with more than one row inserted or deleted.
    fn check_unique(
        &self,
        groups: &[Group<'_>],
        keys: &mut dyn GroupKey,
    ) -> Result<(), Duplicates> {
        let mut bad = groups.iter().filter(|g| g.inserted > 1 || g.deleted > 1);
        let Some(first) = bad.next() else {
            return Ok(());
        };
        let inserted = first.inserted > 1;
        let row = if inserted { first.after } else { first.before };
        let key = row.map_or_else(|| "NULL".to_string(), |row| keys.preview(row));
        Err(Duplicates {
            keys: 1 + bad.count(),
            key,
            rows: if inserted {
                first.inserted
            } else {
                first.deleted
            },
            inserted,
        })
    }
}
