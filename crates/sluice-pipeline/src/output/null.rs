//! `null_output`: acknowledges every message at once and keeps nothing. A pipeline with it measures the engine and
//! the encoder without a destination (benchmarks), or runs a program whose views only HTTP watchers read.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use sluice_transports::health::OutputTransportStats;

use super::endpoint::{EndpointError, Message, OutputEndpoint};

/// The null endpoint: every message is acknowledged as it is sent.
#[derive(Default)]
struct NullEndpoint {
    messages: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
}

/// A null endpoint; it cannot fail.
pub fn open() -> Result<Box<dyn OutputEndpoint>, EndpointError> {
    Ok(Box::<NullEndpoint>::default())
}

impl OutputEndpoint for NullEndpoint {
    fn max_payload_bytes(&self) -> usize {
        // As large as a Kafka message may be by default, so that encoders pack records as they would for Kafka.
        1_000_000
    }

    fn send(&self, message: Message<'_>) -> Result<(), EndpointError> {
        self.messages.fetch_add(1, Relaxed);
        self.records.fetch_add(message.records as u64, Relaxed);
        let bytes = message.value.map_or(0, <[u8]>::len) + message.key.map_or(0, <[u8]>::len);
        self.bytes.fetch_add(bytes as u64, Relaxed);
        Ok(())
    }

    fn flush(&self, _timeout: Duration) -> Result<(), EndpointError> {
        Ok(())
    }

    fn stats(&self) -> OutputTransportStats {
        OutputTransportStats {
            transmitted_messages: self.messages.load(Relaxed),
            transmitted_records: self.records.load(Relaxed),
            transmitted_bytes: self.bytes.load(Relaxed),
            ..OutputTransportStats::idle()
        }
    }
}
