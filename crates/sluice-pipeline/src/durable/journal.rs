//! The input journal: every batch of input admitted to the pipeline, in admission order, and a mark at each step
//! that closes the batches the step took. Written before input is acknowledged, so that a restart can replay
//! exactly the steps after the last checkpoint and put back what was admitted but not yet stepped.
//!
//! # Files
//! Segments named `journal-<first step, 20 digits>.log` in the state directory. A new segment starts right after
//! the mark of a step that is checkpointed, so that once the checkpoint is committed every older segment can be
//! deleted whole. Each entry is a frame: its length (u32, little endian), the CRC-32 of its body (u32) and the
//! body (JSON of an [`Entry`]). A crash can leave the last frame of the last segment torn; reading stops there and
//! [`read_all`] cuts it off. A bad frame anywhere else is corruption, and reading fails naming the file.
//!
//! # Durability
//! [`Journal::append`] writes under the pipeline's buffer lock (so journal order is admission order) without
//! syncing; [`Journal::sync`] then makes everything up to a position durable with one `fdatasync` shared by every
//! caller waiting at the time (group commit). A write that fails is cut off again, so the journal never holds
//! half an entry; a failed sync poisons the journal (the kernel may have dropped the dirty pages, so nothing
//! written since the last good sync can be trusted) and every later call fails.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use serde::{Deserialize, Serialize};
use sluice_data::Row;

use super::error::DurableError;
use crate::util::lock;

/// How far a Kafka input connector had read when it handed over a batch: the next offset to read, per partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceProgress {
    /// The input connector's name.
    pub connector: String,
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset after the last message of the batch.
    pub next_offset: i64,
}

/// One journal entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// Records admitted into table `table` (its index in the program), with the source progress they carry.
    Input {
        table: usize,
        records: Vec<(Row, i64)>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        progress: Vec<SourceProgress>,
    },
    /// Step `step` took every input entry since the previous mark.
    Step { step: u64 },
}

/// The borrowed form of [`Entry::Input`], written without copying the records.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum InputRef<'a> {
    Input {
        table: usize,
        records: &'a [(Row, i64)],
        #[serde(skip_serializing_if = "<[SourceProgress]>::is_empty")]
        progress: &'a [SourceProgress],
    },
}

/// The frame of an input entry, made outside the buffer lock.
pub fn input_frame(table: usize, records: &[(Row, i64)], progress: &[SourceProgress]) -> Vec<u8> {
    frame(&InputRef::Input {
        table,
        records,
        progress,
    })
}

/// The frame of a step mark.
pub fn step_frame(step: u64) -> Vec<u8> {
    frame(&Entry::Step { step })
}

fn frame(entry: &impl Serialize) -> Vec<u8> {
    let mut out = vec![0u8; 8];
    // Rows serialize to JSON without failing: every value has a JSON form (non-finite floats as strings).
    serde_json::to_writer(&mut out, entry).expect("journal entries serialize");
    let len = (out.len() - 8) as u32;
    let crc = crc32fast::hash(&out[8..]);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out
}

/// The file name of the segment whose first step is `step`.
fn segment_name(step: u64) -> String {
    format!("journal-{step:020}.log")
}

/// The first step of every segment in `dir`, ascending.
pub fn segments(dir: &Path) -> Result<Vec<u64>, DurableError> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| DurableError::io("read", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DurableError::io("read", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(step) = name
            .strip_prefix("journal-")
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.push(step);
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// Reads the entries of every segment whose first step is above `after_step`, in order. A torn frame at the end of
/// the last segment (a crash during a write) is cut off; anything else unreadable is an error.
pub fn read_all(dir: &Path, after_step: u64) -> Result<Vec<Entry>, DurableError> {
    let all = segments(dir)?;
    let wanted: Vec<u64> = all.into_iter().filter(|s| *s > after_step).collect();
    let mut entries = Vec::new();
    for (i, first) in wanted.iter().enumerate() {
        let path = dir.join(segment_name(*first));
        let last = i + 1 == wanted.len();
        read_segment(&path, last, &mut entries)?;
    }
    Ok(entries)
}

fn read_segment(path: &Path, last: bool, out: &mut Vec<Entry>) -> Result<(), DurableError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| DurableError::io("read", path, e))?;
    let mut at = 0usize;
    while at < bytes.len() {
        let torn = |what: &str| -> Result<(), DurableError> {
            if last {
                tracing::warn!(file = %path.display(), offset = at, what, "Cutting off the journal's torn tail.");
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .and_then(|f| {
                        f.set_len(at as u64)?;
                        f.sync_all()
                    })
                    .map_err(|e| DurableError::io("truncate", path, e))
            } else {
                Err(DurableError::Corrupt(format!(
                    "{}: {what} at byte {at}, in a segment that is not the last",
                    path.display()
                )))
            }
        };
        if bytes.len() - at < 8 {
            return torn("a partial frame header");
        }
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap());
        let body = at + 8..at + 8 + len;
        if body.end > bytes.len() {
            return torn("a partial frame");
        }
        if crc32fast::hash(&bytes[body.clone()]) != crc {
            return torn("a frame whose checksum does not match");
        }
        let entry = serde_json::from_slice(&bytes[body.clone()]).map_err(|e| {
            DurableError::Corrupt(format!(
                "{}: entry at byte {at} cannot be read: {e}",
                path.display()
            ))
        })?;
        out.push(entry);
        at = body.end;
    }
    Ok(())
}

