//! Sluice's incremental engine: runs a compiled SQL program as a dbsp circuit, step by step.
//!
//! [`Engine::start`] builds the circuit of a [`sluice_sql::Program`] on its own OS thread (see `controller`)
//! with `workers` dbsp worker threads. Callers feed changes per table ([`Engine::push`], and for tables with a
//! primary key [`Engine::upsert`] / [`Engine::delete_by_key`]), then [`Engine::step`] runs one transaction and
//! returns, for every view, exactly the changes of that view as a [`sluice_data::Delta`]. With storage
//! configured, [`Engine::checkpoint`] saves the whole state and returns an [`EngineCheckpoint`] naming it;
//! [`Engine::restore`] continues from one. The caller stores that value (it is small, apart from keyed tables'
//! rows) wherever its own commit point is, so that engine state and the caller's progress cannot disagree.
//!
//! [`Engine::snapshot`] streams the whole contents of `MATERIALIZED` views in chunks (for an output connector
//! that starts with the view's current rows); other views do not keep their contents.
//!
//! Rows are checked against the table schema before they enter the circuit (`validate`). Inside, rows are
//! [`row::DRow`]s, the archivable wrapper dbsp needs; outputs are plain `sluice_data` rows again.
//!
//! This crate must not depend on HTTP, Kafka or the formats: pipelines connect those to the engine.

mod chain;
mod circuit;
mod compaction;
mod controller;
mod emit_final;
mod error;
mod group;
mod keys;
mod lateness;
mod retention;
pub mod row;
mod sums;
mod totals;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use sluice_data::{Delta, Row, Value};
use sluice_sql::Program;

use controller::{Command, SnapshotPart, StorageSetup};
use dbsp::utils::Tup2;
use emit_final::FinalBuffer;
use keys::KeyedTable;
use lateness::Waterlines;
use row::{Changes, DRow};

pub use error::EngineError;

/// The version of the way the circuit keeps a program's state. It changes whenever the circuit built for the same
/// program changes shape (version 2: GROUP BY running totals keep one trace, not `aggregate_linear`'s two), since a
/// dbsp checkpoint only restores into the circuit that wrote it. Stored state records it, so that an engine of
/// another version refuses that state instead of restoring it into operators it does not fit.
pub const STATE_LAYOUT: u32 = 2;
pub use keys::EngineCheckpoint;
pub use validate::{validate as validate_row, validate_change};

/// How to run a program.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// dbsp worker threads (at least 1). Outputs do not depend on it.
    pub workers: usize,
    /// A directory for dbsp storage and checkpoints; `None` keeps all state in memory.
    pub storage: Option<PathBuf>,
}

impl EngineConfig {
    /// `workers` threads, no storage.
    pub fn with_workers(workers: usize) -> Self {
        EngineConfig {
            workers,
            storage: None,
        }
    }
}

/// A key of an index that more than one row of the index's view has (see [`Engine::duplicate_keys`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The index's name.
    pub index: String,
    /// Its view.
    pub view: String,
    /// The key's values, in the index's column order.
    pub key: Row,
    /// How many rows of the view have it now (at least 2).
    pub rows: i64,
}

/// One buffer per view, for the `emit_final` ones, holding `rows(view name)`.
fn final_buffers(
    program: &Program,
    rows: impl Fn(&str) -> Vec<(Row, i64)>,
) -> Vec<Option<FinalBuffer>> {
    program
        .views
        .iter()
        .map(|v| {
            let spec = v.emit_final.clone()?;
            Some(FinalBuffer::new(spec, rows(&v.relation.name)))
        })
        .collect()
}

/// A running program.
pub struct Engine {
    program: Arc<Program>,
    config: EngineConfig,
    commands: Option<Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    pending: Vec<Changes>,
    keyed: Vec<Option<KeyedTable>>,
    unit_pushed: bool,
    duplicates: Vec<DuplicateKey>,
    waterlines: Waterlines,
    /// Per view in program order: the rows of an `emit_final` view that are not final yet.
    finals: Vec<Option<FinalBuffer>>,
}

