//! [`OutputError`]: why an output connector could not start or stop cleanly. A leaf, so that the connector and the
//! pipeline name it without importing each other.

use sluice_types::ConfigError;

use super::endpoint::EndpointError;

/// Why an output connector could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The connector config is invalid for this view (bad format for the schema, bad transport options).
    #[error("output connector '{name}': invalid config: {error}")]
    Config {
        /// Connector (endpoint) name.
        name: String,
        /// What is wrong, with the field path.
        error: ConfigError,
    },
    /// The transport cannot be used as an output connector of a pipeline.
    #[error("output connector '{name}': transport '{transport}' cannot be attached to a view")]
    Unsupported {
        /// Connector (endpoint) name.
        name: String,
        /// The transport's name.
        transport: &'static str,
    },
    /// The transport failed to start (broker unreachable, topic missing, ...).
    #[error("output connector '{name}': {error}")]
    Transport {
        /// Connector (endpoint) name.
        name: String,
        /// The transport's error, naming the destination and the cause.
        #[source]
        error: EndpointError,
    },
    /// The connector's encoding thread could not be started.
    #[error("output connector '{name}': cannot start its thread: {source}")]
    Thread {
        /// Connector (endpoint) name.
        name: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Shutdown ended with records not delivered.
    #[error("output connector '{name}': {undelivered_records} queued records were not delivered at shutdown: {reason}")]
    Undelivered {
        /// Connector (endpoint) name.
        name: String,
        /// Records still queued or unacknowledged.
        undelivered_records: u64,
        /// Why (the transport's failure or the timeout).
        reason: String,
    },
}
