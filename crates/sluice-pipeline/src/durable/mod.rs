//! Durable pipelines (`fault_tolerance.model` `at_least_once` or `exactly_once`): an input journal, checkpoints,
//! and recovery.
//!
//! - `journal`: every batch of input, written (and synced) before it is acknowledged, with a mark per step.
//! - `manifest`: the committed checkpoint, the one file whose atomic replacement commits one.
//! - `error`: [`DurableError`].
//! - this file: the state directory's layout, what a restart finds there ([`Recovered`]), and the errors.
//!
//! The state directory holds `engine/` (dbsp's storage and checkpoints), the journal segments and
//! `checkpoint.json`. A restart restores the engine from the manifest's checkpoint, replays the journal's steps
//! after it (the same input in the same steps gives the same output, which is sent again: at least once), puts
//! back the input that was journaled but not stepped, and resumes Kafka inputs after the last journaled offset.
//! With exactly-once output, each output connector also keeps a small file under `outputs/` (see
//! `sluice_transports::kafka_output`), and skips during the replay what an earlier run already delivered.

mod error;
pub(crate) mod journal;
pub(crate) mod manifest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::DurableError;
use journal::{Entry, SourceProgress};
use manifest::Manifest;
use sluice_data::Row;

/// How far each Kafka input connector read: connector → (topic, partition) → the next offset to read.
pub type Offsets = BTreeMap<String, BTreeMap<(String, i32), i64>>;

/// How a durable pipeline keeps its state.
#[derive(Clone, Debug)]
pub struct DurableConfig {
    /// The pipeline's own state directory (created when missing).
    pub state_dir: PathBuf,
    /// How often a checkpoint is taken.
    pub checkpoint_interval: Duration,
    /// Identifies the program (a hash of its SQL): stored state from another program is refused.
    pub program_fingerprint: String,
    /// Exactly-once output (`fault_tolerance.model = "exactly_once"`); `None`: at least once.
    pub exactly_once: Option<ExactlyOnceConfig>,
}

impl DurableConfig {
    /// What stored state must have been made by: this program, on an engine that keeps state the same way
    /// ([`sluice_engine::STATE_LAYOUT`]).
    pub(crate) fn state_fingerprint(&self) -> String {
        format!(
            "{} state-layout {}",
            self.program_fingerprint,
            sluice_engine::STATE_LAYOUT
        )
    }
}

/// What exactly-once output needs besides the durable state.
#[derive(Clone, Debug)]
pub struct ExactlyOnceConfig {
    /// Names the pipeline for as long as its state lives (the server uses the pipeline's id): Kafka transactional
    /// ids are `<prefix><scope>.<connector>`, so that a restarted pipeline fences its predecessor.
    pub scope: String,
}

impl DurableConfig {
    /// Where the engine keeps its storage.
    pub fn engine_dir(&self) -> PathBuf {
        self.state_dir.join("engine")
    }

    /// What output connector `connector` needs for exactly-once delivery; `None` when the pipeline delivers at
    /// least once.
    pub fn exactly_once_setup(
        &self,
        connector: &str,
    ) -> Option<sluice_transports::kafka_output::ExactlyOnceSetup> {
        let eo = self.exactly_once.as_ref()?;
        let file: String = connector
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Some(sluice_transports::kafka_output::ExactlyOnceSetup {
            writer: format!("{}.{connector}", eo.scope),
            state_file: self.state_dir.join("outputs").join(format!("{file}.json")),
            checkpoint_interval: self.checkpoint_interval,
        })
    }
}

/// One step taken again from the journal: its number and, per table, the records in admission order.
pub(crate) struct ReplayStep {
    pub(crate) step: u64,
    pub(crate) inputs: Vec<Vec<(Row, i64)>>,
}

/// What a restart finds in the state directory.
pub(crate) struct Recovered {
    /// The committed checkpoint, if any.
    pub(crate) manifest: Option<Manifest>,
    /// The steps after it, to take again.
    pub(crate) steps: Vec<ReplayStep>,
    /// Input journaled (and maybe acknowledged) but not stepped, per table.
    pub(crate) tail: Vec<Vec<(Row, i64)>>,
    /// The next offset to read per Kafka input connector and partition, counting everything journaled.
    pub(crate) offsets: Offsets,
}

impl Recovered {
    /// The step the restored engine is at.
    pub(crate) fn checkpoint_step(&self) -> u64 {
        self.manifest.as_ref().map_or(0, |m| m.step)
    }
}

/// Reads the state directory of a pipeline running `config.program_fingerprint` with `tables` tables.
pub(crate) fn recover(config: &DurableConfig, tables: usize) -> Result<Recovered, DurableError> {
    let dir = &config.state_dir;
    std::fs::create_dir_all(dir).map_err(|e| DurableError::io("create", dir, e))?;
    let manifest = Manifest::load(dir)?;
    let step = manifest.as_ref().map_or(0, |m| m.step);
    if manifest
        .as_ref()
        .is_some_and(|m| m.program != config.state_fingerprint())
    {
        return Err(DurableError::ProgramChanged { step });
    }
    check_program(dir, &config.state_fingerprint(), step)?;
    let mut offsets: Offsets = BTreeMap::new();
    if let Some(m) = &manifest {
        for (connector, partitions) in &m.offsets {
            for (key, offset) in partitions {
                let (topic, partition) = split_partition_key(key)?;
                offsets
                    .entry(connector.clone())
                    .or_default()
                    .insert((topic, partition), *offset);
            }
        }
    }
    let after = manifest.as_ref().map_or(0, |m| m.step);
    let mut steps = Vec::new();
    let mut open: Vec<Vec<(Row, i64)>> = vec![Vec::new(); tables];
    for entry in journal::read_all(dir, after)? {
        match entry {
            Entry::Input {
                table,
                records,
                progress,
            } => {
                let rows = open.get_mut(table).ok_or_else(|| {
                    DurableError::Corrupt(format!(
                        "the journal names table {table}, and the program has {tables}"
                    ))
                })?;
                rows.extend(records);
                note_progress(&mut offsets, &progress);
            }
            Entry::Step { step } => {
                let expected = after + steps.len() as u64 + 1;
                if step != expected {
                    return Err(DurableError::Corrupt(format!(
                        "the journal's step {step} follows step {}",
                        expected - 1
                    )));
                }
                let inputs = std::mem::replace(&mut open, vec![Vec::new(); tables]);
                steps.push(ReplayStep { step, inputs });
            }
        }
    }
    Ok(Recovered {
        manifest,
        steps,
        tail: open,
        offsets,
    })
}

