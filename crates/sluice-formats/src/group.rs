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
use crate::error::{preview, EncodeError, ErrorContext};
use crate::keys::Keys;

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
        keys: &mut Keys,
        enforce: bool,
        context: &ErrorContext,
        errors: &mut Vec<EncodeError>,
    ) -> Result<Vec<Unit<'d>>, Duplicates> {
        self.index.clear();
        let mut groups: Vec<Group<'d>> = Vec::new();
        let _ = for_each_change::<()>(delta, |row, weight| {
            // A NULL text key is a key of its own (no key), kept apart from the empty string by the tag byte.
            self.scratch.clear();
            match keys.write(row) {
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
    fn check_unique(&self, groups: &[Group<'_>], keys: &mut Keys) -> Result<(), Duplicates> {
        let mut bad = groups.iter().filter(|g| g.inserted > 1 || g.deleted > 1);
        let Some(first) = bad.next() else {
            return Ok(());
        };
        let inserted = first.inserted > 1;
        let row = if inserted { first.after } else { first.before };
        let key = row
            .and_then(|row| {
                keys.write(row)
                    .ok()
                    .flatten()
                    .map(|k| preview(&String::from_utf8_lossy(k)))
            })
            .unwrap_or_else(|| "NULL".to_string());
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
