//! The seam between an input connector and its transport: [`InputEndpoint`] and the [`InputMessage`] it yields.
//!
//! An endpoint hands out messages (bytes, with an optional key, headers and a position for error messages), pauses
//! and resumes, and reports its counters and health in the transport-neutral [`InputTransportStats`]. It never sees
//! a record or a schema: the connector parses. Adding a transport is one file implementing the trait (with its
//! config type in `sluice-types`) and one line in `registry.rs`, the one place that knows every input transport.

use std::time::Duration;

use sluice_transports::health::InputTransportStats;

pub use crate::endpoint_error::EndpointError;

/// One message read from the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputMessage {
    /// The payload; empty for a message without one.
    pub payload: Vec<u8>,
    /// The message key, where the transport has one and reads it.
    pub key: Option<Vec<u8>>,
    /// The message headers, where the transport has them and reads them.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Where the message is in the source, for error messages (`topic 't' partition 0 offset 5`).
    pub position: Option<String>,
    /// The same, for a source with offsets: what a durable pipeline records to resume after a restart.
    pub offset: Option<SourceOffset>,
}

/// Where reading stands in one partition of an offset-addressed source: topic, partition, the next offset to read.
pub type Position = (String, i32, i64);

/// A message's place in a partitioned, offset-addressed source (a Kafka topic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The message's offset.
    pub offset: i64,
}

/// Where an input connector's messages come from.
///
/// The contract every implementation keeps: transient trouble (the source not answering) is not an error of
/// [`InputEndpoint::poll`] but shows as `stalled` in the stats, and reading continues when the source recovers; an
/// error from `poll` is permanent, and every later call fails the same way. Everything is called from the
/// connector's own thread.
pub trait InputEndpoint: Send {
    /// Makes sure the source is usable and reading can start (a Kafka consumer: the broker answers, every topic
    /// exists, the group assigned partitions).
    fn connect(&mut self) -> Result<(), EndpointError>;
    /// Before [`InputEndpoint::connect`]: start these partitions (topic, partition, offset) there, where a durable
    /// pipeline stopped. Sources without offsets have nothing to resume and ignore an empty list.
    fn start_from(&mut self, positions: &[Position]) -> Result<(), EndpointError> {
        if positions.is_empty() {
            Ok(())
        } else {
            Err(EndpointError::transport(
                "this transport cannot resume at stored offsets",
            ))
        }
    }
    /// The next message, waiting at most `timeout`: `Ok(None)` when there is none yet, while paused, and after
    /// transient trouble. Keep calling it while paused if the transport needs it (a consumer group does).
    fn poll(&mut self, timeout: Duration) -> Result<Option<InputMessage>, EndpointError>;
    /// Stops handing out messages until [`InputEndpoint::resume`]; nothing read is lost.
    fn pause(&mut self) -> Result<(), EndpointError>;
    /// Continues after [`InputEndpoint::pause`], right after the last message handed out.
    fn resume(&mut self) -> Result<(), EndpointError>;
    /// Stops reading for good, at shutdown. Dropping the endpoint closes it too; by default this does nothing more.
    fn stop(&mut self) {}
    /// Records, where the source keeps positions of its own (a Kafka consumer group), that reading has durably
    /// reached these positions (topic, partition, next offset): after a durable pipeline's checkpoint, for the
    /// source's own tools. By default there is nothing to tell.
    fn commit(&mut self, positions: &[Position]) -> Result<(), EndpointError> {
        let _ = positions;
        Ok(())
    }
    /// Counters and health.
    fn stats(&self) -> InputTransportStats;
}
