//! From a `kafka_output` connector config to a librdkafka producer config.
//!
//! Sluice's defaults differ from librdkafka's where librdkafka's would lose or duplicate data silently:
//!
//! | option | Sluice default | why |
//! |---|---|---|
//! | `enable.idempotence` | `true` | retries after a lost acknowledgement must not duplicate or reorder messages |
//! | `message.timeout.ms` | `0` (no limit) | a message is never given up on because the broker was down for a while |
//! | `allow.auto.create.topics` | `false` | the topic must exist; a typo must not create a new topic |
//! | `client.id` | `sluice` | recognisable in broker logs |
//! | `partitioner` | `murmur2_random` | the Java client's partitioner: a key lands on the partition Kafka Streams, Connect and every Java producer pick for it (librdkafka's own default hashes with CRC32) |
//!
//! A user's own value always wins. Validation builds the whole producer without `bootstrap.servers`, so librdkafka
//! itself checks every option name and value (and cross-option rules such as idempotence requiring `acks=all`)
//! without opening a connection.

use std::collections::BTreeMap;

use rdkafka::producer::{BaseProducer, DefaultProducerContext};
use sluice_types::{ConfigError, KafkaOutputConfig};

use crate::kafka_common::{apply_defaults, check_options};

/// Bytes of framing that `message.max.bytes` must hold besides a message's key, value and headers, in the worst
/// case. Encoders get `message.max.bytes` minus this and [`HEADER_OVERHEAD_BYTES`] per static header, minus the
/// headers' keys and values.
///
/// The broker compares `message.max.bytes` with the size of a whole record batch (Kafka protocol, message format
/// v2, KIP-98), and a message alone in a batch must pass. So the allowance is one batch header plus one record's
/// framing at its widest:
///
/// - RecordBatch header, fixed size: baseOffset 8 + batchLength 4 + partitionLeaderEpoch 4 + magic 1 + crc 4 +
///   attributes 2 + lastOffsetDelta 4 + baseTimestamp 8 + maxTimestamp 8 + producerId 8 + producerEpoch 2 +
///   baseSequence 4 + record count 4 = **61** bytes.
/// - Record framing, all varints at their longest: length 5 + attributes 1 + timestampDelta 10 (a varlong) +
///   offsetDelta 5 + key length 5 + value length 5 + header count 5 = **36** bytes. This is also the figure
///   librdkafka checks a message against locally (`RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD`).
///
/// 61 + 36 = 97. librdkafka always puts a message in a batch even when the batch would then be over
/// `message.max.bytes`, and sends a batch uncompressed when compression would make it larger, so a message within
/// this limit is never refused for size by a broker whose limit is at least the producer's `message.max.bytes`.
pub const MESSAGE_OVERHEAD_BYTES: usize = 61 + 36;

/// Framing of one record header besides its key and value: two length varints at their longest (5 + 5).
pub const HEADER_OVERHEAD_BYTES: usize = 5 + 5;

/// librdkafka's default `message.max.bytes`.
const DEFAULT_MESSAGE_MAX_BYTES: usize = 1_000_000;

/// Options Sluice sets when the user does not.
const SLUICE_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("message.timeout.ms", "0"),
    ("allow.auto.create.topics", "false"),
    ("client.id", "sluice"),
    ("partitioner", "murmur2_random"),
];

/// The producer options for `config`: the user's librdkafka options (consumer-only ones dropped) over Sluice's
/// defaults, plus the warnings about dropped options.
pub(crate) fn producer_options(
    config: &KafkaOutputConfig,
) -> (BTreeMap<String, String>, Vec<String>) {
    let (mut options, warnings) = config.producer_options();
    apply_defaults(&mut options, SLUICE_DEFAULTS);
    (options, warnings)
}