impl Engine {
    /// Builds the circuit and starts it with empty tables.
    pub fn start(program: Program, config: EngineConfig) -> Result<Engine, EngineError> {
        let keyed = program.tables.iter().map(KeyedTable::for_table).collect();
        let waterlines = Waterlines::new(&program);
        let finals = final_buffers(&program, |_| Vec::new());
        Self::launch(
            Arc::new(program),
            config,
            None,
            keyed,
            false,
            (waterlines, finals),
        )
    }

    /// Restarts `program` from `saved`, a checkpoint in `config.storage`; the program must be the one that wrote
    /// it.
    pub fn restore(
        program: Program,
        config: EngineConfig,
        saved: &EngineCheckpoint,
    ) -> Result<Engine, EngineError> {
        if config.storage.is_none() {
            return Err(EngineError::Checkpoint(
                "restore needs a storage directory".into(),
            ));
        }
        let keyed = program
            .tables
            .iter()
            .map(|t| saved.keyed_table(t))
            .collect::<Result<Vec<_>, _>>()?;
        let checkpoint = saved.checkpoint.clone();
        let waterlines = Waterlines::restore(&program, &saved.waterlines);
        let finals = final_buffers(&program, |view| {
            saved.final_rows.get(view).cloned().unwrap_or_default()
        });
        Self::launch(
            Arc::new(program),
            config,
            Some(checkpoint),
            keyed,
            saved.unit_pushed,
            (waterlines, finals),
        )
    }

    fn launch(
        program: Arc<Program>,
        config: EngineConfig,
        checkpoint: Option<String>,
        keyed: Vec<Option<KeyedTable>>,
        unit_pushed: bool,
        (waterlines, finals): (Waterlines, Vec<Option<FinalBuffer>>),
    ) -> Result<Engine, EngineError> {
        let storage = config
            .storage
            .clone()
            .map(|path| StorageSetup { path, checkpoint });
        let (commands, thread) = controller::spawn(program.clone(), config.workers, storage)?;
        Ok(Engine {
            pending: vec![Vec::new(); program.tables.len()],
            program,
            config,
            commands: Some(commands),
            thread: Some(thread),
            keyed,
            unit_pushed,
            duplicates: Vec::new(),
            waterlines,
            finals,
        })
    }

    /// The compiled program (schemas of tables and views).
    pub fn program(&self) -> &Program {
        &self.program
    }

    fn table_index(&self, table: &str) -> Result<usize, EngineError> {
        self.program
            .tables
            .iter()
            .position(|t| t.relation.name == table)
            .ok_or_else(|| EngineError::UnknownTable(table.to_string()))
    }