struct Writer {
    dir: PathBuf,
    /// The segment being written, for error messages.
    path: PathBuf,
    file: File,
    /// The current segment's length, where the next frame goes.
    len: u64,
    /// Bytes appended since the journal was opened, across segments: the positions callers wait for.
    written: u64,
    /// Everything up to this position is durable.
    synced: u64,
    /// A sync is running (outside the lock).
    syncing: bool,
    /// Set by a failed sync or a write that could not be undone; every later call fails with it.
    broken: Option<String>,
}

/// The open journal (its last segment is the one written).
pub struct Journal {
    writer: Mutex<Writer>,
    synced: Condvar,
}

impl Journal {
    /// Opens the journal in `dir` for appending: the last segment if there is one (after [`read_all`] cut its torn
    /// tail), otherwise a new one for `next_step`.
    pub fn open(dir: &Path, next_step: u64) -> Result<Journal, DurableError> {
        let first = segments(dir)?.last().copied().unwrap_or(next_step);
        let path = dir.join(segment_name(first));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| DurableError::io("open", &path, e))?;
        let len = file
            .metadata()
            .map_err(|e| DurableError::io("open", &path, e))?
            .len();
        sync_dir(dir)?;
        Ok(Journal {
            writer: Mutex::new(Writer {
                dir: dir.to_path_buf(),
                path,
                file,
                len,
                written: 0,
                synced: 0,
                syncing: false,
                broken: None,
            }),
            synced: Condvar::new(),
        })
    }

    /// Appends a frame (not yet durable) and returns the position to [`Journal::sync`] to. On error nothing of the
    /// frame stays in the journal.
    pub fn append(&self, frame: &[u8]) -> Result<u64, DurableError> {
        let mut w = lock(&self.writer);
        if let Some(why) = &w.broken {
            return Err(DurableError::Broken(why.clone()));
        }
        match w.file.write_all(frame) {
            Ok(()) => {
                w.len += frame.len() as u64;
                w.written += frame.len() as u64;
                Ok(w.written)
            }
            Err(e) => {
                let error = DurableError::io("write", &w.path, e);
                let len = w.len;
                if let Err(undo) = w.file.set_len(len) {
                    w.broken = Some(format!(
                        "{error}; cutting the partial entry off failed too: {undo}"
                    ));
                }
                Err(error)
            }
        }
    }

    /// Returns once everything up to `position` is durable, syncing it unless another caller's sync covers it.
    pub fn sync(&self, position: u64) -> Result<(), DurableError> {
        let mut w = lock(&self.writer);
        loop {
            if let Some(why) = &w.broken {
                return Err(DurableError::Broken(why.clone()));
            }
            if w.synced >= position {
                return Ok(());
            }
            if w.syncing {
                w = self.synced.wait(w).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            w.syncing = true;
            let target = w.written;
            let file = w.file.try_clone();
            drop(w);
            let result = file.and_then(|f| f.sync_data());
            w = lock(&self.writer);
            w.syncing = false;
            match result {
                Ok(()) => w.synced = w.synced.max(target),
                Err(e) => w.broken = Some(format!("syncing {} failed: {e}", w.path.display())),
            }
            self.synced.notify_all();
        }
    }

    /// Makes everything written durable and starts a new segment for `first_step` onwards. Called under the
    /// buffer lock right after the mark of a step that is checkpointed, so the new segment holds only later input.
    pub fn roll(&self, first_step: u64) -> Result<(), DurableError> {
        let mut w = lock(&self.writer);
        if let Some(why) = &w.broken {
            return Err(DurableError::Broken(why.clone()));
        }
        let dir = w.dir.clone();
        let path = dir.join(segment_name(first_step));
        let result = w
            .file
            .sync_data()
            .map_err(|e| DurableError::io("sync", &w.path, e))
            .and_then(|()| {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| DurableError::io("create", &path, e))
            })
            .and_then(|file| sync_dir(&dir).map(|()| file));
        match result {
            Ok(file) => {
                w.file = file;
                w.path = path;
                w.len = 0;
                w.synced = w.written;
                self.synced.notify_all();
                Ok(())
            }
            Err(e) => {
                w.broken = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Deletes the segments that hold only steps up to `step` (a committed checkpoint covers them).
    pub fn remove_through(&self, step: u64) -> Result<(), DurableError> {
        let dir = lock(&self.writer).dir.clone();
        for first in segments(&dir)? {
            if first <= step {
                let path = dir.join(segment_name(first));
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(DurableError::io("delete", &path, e)),
                }
            }
        }
        Ok(())
    }
}

/// Makes a directory's entries (a created or renamed file) durable.
pub fn sync_dir(dir: &Path) -> Result<(), DurableError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| DurableError::io("sync", dir, e))
}

