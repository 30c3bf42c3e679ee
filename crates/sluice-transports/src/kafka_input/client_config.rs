//! From a `kafka_input` connector config to a librdkafka consumer config.
//!
//! | option | Sluice's value | why |
//! |---|---|---|
//! | `group.id` | `sluice-<scope>-<connector name>` (`sluice-<connector name>` without a scope) unless set | every connector reads all partitions in a group of its own; the scope (a pipeline gives its id) keeps connectors of the same name in different pipelines apart |
//! | `group.instance.id` | the `group.id`, when Sluice chose it with a scope | a static member: after a crash the restarted consumer takes the dead one's place at once, instead of waiting `session.timeout.ms` (45 s) for the group to drop it. Only a group that is this consumer's alone can have a static member |
//! | `enable.auto.commit` | always `false` | positions are the pipeline's (see the module docs) |
//! | `allow.auto.create.topics` | `false` unless set | a misspelt topic must be an error, not a new topic |
//! | `client.id` | `sluice` unless set | recognisable in broker logs |
//!
//! `auto.offset.reset` and every other option pass through unchanged. Validation builds the whole consumer without
//! `bootstrap.servers`, so librdkafka itself checks every option name and value without opening a connection.

use std::collections::BTreeMap;

use rdkafka::consumer::BaseConsumer;
use sluice_types::{ConfigError, KafkaInputConfig};

use crate::kafka_common::{apply_defaults, check_options};

/// Options Sluice sets when the user does not.
const SLUICE_DEFAULTS: &[(&str, &str)] = &[
    ("allow.auto.create.topics", "false"),
    ("client.id", "sluice"),
];

/// The consumer options of the connector `connector_name`: the user's librdkafka options over Sluice's defaults,
/// with auto-commit switched off.
pub(crate) fn consumer_options(
    connector_name: &str,
    group_scope: Option<&str>,
    config: &KafkaInputConfig,
) -> BTreeMap<String, String> {
    let mut options = config.kafka_options.clone();
    apply_defaults(&mut options, SLUICE_DEFAULTS);
    if !options.contains_key("group.id") {
        let group = match group_scope {
            Some(scope) => format!("sluice-{scope}-{connector_name}"),
            None => format!("sluice-{connector_name}"),
        };
        // With a scope the group is this connector's alone, so its one member can be static (see the table
        // above). A group the user names may have several members, which must not share an instance id.
        if group_scope.is_some() {
            options
                .entry("group.instance.id".to_string())
                .or_insert_with(|| group.clone());
        }
        options.insert("group.id".to_string(), group);
    }
    options.insert("enable.auto.commit".to_string(), "false".to_string());
    options
}

/// Checks a `kafka_input` config completely without touching the network: the first-class fields, then every
/// librdkafka option through librdkafka itself. Returns warnings about options that are accepted but ignored.
///
/// Field paths in errors are relative to the transport's `config` (`topics`, `fetch.wait.max.ms`).
pub fn validate_input_config(config: &KafkaInputConfig) -> Result<Vec<String>, ConfigError> {
    let warnings = config.validate()?;
    check_options::<BaseConsumer>(consumer_options("validation", None, config), "consumer")?;
    Ok(warnings)
}

/// The effective consumer options of the connector `connector_name`, with Sluice's defaults applied (for
/// diagnostics and tests).
pub fn effective_input_options(
    connector_name: &str,
    config: &KafkaInputConfig,
) -> BTreeMap<String, String> {
    consumer_options(connector_name, None, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> KafkaInputConfig {
        let mut c = KafkaInputConfig::new("127.0.0.1:9092", &["t"]);
        for (k, v) in extra {
            c.kafka_options.insert((*k).into(), (*v).into());
        }
        c
    }

    #[test]
    fn valid_config_passes_without_a_broker() {
        let c = config(&[
            ("auto.offset.reset", "earliest"),
            ("fetch.wait.max.ms", "50"),
        ]);
        assert_eq!(validate_input_config(&c), Ok(vec![]));
    }

    #[test]
    fn unknown_option_is_named_with_librdkafkas_reason() {
        let err = validate_input_config(&config(&[("fetch.wait.max.msx", "10")])).unwrap_err();
        assert_eq!(err.field, "fetch.wait.max.msx");
        assert!(
            err.reason.contains("No such configuration property"),
            "{err}"
        );
    }

    #[test]
    fn invalid_value_is_named_with_librdkafkas_reason() {
        let err = validate_input_config(&config(&[("auto.offset.reset", "oldest")])).unwrap_err();
        assert_eq!(err.field, "auto.offset.reset");
        assert!(err.reason.contains("Invalid value"), "{err}");
    }

    #[test]
    fn malformed_bootstrap_servers_are_rejected() {
        let err =
            validate_input_config(&config(&[("bootstrap.servers", "localhost:90x2")])).unwrap_err();
        assert_eq!(err.field, "bootstrap.servers");
    }

    #[test]
    fn first_class_fields_are_checked_first() {
        let mut c = config(&[]);
        c.topics.clear();
        assert_eq!(validate_input_config(&c).unwrap_err().field, "topics");
    }

    #[test]
    fn group_defaults_to_the_connector_name_and_auto_commit_is_forced_off() {
        let options = consumer_options(
            "orders_in",
            None,
            &config(&[("enable.auto.commit", "true")]),
        );
        assert_eq!(options["group.id"], "sluice-orders_in");
        assert!(!options.contains_key("group.instance.id"), "{options:?}");
        // A pipeline scopes the group to itself; the one member is then static.
        let options = consumer_options("orders_in", Some("p1"), &config(&[]));
        assert_eq!(options["group.id"], "sluice-p1-orders_in");
        assert_eq!(options["group.instance.id"], "sluice-p1-orders_in");
        assert_eq!(options["enable.auto.commit"], "false");
        assert_eq!(options["allow.auto.create.topics"], "false");
        let options = consumer_options("orders_in", Some("p1"), &config(&[("group.id", "mine")]));
        assert_eq!(options["group.id"], "mine");
        assert!(!options.contains_key("group.instance.id"), "{options:?}");
    }
}