    /// Adds changes to `table` for the next step: each row with its weight (positive inserts, negative deletes).
    ///
    /// On a table with a primary key, a positive weight upserts the row (replacing the row with the same key)
    /// and a negative weight deletes the row with the same key, so the table never holds two rows per key.
    /// Nothing is applied when any row is invalid, or when a row deletes from an append-only table.
    ///
    /// A change of a row below a waterline (a column's `LATENESS`) is late: it is dropped and counted
    /// ([`Engine::late_records`]), not an error. On a keyed table, so is a change that would replace or delete a
    /// row that is itself below a waterline.
    pub fn push(&mut self, table: &str, rows: Vec<(Row, i64)>) -> Result<(), EngineError> {
        let t = self.table_index(table)?;
        let def = &self.program.tables[t];
        let relation = &def.relation;
        let Some(k) = &mut self.keyed[t] else {
            // Without a key, valid rows go straight into the pending batch; an invalid one takes back the rows
            // of this call that went in before it.
            let pending = &mut self.pending[t];
            let before = pending.len();
            pending.reserve(rows.len());
            for (row, w) in rows.into_iter().filter(|(_, w)| *w != 0) {
                match validate::validate_change(def, row, w) {
                    Ok(row) => pending.push(Tup2(DRow::from(row), w)),
                    Err(e) => {
                        pending.truncate(before);
                        return Err(e);
                    }
                }
            }
            // Only once every row is valid, so that a refused call counts and raises nothing.
            if self.waterlines.has_table(t) {
                let waterlines = &mut self.waterlines;
                let mut kept = before;
                for i in before..pending.len() {
                    let Tup2(row, w) = &pending[i];
                    if waterlines.admit(t, row.values(), *w) {
                        pending.swap(kept, i);
                        kept += 1;
                    }
                }
                pending.truncate(kept);
            }
            return Ok(());
        };
        // With a key, every row is checked before the key index changes.
        let rows = rows
            .into_iter()
            .filter(|(_, w)| *w != 0)
            .map(|(r, w)| Ok((validate::validate(relation, r)?, w)))
            .collect::<Result<Vec<_>, EngineError>>()?;
        for (row, w) in rows {
            if self.waterlines.has_table(t) {
                let old_is_late = k
                    .current(&k.key_of(&row))
                    .is_some_and(|old| self.waterlines.is_late(t, &old.0));
                if old_is_late || (w > 0 && self.waterlines.is_late(t, &row.0)) {
                    self.waterlines.count_late(t);
                    continue;
                }
                self.waterlines.observe(t, &row.0, w);
            }
            if w > 0 {
                k.upsert(row, &mut self.pending[t]);
            } else {
                let key = k.key_of(&row);
                k.delete(&key, &mut self.pending[t]);
            }
        }
        Ok(())
    }

    /// Inserts rows into a table with a primary key, replacing existing rows with the same key.
    pub fn upsert(&mut self, table: &str, rows: Vec<Row>) -> Result<(), EngineError> {
        let t = self.table_index(table)?;
        if self.keyed[t].is_none() {
            return Err(EngineError::NoPrimaryKey(table.to_string()));
        }
        self.push(table, rows.into_iter().map(|r| (r, 1)).collect())
    }

    /// Deletes the rows with the given primary-key values (in key column order); absent keys are ignored.
    pub fn delete_by_key(&mut self, table: &str, keys: Vec<Row>) -> Result<(), EngineError> {
        let t = self.table_index(table)?;
        let relation = self.program.tables[t].relation.clone();
        let k = self.keyed[t]
            .as_mut()
            .ok_or_else(|| EngineError::NoPrimaryKey(table.to_string()))?;
        let keys = keys
            .into_iter()
            .map(|key| k.check_key(&relation, key))
            .collect::<Result<Vec<_>, _>>()?;
        for key in keys {
            if k.current(&key.0)
                .is_some_and(|old| self.waterlines.is_late(t, &old.0))
            {
                self.waterlines.count_late(t);
                continue;
            }
            k.delete(&key.0, &mut self.pending[t]);
        }
        Ok(())
    }

    /// Runs one step over the changes added since the last one and returns each view's changes, by view name.
    /// Views with no change map to an empty delta.
    pub fn step(&mut self) -> Result<HashMap<String, Delta>, EngineError> {
        let inputs = std::mem::replace(
            &mut self.pending,
            vec![Vec::new(); self.program.tables.len()],
        );
        let (reply, response) = channel();
        let push_unit = !self.unit_pushed;
        // This step's rows were admitted under the waterlines in force; those bound its state. The next step's
        // rows are admitted under the waterlines this step's rows raised.
        let waterlines = self.waterlines.any().then(|| self.waterlines.bound());
        self.waterlines.advance();
        self.send(Command::Step {
            inputs,
            push_unit,
            waterlines,
            reply,
        })?;
        let output = response.recv().map_err(|_| EngineError::Stopped)??;
        self.unit_pushed = true;
        self.duplicates = self
            .program
            .indexes
            .iter()
            .zip(output.duplicates)
            .flat_map(|(index, counts)| {
                counts.into_iter().map(move |(mut row, _)| {
                    let rows = match row.0.pop() {
                        Some(Value::BigInt(n)) => n,
                        _ => unreachable!("a duplicate key ends with its row count"),
                    };
                    DuplicateKey {
                        index: index.name.clone(),
                        view: index.view.clone(),
                        key: row,
                        rows,
                    }
                })
            })
            .collect();
        Ok(self.finalize(output.views))
    }

