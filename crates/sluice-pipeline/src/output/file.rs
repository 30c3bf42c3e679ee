//! `file_output`: appends every message to a file as one line (its value; keys and headers are not written).
//!
//! A message counts as transmitted once it is durable: written and `fsync`ed. The endpoint syncs after each step's
//! messages, every [`SYNC_INTERVAL`] within a long step, and on every flush (a pipeline's shutdown). A write or
//! sync error fails the endpoint, naming the file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sluice_transports::health::{HealthTracker, OutputTransportStats};
use sluice_types::FileOutputConfig;

use super::endpoint::{EndpointError, Message, OutputEndpoint};

/// The longest a written message waits for its `fsync` within one long step.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// Counts of one kind (messages, records, bytes).
#[derive(Clone, Copy, Default)]
struct Counts {
    messages: u64,
    records: u64,
    bytes: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.messages += other.messages;
        self.records += other.records;
        self.bytes += other.bytes;
    }
}

struct State {
    writer: BufWriter<File>,
    /// Written but not yet synced.
    pending: Counts,
    /// Synced.
    durable: Counts,
    last_sync: Instant,
}

struct FileEndpoint {
    path: PathBuf,
    state: Mutex<State>,
    /// Running until a write or sync fails, then failed for good.
    health: HealthTracker,
}

/// Opens (creating when missing) the file for appending.
pub fn open(config: &FileOutputConfig) -> Result<Box<dyn OutputEndpoint>, EndpointError> {
    let path = PathBuf::from(&config.path);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| {
            EndpointError::Transport(format!(
                "cannot open file '{}' for appending: {e}",
                path.display()
            ))
        })?;
    Ok(Box::new(FileEndpoint {
        path,
        state: Mutex::new(State {
            writer: BufWriter::new(file),
            pending: Counts::default(),
            durable: Counts::default(),
            last_sync: Instant::now(),
        }),
        health: HealthTracker::default(),
    }))
}

impl FileEndpoint {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes out the buffer and syncs the file; what was pending becomes durable. A failure fails the endpoint.
    fn sync(&self, state: &mut State) -> Result<(), EndpointError> {
        let result = state
            .writer
            .flush()
            .and_then(|()| state.writer.get_ref().sync_data());
        state.last_sync = Instant::now();
        match result {
            Ok(()) => {
                let pending = std::mem::take(&mut state.pending);
                state.durable.add(pending);
                Ok(())
            }
            Err(e) => Err(self.fail(format!("cannot write file '{}': {e}", self.path.display()))),
        }
    }

    fn fail(&self, error: String) -> EndpointError {
        self.health.fail(error.clone());
        EndpointError::Transport(error)
    }
}

impl OutputEndpoint for FileEndpoint {
    fn carries_keys(&self) -> bool {
        false
    }

    fn max_payload_bytes(&self) -> usize {
        // A line of a file has no limit of its own; this keeps one message within what a reader can take whole.
        16 * 1024 * 1024
    }

    fn send(&self, message: Message<'_>) -> Result<(), EndpointError> {
        let mut state = self.lock();
        if let Some(error) = self.health.failure() {
            return Err(EndpointError::Transport(error));
        }
        // A tombstone says "forget this key", which a file of values cannot say; the start refused the formats
        // that rely on it, so only Debezium's optional tombstones get here.
        let Some(value) = message.value else {
            return Ok(());
        };
        let written = state
            .writer
            .write_all(value)
            .and_then(|()| state.writer.write_all(b"\n"));
        if let Err(e) = written {
            let error = format!("cannot write file '{}': {e}", self.path.display());
            return Err(self.fail(error));
        }
        state.pending.add(Counts {
            messages: 1,
            records: message.records as u64,
            bytes: value.len() as u64,
        });
        if state.last_sync.elapsed() >= SYNC_INTERVAL {
            self.sync(&mut state)?;
        }
        Ok(())
    }

    fn batch_sent(&self) -> Result<(), EndpointError> {
        let mut state = self.lock();
        if state.pending.messages == 0 || self.health.failure().is_some() {
            return Ok(());
        }
        self.sync(&mut state)
    }

    fn flush(&self, _timeout: Duration) -> Result<(), EndpointError> {
        let mut state = self.lock();
        if let Some(error) = self.health.failure() {
            return Err(EndpointError::Transport(error));
        }
        self.sync(&mut state)
    }

    fn stats(&self) -> OutputTransportStats {
        let state = self.lock();
        let health = self.health.snapshot();
        OutputTransportStats {
            transmitted_messages: state.durable.messages,
            transmitted_records: state.durable.records,
            transmitted_bytes: state.durable.bytes,
            in_flight_messages: state.pending.messages,
            in_flight_records: state.pending.records,
            in_flight_bytes: state.pending.bytes,
            num_transport_errors: health.num_errors,
            transport_errors: health.errors,
            health: health.health,
            ..OutputTransportStats::idle()
        }
    }
}
