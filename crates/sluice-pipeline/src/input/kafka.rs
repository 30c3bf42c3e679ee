//! `kafka_input`: the Kafka consumer endpoint of `sluice-transports` behind the [`InputEndpoint`] seam. The only
//! file of the pipeline that names [`KafkaInputEndpoint`].
//!
//! The formats decode a message's value only, so the key and headers are not read yet.

use std::time::Duration;

use sluice_transports::health::InputTransportStats;
use sluice_transports::kafka_input::{validate_input_config, KafkaInputEndpoint};
use sluice_types::KafkaInputConfig;

use super::endpoint::{EndpointError, InputEndpoint, InputMessage, Position, SourceOffset};

/// Checks the librdkafka options and creates the consumer, without contacting the broker (that is
/// [`InputEndpoint::connect`]).
pub fn open(
    name: &str,
    group_scope: Option<&str>,
    config: &KafkaInputConfig,
) -> Result<Box<dyn InputEndpoint>, EndpointError> {
    validate_input_config(config)
        .map_err(|e| EndpointError::Config(e.within("transport.config")))?;
    let endpoint =
        KafkaInputEndpoint::scoped(name, group_scope, config).map_err(EndpointError::transport)?;
    Ok(Box::new(endpoint))
}

impl InputEndpoint for KafkaInputEndpoint {
    fn connect(&mut self) -> Result<(), EndpointError> {
        KafkaInputEndpoint::connect(self)
            .map(|_partitions| ())
            .map_err(EndpointError::transport)
    }

    fn start_from(&mut self, positions: &[Position]) -> Result<(), EndpointError> {
        KafkaInputEndpoint::start_from(
            self,
            positions.iter().map(|(t, p, o)| ((t.clone(), *p), *o)),
        );
        Ok(())
    }

    fn poll(&mut self, timeout: Duration) -> Result<Option<InputMessage>, EndpointError> {
        let message = KafkaInputEndpoint::poll(self, timeout).map_err(EndpointError::transport)?;
        Ok(message.map(|m| InputMessage {
            position: Some(format!(
                "topic '{}' partition {} offset {}",
                m.topic, m.partition, m.offset
            )),
            offset: Some(SourceOffset {
                topic: m.topic,
                partition: m.partition,
                offset: m.offset,
            }),
            payload: m.payload,
            key: None,
            headers: Vec::new(),
        }))
    }

    fn pause(&mut self) -> Result<(), EndpointError> {
        KafkaInputEndpoint::pause(self).map_err(EndpointError::transport)
    }

    fn resume(&mut self) -> Result<(), EndpointError> {
        KafkaInputEndpoint::resume(self).map_err(EndpointError::transport)
    }

    fn commit(&mut self, positions: &[Position]) -> Result<(), EndpointError> {
        KafkaInputEndpoint::commit_offsets(self, positions).map_err(EndpointError::transport)
    }

    fn stats(&self) -> InputTransportStats {
        KafkaInputEndpoint::stats(self)
    }
}
