//! [`open`]: the one place that knows every output transport. Adding one is a file implementing
//! [`OutputEndpoint`] beside this one and a line here.

use sluice_types::TransportConfig;

use super::endpoint::{EndpointError, OutputEndpoint};
use super::{file, kafka, null};

/// Opens the endpoint `config` describes for the connector `name`, checking that its destination is usable.
/// `None` for a transport that is not an output a pipeline can attach.
pub fn open(
    name: &str,
    config: &TransportConfig,
) -> Option<Result<Box<dyn OutputEndpoint>, EndpointError>> {
    match config {
        TransportConfig::KafkaOutput(c) => Some(kafka::open(name, c)),
        TransportConfig::FileOutput(c) => Some(file::open(c)),
        TransportConfig::NullOutput => Some(null::open()),
        TransportConfig::KafkaInput(_)
        | TransportConfig::HttpInput
        | TransportConfig::HttpOutput => None,
    }
}
