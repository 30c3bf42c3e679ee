//! The checkpoint manifest: the one file whose atomic replacement commits a checkpoint. It names the engine's
//! checkpoint, the step it follows, the program it belongs to, and how far every Kafka input had read. The
//! journal segments after that step hold everything since; the manifest is written only once every output
//! connector acknowledged every message up to that step, so nothing before it ever needs sending again.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sluice_engine::EngineCheckpoint;

use super::error::DurableError;
use super::journal::sync_dir;

/// The manifest's file name in the state directory.
pub const FILE: &str = "checkpoint.json";

/// A committed checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The format of this file, for a future change of it.
    pub version: u32,
    /// A fingerprint of the SQL program whose state this is: a restart with another program cannot use it.
    pub program: String,
    /// The last step the checkpoint includes.
    pub step: u64,
    /// When it was committed (milliseconds since the Unix epoch).
    pub committed_at_ms: u64,
    /// The engine's state after `step`.
    pub engine: EngineCheckpoint,
    /// The next offset to read of each Kafka input connector's partitions (connector → "topic/partition" →
    /// offset), as of `step`.
    pub offsets: BTreeMap<String, BTreeMap<String, i64>>,
    /// The output connectors whose `send_snapshot` was served, with the fingerprint of the config that was: a
    /// connector sends its view's contents once per config.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub snapshots: BTreeMap<String, String>,
}

impl Manifest {
    /// Reads the manifest in `dir`, if there is one.
    pub fn load(dir: &Path) -> Result<Option<Manifest>, DurableError> {
        let path = dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                DurableError::Corrupt(format!("{} cannot be read: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DurableError::io("read", &path, e)),
        }
    }

    /// Replaces the manifest in `dir` atomically and durably: a crash leaves either the old one or this one.
    pub fn commit(&self, dir: &Path) -> Result<(), DurableError> {
        let path = dir.join(FILE);
        let tmp = dir.join(format!("{FILE}.tmp"));
        let bytes = serde_json::to_vec(self).expect("manifests serialize");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| DurableError::io("write", &path, e))?;
        sync_dir(dir)
    }
}