/// The file that names the program whose journal this is: a journal can exist before the first checkpoint, and
/// its entries name tables by position, so another program must not read it.
const PROGRAM_FILE: &str = "program";

/// Refuses a journal written by another program; marks a new state directory with `fingerprint`.
fn check_program(dir: &Path, fingerprint: &str, step: u64) -> Result<(), DurableError> {
    let path = dir.join(PROGRAM_FILE);
    match std::fs::read_to_string(&path) {
        Ok(stored) if stored.trim() == fingerprint => Ok(()),
        Ok(_) => Err(DurableError::ProgramChanged { step }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = dir.join(format!("{PROGRAM_FILE}.tmp"));
            std::fs::write(&tmp, fingerprint)
                .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| DurableError::io("write", &path, e))?;
            journal::sync_dir(dir)
        }
        Err(e) => Err(DurableError::io("read", &path, e)),
    }
}

/// Records the progress a batch carries in `offsets`.
pub(crate) fn note_progress(offsets: &mut Offsets, progress: &[SourceProgress]) {
    for p in progress {
        offsets
            .entry(p.connector.clone())
            .or_default()
            .insert((p.topic.clone(), p.partition), p.next_offset);
    }
}

/// `connector`'s positions in `offsets`, as an input endpoint takes them (topic, partition, next offset).
pub(crate) fn positions_of(offsets: &Offsets, connector: &str) -> Vec<(String, i32, i64)> {
    offsets
        .get(connector)
        .into_iter()
        .flatten()
        .map(|((topic, partition), offset)| (topic.clone(), *partition, *offset))
        .collect()
}

/// The manifest's form of the offsets: "topic/partition" keys, so that it stays plain JSON.
pub(crate) fn offsets_for_manifest(offsets: &Offsets) -> BTreeMap<String, BTreeMap<String, i64>> {
    offsets
        .iter()
        .map(|(c, parts)| {
            let parts = parts
                .iter()
                .map(|((t, p), o)| (format!("{t}/{p}"), *o))
                .collect();
            (c.clone(), parts)
        })
        .collect()
}

fn split_partition_key(key: &str) -> Result<(String, i32), DurableError> {
    key.rsplit_once('/')
        .and_then(|(t, p)| Some((t.to_string(), p.parse().ok()?)))
        .ok_or_else(|| {
            DurableError::Corrupt(format!("'{key}' is not a topic/partition in the manifest"))
        })
}

/// Deletes a pipeline's stored state (its checkpoints and journal); a missing directory is fine.
pub fn clear_state(state_dir: &Path) -> Result<(), DurableError> {
    match std::fs::remove_dir_all(state_dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DurableError::io("delete", state_dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, fingerprint: &str) -> DurableConfig {
        DurableConfig {
            state_dir: dir.to_path_buf(),
            checkpoint_interval: Duration::from_secs(60),
            program_fingerprint: fingerprint.into(),
            exactly_once: None,
        }
    }

    /// A crash before the first checkpoint leaves only a journal, whose entries name tables by position: another
    /// program must not replay it.
    #[test]
    fn a_journal_without_a_checkpoint_is_refused_by_another_program() {
        let dir = tempfile::tempdir().unwrap();
        let first = recover(&config(dir.path(), "sha256:one"), 1).unwrap();
        assert!(first.manifest.is_none());
        let j = journal::Journal::open(dir.path(), 1).unwrap();
        let row = (Row(vec![sluice_data::Value::BigInt(1)]), 1);
        let p = j.append(&journal::input_frame(0, &[row], &[])).unwrap();
        j.sync(p).unwrap();
        drop(j);
        let again = recover(&config(dir.path(), "sha256:one"), 1).unwrap();
        assert_eq!(again.tail[0].len(), 1);
        let err = recover(&config(dir.path(), "sha256:two"), 1).err().unwrap();
        assert!(
            matches!(err, DurableError::ProgramChanged { step: 0 }),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains("input journal)"), "{message}");
        assert!(message.contains("/clear"), "{message}");
    }

    /// State written by an engine that kept state another way (here: before the layout was recorded, the program's
    /// fingerprint alone) is refused like another program's, not restored into a circuit it does not fit.
    #[test]
    fn state_of_another_state_layout_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        recover(&config(dir.path(), "sha256:one"), 1).unwrap();
        let stored = std::fs::read_to_string(dir.path().join(PROGRAM_FILE)).unwrap();
        assert!(
            stored.ends_with(&format!("state-layout {}", sluice_engine::STATE_LAYOUT)),
            "{stored}"
        );
        std::fs::write(dir.path().join(PROGRAM_FILE), "sha256:one").unwrap();
        let err = recover(&config(dir.path(), "sha256:one"), 1).err().unwrap();
        assert!(
            matches!(err, DurableError::ProgramChanged { step: 0 }),
            "{err}"
        );
        assert!(err.to_string().contains("Sluice version"), "{err}");
    }
}
