//! [`open`]: the one place that knows every input transport. Adding one is a file implementing [`InputEndpoint`]
//! beside this one and a line here.

use sluice_types::TransportConfig;

use super::endpoint::{EndpointError, InputEndpoint};
use super::kafka;

/// Checks `config` and creates the endpoint it describes for the connector `name`, not yet connected. `None` for a
/// transport that cannot feed a table from inside the pipeline.
pub fn open(
    name: &str,
    group_scope: Option<&str>,
    config: &TransportConfig,
) -> Option<Result<Box<dyn InputEndpoint>, EndpointError>> {
    match config {
        TransportConfig::KafkaInput(c) => Some(kafka::open(name, group_scope, c)),
        TransportConfig::HttpInput
        | TransportConfig::KafkaOutput(_)
        | TransportConfig::FileOutput(_)
        | TransportConfig::NullOutput
        | TransportConfig::HttpOutput => None,
    }
}