    /// The step's deltas by view name, an `emit_final` view's being the rows that became final (see `emit_final`).
    fn finalize(&mut self, deltas: Vec<Delta>) -> HashMap<String, Delta> {
        let deltas = deltas
            .into_iter()
            .zip(&mut self.finals)
            .map(|(delta, buffer)| match buffer {
                Some(b) => b.step(delta, &self.waterlines),
                None => delta,
            })
            .collect();
        self.by_view(deltas)
    }

    /// The keys of `CREATE INDEX`es that more than one row of their view has, as of the last [`Engine::step`]: those
    /// whose number of rows changed in that step (a key that got its second row, or a third). An output connector
    /// keyed by an index that promises one row per key refuses the step when its index has one.
    pub fn duplicate_keys(&self) -> &[DuplicateKey] {
        &self.duplicates
    }

    /// Streams the current contents of the materialized views `views`: the returned [`Snapshot`] yields
    /// `(view, rows)` chunks of at most `chunk_rows` rows (each row with its weight, 1 unless the view holds it more
    /// than once), view after view, read straight from the view's stored contents so that memory holds a chunk or
    /// two, never the whole view. It runs one step without input (none on an engine that never stepped: its views
    /// are empty); [`Snapshot::finish`] returns that step's deltas, which a step without input leaves empty.
    pub fn snapshot(
        &mut self,
        views: &[&str],
        chunk_rows: usize,
    ) -> Result<Snapshot<'_>, EngineError> {
        if self.pending.iter().any(|p| !p.is_empty()) {
            return Err(EngineError::Dbsp(
                "changes are pending: call step() before snapshot()".into(),
            ));
        }
        let mut indexes = Vec::with_capacity(views.len());
        for name in views {
            let (i, view) = self
                .program
                .views
                .iter()
                .enumerate()
                .find(|(_, v)| v.relation.name == *name)
                .ok_or_else(|| EngineError::UnknownView(name.to_string()))?;
            if !view.materialized {
                return Err(EngineError::NotMaterialized(name.to_string()));
            }
            indexes.push(i);
        }
        // Two chunks in flight at most: the engine thread waits while the caller sends the previous one on.
        let (parts, receiver) = sync_channel(1);
        if self.unit_pushed {
            self.send(Command::Snapshot {
                views: indexes,
                chunk_rows,
                parts,
            })?;
        } else {
            let _ = parts.send(SnapshotPart::End(Ok(vec![
                Vec::new();
                self.program.views.len()
            ])));
        }
        Ok(Snapshot {
            engine: self,
            parts: receiver,
            end: None,
        })
    }

    /// Saves the circuit state in the storage directory (durably, before it returns) and returns what restores
    /// it: dbsp's checkpoint id with the engine's primary-key indexes. Changes pushed but not yet stepped are not
    /// part of a checkpoint: step first.
    pub fn checkpoint(&mut self) -> Result<EngineCheckpoint, EngineError> {
        if self.config.storage.is_none() {
            return Err(EngineError::Checkpoint(
                "no storage directory configured".into(),
            ));
        }
        if self.pending.iter().any(|p| !p.is_empty()) {
            return Err(EngineError::Checkpoint(
                "changes are pending: call step() before checkpoint()".into(),
            ));
        }
        let (reply, response) = channel();
        self.send(Command::Checkpoint { reply })?;
        let checkpoint = response.recv().map_err(|_| EngineError::Stopped)??;
        Ok(EngineCheckpoint::new(
            checkpoint,
            self.unit_pushed,
            &self.program,
            &self.keyed,
            self.waterlines.save(),
            self.program
                .views
                .iter()
                .zip(&self.finals)
                .filter_map(|(v, b)| Some((v.relation.name.clone(), b.as_ref()?.pending())))
                .collect(),
        ))
    }

    /// Late changes dropped so far (see [`Engine::push`]), per table that has a `LATENESS` column, by table name.
    /// Restored from a checkpoint with the rest of the engine.
    pub fn late_records(&self) -> Vec<(String, u64)> {
        self.program
            .tables
            .iter()
            .enumerate()
            .filter(|(t, _)| self.waterlines.has_table(*t))
            .map(|(t, def)| (def.relation.name.clone(), self.waterlines.late_records()[t]))
            .collect()
    }

    /// Late changes dropped so far per table, in program order (0 for a table without `LATENESS`): what a caller
    /// reads after every step, without names.
    pub fn late_counts(&self) -> &[u64] {
        self.waterlines.late_records()
    }

    /// The waterline in force for `column` of `table` (in the column's unit: microseconds for a TIMESTAMP, days for
    /// a DATE), once a row has set it.
    pub fn waterline(&self, table: &str, column: &str) -> Option<i64> {
        let t = self.table_index(table).ok()?;
        let c = self.program.tables[t].relation.field_index(column)?;
        self.waterlines.waterline(t, c)
    }

    /// How many records the circuit holds in its state (the sum of dbsp's `state_records_count` over every operator
    /// and worker): what `LATENESS` keeps bounded.
    pub fn state_records(&mut self) -> Result<u64, EngineError> {
        let (reply, response) = channel();
        self.send(Command::StateRecords { reply })?;
        response.recv().map_err(|_| EngineError::Stopped)?
    }

    /// Deletes the checkpoints in the storage directory other than `keep` (and the files only they use): dbsp
    /// keeps every checkpoint until told. The two newest are always kept (dbsp's own floor).
    pub fn remove_checkpoints_except(
        &mut self,
        keep: &[&EngineCheckpoint],
    ) -> Result<(), EngineError> {
        let keep = keep.iter().map(|c| c.id()).collect::<Result<Vec<_>, _>>()?;
        let (reply, response) = channel();
        self.send(Command::RemoveCheckpoints { keep, reply })?;
        response.recv().map_err(|_| EngineError::Stopped)?
    }

    /// One delta per view, in program order, keyed by the view's name.
    fn by_view(&self, deltas: Vec<Delta>) -> HashMap<String, Delta> {
        self.program
            .views
            .iter()
            .zip(deltas)
            .map(|(v, d)| (v.relation.name.clone(), d))
            .collect()
    }

    /// The storage directory, if any.
    pub fn storage(&self) -> Option<&Path> {
        self.config.storage.as_deref()
    }

    fn send(&self, cmd: Command) -> Result<(), EngineError> {
        self.commands
            .as_ref()
            .ok_or(EngineError::Stopped)?
            .send(cmd)
            .map_err(|_| EngineError::Stopped)
    }
}

