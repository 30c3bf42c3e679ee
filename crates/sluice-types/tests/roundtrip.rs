//! Property: a connector config read from JSON and written back is a fixed point with every default filled in.
//!
//! For random configs (`kafka_output` or `kafka_input`; random librdkafka options given as strings, numbers or
//! booleans; random headers of text, bytes or no value; random topic lists; random format settings, each present or
//! left to its default):
//! - parse → serialize → parse gives the same value (nothing is lost or changed by storing a config);
//! - serialize is idempotent (what GET returns, PUT accepts unchanged);
//! - the serialized form names every field, defaults included.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use sluice_types::ConnectorConfig;

fn option_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z0-9.,:_-]{0,12}".prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ]
}

fn header() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        Just(None),
        "[ -~]{0,8}".prop_map(|s| Some(Value::from(s))),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(|b| Some(json!(b))),
    ];
    ("[a-z]{1,6}", value).prop_map(|(key, value)| match value {
        Some(v) => json!({"key": key, "value": v}),
        None => json!({"key": key}),
    })
}

fn transport() -> impl Strategy<Value = Value> {
    prop_oneof![kafka_output(), kafka_input()]
}

fn kafka_output() -> impl Strategy<Value = Value> {
    (
        "[a-zA-Z0-9._-]{1,20}",
        prop::collection::btree_map("[a-z]{1,8}\\.[a-z]{1,8}", option_value(), 0..5),
        prop::option::of(prop::collection::vec(header(), 0..3)),
        prop::option::of(1u32..600),
        prop::option::of(prop::sample::select(vec![
            "error", "warning", "info", "debug",
        ])),
    )
        .prop_map(|(topic, options, headers, timeout, log_level)| {
            let mut config: Map<String, Value> = options.into_iter().collect();
            config.insert("bootstrap.servers".into(), json!("127.0.0.1:9092"));
            config.insert("topic".into(), json!(topic));
            if let Some(h) = headers {
                config.insert("headers".into(), json!(h));
            }
            if let Some(t) = timeout {
                config.insert("initialization_timeout_secs".into(), json!(t));
            }
            if let Some(l) = log_level {
                config.insert("log_level".into(), json!(l));
            }
            json!({"name": "kafka_output", "config": config})
        })
}

fn kafka_input() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec("[a-zA-Z0-9._-]{1,20}", 1..4),
        prop::collection::btree_map("[a-z]{1,8}\\.[a-z]{1,8}", option_value(), 0..5),
        prop::option::of(1u32..600),
        prop::option::of(prop::sample::select(vec![
            "error", "warning", "info", "debug",
        ])),
    )
        .prop_map(|(topics, options, timeout, log_level)| {
            let mut config: Map<String, Value> = options.into_iter().collect();
            config.insert("bootstrap.servers".into(), json!("127.0.0.1:9092"));
            config.insert("topics".into(), json!(topics));
            if let Some(t) = timeout {
                config.insert("group_join_timeout_secs".into(), json!(t));
            }
            if let Some(l) = log_level {
                config.insert("log_level".into(), json!(l));
            }
            json!({"name": "kafka_input", "config": config})
        })
}

fn format() -> impl Strategy<Value = Value> {
    let json_format = (
        prop::option::of(prop::sample::select(vec![
            "insert_delete",
            "snowflake",
            "debezium",
        ])),
        prop::option::of(any::<bool>()),
        prop::option::of(1usize..100),
        prop::option::of(prop::sample::select(vec![
            "default",
            "kafka_connect_json_converter",
            "snowflake",
        ])),
    )
        .prop_map(|(update_format, array, buffer, flavor)| {
            let mut c = Map::new();
            if let Some(u) = update_format {
                c.insert("update_format".into(), json!(u));
            }
            if let Some(a) = array {
                c.insert("array".into(), json!(a));
            }
            if let Some(b) = buffer {
                c.insert("buffer_size_records".into(), json!(b));
            }
            if let Some(f) = flavor {
                c.insert("json_flavor".into(), json!(f));
            }
            json!({"name": "json", "config": c})
        });
    let csv_format = (
        prop::option::of(prop::sample::select(vec![',', ';', '|', '\t'])),
        any::<bool>(),
    )
        .prop_map(|(delimiter, header)| match delimiter {
            Some(d) => json!({"name": "csv", "config": {"delimiter": d, "header": header}}),
            None => json!({"name": "csv"}),
        });
    prop_oneof![json_format, csv_format]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_then_serialize_is_a_fixed_point_with_defaults(
        transport in transport(),
        format in format(),
        max_queued in prop::option::of(1u64..10_000_000),
    ) {
        let mut body = json!({"transport": transport, "format": format});
        if let Some(m) = max_queued {
            body["max_queued_records"] = json!(m);
        }
        let parsed: ConnectorConfig = serde_json::from_value(body).unwrap();
        let stored = serde_json::to_value(&parsed).unwrap();
        let reparsed: ConnectorConfig = serde_json::from_value(stored.clone()).unwrap();
        prop_assert_eq!(&reparsed, &parsed);
        prop_assert_eq!(serde_json::to_value(&reparsed).unwrap(), stored.clone());

        prop_assert!(stored.get("max_queued_records").is_some());
        let t = &stored["transport"]["config"];
        let expected: &[&str] = match stored["transport"]["name"].as_str() {
            Some("kafka_output") => &["topic", "headers", "log_level", "initialization_timeout_secs"],
            _ => &["topics", "log_level", "group_join_timeout_secs"],
        };
        for field in expected {
            prop_assert!(t.get(*field).is_some(), "missing {}", field);
        }
        let f = &stored["format"]["config"];
        let expected: &[&str] = match stored["format"]["name"].as_str() {
            Some("json") => &["update_format", "array", "buffer_size_records", "json_flavor", "key_fields"],
            _ => &["delimiter", "buffer_size_records", "header"],
        };
        for field in expected {
            prop_assert!(f.get(*field).is_some(), "missing {}", field);
        }
    }
}
