//! [`DurableError`]: how writing or reading a durable pipeline's state fails. A leaf: the journal, the manifest
//! and recovery all return it.

use std::path::{Path, PathBuf};

use sluice_engine::EngineError;

/// Why durable state could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DurableError {
    /// A file operation failed (disk full, permissions, ...).
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A stored file cannot be understood.
    #[error("the pipeline's stored state is damaged: {0}")]
    Corrupt(String),
    /// An earlier write or sync of the journal failed; nothing more is written to it.
    #[error("the input journal is unusable after an earlier failure: {0}")]
    Broken(String),
    /// The stored state (journal, checkpoint) belongs to another program, or to an engine that kept state another
    /// way (a Sluice upgrade that changed how views keep state).
    #[error(
        "the pipeline's stored state (its input journal{}) was made by a different program, or by a Sluice version \
         whose engine keeps state another way; clear the pipeline's state to start from empty views (POST \
         /v0/pipelines/<name>/clear, or delete the pipeline), or start it with the program and Sluice version it ran",
        checkpoint_clause(*.step)
    )]
    ProgramChanged {
        /// The stored checkpoint's step; 0 when there is only a journal.
        step: u64,
    },
    /// The engine could not write or restore a checkpoint.
    #[error("checkpoint: {0}")]
    Engine(#[source] EngineError),
}

fn checkpoint_clause(step: u64) -> String {
    if step == 0 {
        String::new()
    } else {
        format!(" and a checkpoint after step {step}")
    }
}

impl DurableError {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> DurableError {
        DurableError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}
