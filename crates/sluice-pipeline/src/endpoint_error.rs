//! [`EndpointError`]: how any endpoint (input or output, whatever its transport) fails at the pipeline's seam. One
//! type for both directions, so that the connectors map "invalid config" and "transport failure" the same way.

use sluice_types::ConfigError;

/// Why an endpoint could not start, read, take a message or flush.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The transport's config does not work (normally caught when the connector is created).
    #[error("invalid config: {0}")]
    Config(#[from] ConfigError),
    /// Anything else, in the transport's words, naming the destination and the cause.
    #[error("{0}")]
    Transport(String),
}

impl EndpointError {
    /// A transport error from anything that can be shown.
    pub fn transport(e: impl std::fmt::Display) -> Self {
        EndpointError::Transport(e.to_string())
    }
}