/// A snapshot being read (see [`Engine::snapshot`]): an iterator of `(view, rows)` chunks.
pub struct Snapshot<'a> {
    engine: &'a mut Engine,
    parts: Receiver<SnapshotPart>,
    end: Option<Result<Vec<Delta>, EngineError>>,
}

impl Iterator for Snapshot<'_> {
    type Item = (String, Delta);

    fn next(&mut self) -> Option<(String, Delta)> {
        if self.end.is_some() {
            return None;
        }
        match self.parts.recv() {
            Ok(SnapshotPart::Rows { view, rows }) => {
                Some((self.engine.program.views[view].relation.name.clone(), rows))
            }
            Ok(SnapshotPart::End(end)) => {
                self.end = Some(end);
                None
            }
            Err(_) => {
                self.end = Some(Err(EngineError::Stopped));
                None
            }
        }
    }
}

impl Snapshot<'_> {
    /// Reads whatever is left and returns the snapshot step's deltas by view name, or why the snapshot failed.
    pub fn finish(mut self) -> Result<HashMap<String, Delta>, EngineError> {
        while self.next().is_some() {}
        let deltas = self.end.take().expect("the loop ends at the end")?;
        Ok(self.engine.finalize(deltas))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Closing the channel ends the controller loop, which stops the dbsp runtime on its own thread.
        self.commands.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
