//! [`open`]: the one place that knows every output transport. Adding one is a file implementing
//! [`OutputEndpoint`] beside this one and a line here.

use sluice_transports::kafka_output::ExactlyOnceSetup;
use sluice_types::{ConfigError, TransportConfig};

use super::endpoint::{EndpointError, OutputEndpoint};
use super::{file, kafka, null};

/// Opens the endpoint `config` describes for the connector `name`, checking that its destination is usable;
/// with `exactly_once`, for exactly-once delivery (refused by a transport that cannot give it). `None` for a
/// transport that is not an output a pipeline can attach.
pub fn open(
    name: &str,
    config: &TransportConfig,
    exactly_once: Option<&ExactlyOnceSetup>,
) -> Option<Result<Box<dyn OutputEndpoint>, EndpointError>> {
    match config {
        TransportConfig::KafkaOutput(c) => Some(kafka::open(name, c, exactly_once)),
        TransportConfig::FileOutput(_) if exactly_once.is_some() => {
            Some(Err(EndpointError::Config(ConfigError::new(
                "transport",
                "file_output cannot deliver exactly once (a restart may append again what was written since the \
                 last checkpoint); use kafka_output, or the pipeline's fault_tolerance.model \"at_least_once\"",
            ))))
        }
        TransportConfig::FileOutput(c) => Some(file::open(c)),
        // Nothing is delivered, so nothing can be delivered twice.
        TransportConfig::NullOutput => Some(null::open()),
        TransportConfig::KafkaInput(_)
        | TransportConfig::HttpInput
        | TransportConfig::HttpOutput => None,
    }
}