/// Test helper: the length of the last segment, to corrupt it.
#[cfg(test)]
fn last_segment(dir: &Path) -> PathBuf {
    dir.join(segment_name(*segments(dir).unwrap().last().unwrap()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_data::Value;

    fn row(i: i64) -> (Row, i64) {
        (Row(vec![Value::BigInt(i)]), 1)
    }

    #[test]
    fn entries_come_back_in_order_across_a_roll_and_old_segments_go() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path(), 1).unwrap();
        let p = j.append(&input_frame(0, &[row(1), row(2)], &[])).unwrap();
        j.append(&step_frame(1)).unwrap();
        j.roll(2).unwrap();
        let progress = vec![SourceProgress {
            connector: "in".into(),
            topic: "t".into(),
            partition: 0,
            next_offset: 7,
        }];
        let q = j.append(&input_frame(1, &[row(3)], &progress)).unwrap();
        assert!(q > p);
        j.sync(q).unwrap();
        assert_eq!(segments(dir.path()).unwrap(), [1, 2]);
        assert_eq!(read_all(dir.path(), 0).unwrap().len(), 3);
        assert_eq!(
            read_all(dir.path(), 1).unwrap(),
            [Entry::Input {
                table: 1,
                records: vec![row(3)],
                progress
            }]
        );
        j.remove_through(1).unwrap();
        assert_eq!(segments(dir.path()).unwrap(), [2]);
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_appending_continues_after_it() {
        let dir = tempfile::tempdir().unwrap();
        {
            let j = Journal::open(dir.path(), 1).unwrap();
            let p = j.append(&input_frame(0, &[row(1)], &[])).unwrap();
            j.sync(p).unwrap();
        }
        // A crash in the middle of the second frame.
        let frame = input_frame(0, &[row(2)], &[]);
        let mut f = OpenOptions::new()
            .append(true)
            .open(last_segment(dir.path()))
            .unwrap();
        f.write_all(&frame[..frame.len() - 3]).unwrap();
        drop(f);
        assert_eq!(read_all(dir.path(), 0).unwrap().len(), 1);
        let j = Journal::open(dir.path(), 1).unwrap();
        let p = j.append(&step_frame(1)).unwrap();
        j.sync(p).unwrap();
        let entries = read_all(dir.path(), 0).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1], Entry::Step { step: 1 });
    }

    #[test]
    fn a_bad_frame_before_the_last_segment_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path(), 1).unwrap();
        j.append(&input_frame(0, &[row(1)], &[])).unwrap();
        j.roll(2).unwrap();
        let first = dir.path().join(segment_name(1));
        let mut bytes = std::fs::read(&first).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&first, bytes).unwrap();
        let err = read_all(dir.path(), 0).unwrap_err();
        assert!(matches!(err, DurableError::Corrupt(_)), "{err}");
        assert!(err.to_string().contains("journal-"), "{err}");
    }
}
