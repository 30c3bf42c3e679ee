//! What an input connector is started with ([`InputSpec`]), how it fails to start ([`InputError`]) and what it
//! reports ([`InputConnectorStats`]): the shapes the controller and the stats share, in a file that depends on
//! neither the connector's thread nor the controller.

use serde::Serialize;
use sluice_transports::health::{ErrorRecord, InputTransportStats};
use sluice_types::{ConfigError, ConnectorConfig};

use crate::endpoint_error::EndpointError;

/// An input connector to attach: its name, the table it feeds, and its config.
#[derive(Clone, Debug)]
pub struct InputSpec {
    /// The attachment's name, shown in stats and errors.
    pub name: String,
    /// The table.
    pub table: String,
    /// The connector's config.
    pub config: ConnectorConfig,
    /// What makes the connector's default Kafka consumer group its own (the server gives the pipeline's id): the
    /// group is then `sluice-<scope>-<name>` and its one member static, so that a restart after a crash rejoins at
    /// once. `None`: the group is `sluice-<name>`.
    pub group_scope: Option<String>,
}

/// Why an input connector could not start.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The connector config is invalid for this table.
    #[error("input connector '{name}': invalid config: {error}")]
    Config {
        /// Connector (endpoint) name.
        name: String,
        /// What is wrong, with the field path.
        error: ConfigError,
    },
    /// The transport cannot feed a table from inside the pipeline.
    #[error("input connector '{name}': transport '{transport}' cannot be attached to a table (send HTTP input to /v0/pipelines/{{name}}/ingress/{{table}})")]
    Unsupported {
        /// Connector (endpoint) name.
        name: String,
        /// The transport's name.
        transport: &'static str,
    },
    /// The transport failed to start (broker unreachable, topic missing, group not joined, ...).
    #[error("input connector '{name}': {error}")]
    Transport {
        /// Connector (endpoint) name.
        name: String,
        /// The transport's error, naming the topics and the cause.
        #[source]
        error: EndpointError,
    },
    /// The connector's reading thread could not be started.
    #[error("input connector '{name}': cannot start its thread: {source}")]
    Thread {
        /// Connector (endpoint) name.
        name: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// A snapshot of an input connector's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InputConnectorStats {
    /// The attachment's name.
    pub endpoint_name: String,
    /// The table it feeds.
    pub table: String,
    /// Messages taken from the transport.
    pub total_messages: u64,
    /// Records handed to the pipeline (accepted into the input buffer).
    pub total_records: u64,
    /// Bytes of the messages whose records were accepted.
    pub total_bytes: u64,
    /// Records read but not yet accepted because the input buffer is full.
    pub pending_records: u64,
    /// Messages rejected because a record was malformed or did not fit the table.
    pub num_rejected_messages: u64,
    /// The most recent rejections, with where the message came from (topic, partition, offset) and the reason.
    pub rejected_messages: Vec<ErrorRecord>,
    /// Why the connector is not reading right now (`None` while it reads).
    pub paused_reason: Option<String>,
    /// The permanent error that stopped the connector (and failed the pipeline).
    pub fatal_error: Option<String>,
    /// The transport's own counters and health, the same shape for every transport.
    pub transport: InputTransportStats,
}
