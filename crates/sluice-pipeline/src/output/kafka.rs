//! `kafka_output`: the Kafka producer endpoint of `sluice-transports` behind the [`OutputEndpoint`] seam.

use std::time::Duration;

use sluice_transports::health::OutputTransportStats;
use sluice_transports::kafka_output::{
    validate_config, ExactlyOnceSetup, ExactlyOnceStats, KafkaOutputEndpoint, KafkaOutputError,
    OutgoingMessage,
};
use sluice_types::KafkaOutputConfig;

use super::endpoint::{EndpointError, Message, OutputEndpoint};

/// Checks the librdkafka options, creates the producer and checks that the broker answers and has the topic.
/// With `exactly_once`, also finds what an earlier run of the connector delivered (see
/// `sluice_transports::kafka_output`).
pub fn open(
    name: &str,
    config: &KafkaOutputConfig,
    exactly_once: Option<&ExactlyOnceSetup>,
) -> Result<Box<dyn OutputEndpoint>, EndpointError> {
    let config_err =
        |e: sluice_types::ConfigError| EndpointError::Config(e.within("transport.config"));
    validate_config(config).map_err(config_err)?;
    let endpoint = match exactly_once {
        None => {
            let endpoint =
                KafkaOutputEndpoint::new(name, config).map_err(EndpointError::transport)?;
            endpoint.connect().map_err(EndpointError::transport)?;
            endpoint
        }
        Some(setup) => match KafkaOutputEndpoint::open_exactly_once(name, config, setup) {
            Ok(endpoint) => endpoint,
            Err(KafkaOutputError::Config(e)) => return Err(config_err(e)),
            Err(e) => return Err(EndpointError::transport(e)),
        },
    };
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
        // No allocation for the common message without headers of its own.
        let headers: Vec<(&str, Option<&[u8]>)> = message
            .headers
            .iter()
            .map(|h| (&*h.name, h.value.as_deref()))
            .collect();
        let outgoing = OutgoingMessage {
            key: message.key,
            value: message.value,
            headers: &headers,
            records: message.records,
        };
        KafkaOutputEndpoint::send_message(self, outgoing).map_err(EndpointError::transport)
    }

    fn flush(&self, timeout: Duration) -> Result<(), EndpointError> {
        KafkaOutputEndpoint::flush(self, timeout).map_err(EndpointError::transport)
    }

    fn stats(&self) -> OutputTransportStats {
        KafkaOutputEndpoint::stats(self)
    }

    fn begin_step(&self, step: u64) {
        KafkaOutputEndpoint::begin_step(self, step);
    }

    fn commit_step(&self, step: u64) -> Result<(), EndpointError> {
        KafkaOutputEndpoint::commit_step(self, step).map_err(EndpointError::transport)
    }

    fn exactly_once_stats(&self) -> Option<ExactlyOnceStats> {
        KafkaOutputEndpoint::exactly_once_stats(self)
    }
}
