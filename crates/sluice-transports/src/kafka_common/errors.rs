//! The one place where librdkafka error codes are sorted into transient and permanent.
//!
//! Transient errors (the broker is down, a leader moved, a request timed out) keep the message: librdkafka retries
//! it, or the endpoint sends it again. Permanent errors cannot succeed by waiting (no such topic, not authorized,
//! too large) and fail the connector with a message that names the cause.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What to do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Severity {
    /// Keep the message and try again; the endpoint is stalled meanwhile.
    Transient,
    /// Fail the endpoint.
    Permanent,
    /// The message was purged on purpose (shutdown without a complete flush).
    Purged,
}

/// The severity of a librdkafka error code.
pub(crate) fn classify_code(code: RDKafkaErrorCode) -> Severity {
    use RDKafkaErrorCode as C;
    match code {
        C::PurgeQueue | C::PurgeInflight => Severity::Purged,
        C::UnknownTopicOrPartition
        | C::UnknownTopic
        | C::UnknownPartition
        | C::InvalidTopic
        | C::TopicAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::TransactionalIdAuthorizationFailed
        | C::SaslAuthenticationFailed
        | C::Authentication
        | C::MessageSizeTooLarge
        | C::MessageBatchTooLarge
        | C::InvalidRecord
        | C::InvalidRequiredAcks
        | C::PolicyViolation
        | C::InvalidMessageSize
        | C::Fatal => Severity::Permanent,
        _ => Severity::Transient,
    }
}

/// The severity of an error from rdkafka.
pub(crate) fn classify(error: &KafkaError) -> Severity {
    match error.rdkafka_error_code() {
        Some(code) => classify_code(code),
        None => Severity::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_transient_and_authorization_is_permanent() {
        assert_eq!(
            classify_code(RDKafkaErrorCode::AllBrokersDown),
            Severity::Transient
        );
        assert_eq!(
            classify_code(RDKafkaErrorCode::MessageTimedOut),
            Severity::Transient
        );
        assert_eq!(
            classify_code(RDKafkaErrorCode::NotLeaderForPartition),
            Severity::Transient
        );
        assert_eq!(
            classify_code(RDKafkaErrorCode::TopicAuthorizationFailed),
            Severity::Permanent
        );
        assert_eq!(
            classify_code(RDKafkaErrorCode::MessageSizeTooLarge),
            Severity::Permanent
        );
        assert_eq!(
            classify_code(RDKafkaErrorCode::PurgeQueue),
            Severity::Purged
        );
    }
}