/// The largest key + value an encoder may hand to this transport: `message.max.bytes` less the framing and the
/// static headers.
pub(crate) fn max_payload_bytes(
    options: &BTreeMap<String, String>,
    config: &KafkaOutputConfig,
) -> Result<usize, ConfigError> {
    let max = match options.get("message.max.bytes") {
        None => DEFAULT_MESSAGE_MAX_BYTES,
        Some(text) => text.trim().parse::<usize>().map_err(|_| {
            ConfigError::new(
                "message.max.bytes",
                format!("'{text}' is not a whole number of bytes"),
            )
        })?,
    };
    let headers: usize = config
        .headers
        .iter()
        .map(|h| h.key.len() + h.value.as_ref().map_or(0, Vec::len) + HEADER_OVERHEAD_BYTES)
        .sum();
    let overhead = MESSAGE_OVERHEAD_BYTES + headers;
    if max <= overhead + 16 {
        return Err(ConfigError::new(
            "message.max.bytes",
            format!(
                "{max} leaves no room for data: {overhead} bytes go to message framing and static headers"
            ),
        ));
    }
    Ok(max - overhead)
}

/// Checks a `kafka_output` config completely without touching the network: the first-class fields, then every
/// librdkafka option through librdkafka itself. Returns warnings about options that are accepted but ignored.
///
/// Field paths in errors are relative to the transport's `config` (`message.max.bytes`, `topic`).
pub fn validate_config(config: &KafkaOutputConfig) -> Result<Vec<String>, ConfigError> {
    let warnings = config.validate()?;
    let (options, _) = producer_options(config);
    max_payload_bytes(&options, config)?;
    check_options::<BaseProducer<DefaultProducerContext>>(options, "producer")?;
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> KafkaOutputConfig {
        let mut c = KafkaOutputConfig::new("127.0.0.1:9092", "t");
        for (k, v) in extra {
            c.kafka_options.insert((*k).into(), (*v).into());
        }
        c
    }

    #[test]
    fn valid_config_passes_without_a_broker() {
        assert_eq!(validate_config(&config(&[("linger.ms", "10")])), Ok(vec![]));
    }

    #[test]
    fn unknown_option_is_named_with_librdkafkas_reason() {
        let err = validate_config(&config(&[("linger.msx", "10")])).unwrap_err();
        assert_eq!(err.field, "linger.msx");
        assert!(
            err.reason.contains("No such configuration property"),
            "{err}"
        );
    }

    #[test]
    fn invalid_value_is_named_with_librdkafkas_reason() {
        let err = validate_config(&config(&[("compression.type", "brotli")])).unwrap_err();
        assert_eq!(err.field, "compression.type");
        assert!(err.reason.contains("Invalid value"), "{err}");
    }

    #[test]
    fn cross_option_conflicts_are_reported() {
        let err = validate_config(&config(&[("acks", "1")])).unwrap_err();
        assert!(err.reason.contains("acks"), "{err}");
    }

    #[test]
    fn tiny_message_max_bytes_is_rejected() {
        let err = validate_config(&config(&[("message.max.bytes", "70")])).unwrap_err();
        assert_eq!(err.field, "message.max.bytes");
    }

    #[test]
    fn malformed_bootstrap_servers_are_rejected() {
        let err = validate_config(&config(&[("bootstrap.servers", "localhost:90x2")])).unwrap_err();
        assert_eq!(err.field, "bootstrap.servers");
    }

    #[test]
    fn user_values_override_sluice_defaults() {
        let (options, _) = producer_options(&config(&[("enable.idempotence", "false")]));
        assert_eq!(options["enable.idempotence"], "false");
        assert_eq!(options["message.timeout.ms"], "0");
    }

    #[test]
    fn payload_limit_subtracts_framing_and_headers() {
        let mut c = config(&[("message.max.bytes", "1000")]);
        c.headers.push(sluice_types::KafkaHeader {
            key: "k".into(),
            value: Some(b"vv".to_vec()),
        });
        let (options, _) = producer_options(&c);
        assert_eq!(
            max_payload_bytes(&options, &c),
            Ok(1000 - 97 - (1 + 2 + 10))
        );
    }
}
