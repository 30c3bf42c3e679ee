//! `kafka_output`: the Kafka producer endpoint of `sluice-transports` behind the [`OutputEndpoint`] seam.

use std::time::Duration;

use sluice_transports::health::OutputTransportStats;
use sluice_transports::kafka_output::{validate_config, KafkaOutputEndpoint};
use sluice_types::KafkaOutputConfig;

use super::endpoint::{EndpointError, Message, OutputEndpoint};

/// Checks the librdkafka options, creates the producer and checks that the broker answers and has the topic.
pub fn open(
    name: &str,
    config: &KafkaOutputConfig,
) -> Result<Box<dyn OutputEndpoint>, EndpointError> {
    validate_config(config).map_err(|e| EndpointError::Config(e.within("transport.config")))?;
    let endpoint = KafkaOutputEndpoint::new(name, config).map_err(EndpointError::transport)?;
    endpoint.connect().map_err(EndpointError::transport)?;
    Ok(Box::new(endpoint))
}

impl OutputEndpoint for KafkaOutputEndpoint {
    fn max_payload_bytes(&self) -> usize {
        KafkaOutputEndpoint::max_payload_bytes(self)
    }

    fn abort(&self, reason: &str) {
        KafkaOutputEndpoint::abort(self, reason);
    }

    fn send(&self, message: Message<'_>) -> Result<(), EndpointError> {
        KafkaOutputEndpoint::send(self, message.key, message.value, message.records)
            .map_err(EndpointError::transport)
    }

    fn flush(&self, timeout: Duration) -> Result<(), EndpointError> {
        KafkaOutputEndpoint::flush(self, timeout).map_err(EndpointError::transport)
    }

    fn stats(&self) -> OutputTransportStats {
        KafkaOutputEndpoint::stats(self)
    }
}
