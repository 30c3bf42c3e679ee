//! Property: a connector config read from JSON and written back is a fixed point with every default filled in.
//!
//! For random configs (`kafka_output` or `kafka_input`; random librdkafka options given as strings, integers of
//! either sign, floats or booleans; random headers of text, bytes or no value; random topic lists; random format
//! settings, each present or left to its default, `key_fields` with `debezium`, CSV `buffer_size_records`):
//! - parse → serialize → parse gives the same value (nothing is lost or changed by storing a config);
//! - serialize is idempotent (what GET returns, PUT accepts unchanged);
//! - the serialized form names every field, defaults included;
//! - every librdkafka option is stored as the predictable text of what was given (a float as text that reads
//!   back as the same float);
//! - storing a config does not change whether it validates.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use sluice_types::ConnectorConfig;

fn option_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z0-9.,:_-]{0,12}".prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e6..1.0e6f64).prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ]
}

/// Whether `stored` is the predictable text form of the option value `given`.
fn is_text_of(stored: &Value, given: &Value) -> bool {
    let Some(text) = stored.as_str() else {
        return false;
    };
    match given {
        Value::String(s) => text == s,
        Value::Bool(b) => text == b.to_string(),
        Value::Number(n) if n.is_i64() || n.is_u64() => text == n.to_string(),
        Value::Number(n) => text.parse::<f64>().ok() == n.as_f64(),
        _ => false,
    }
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
    let key_fields = prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        prop::collection::btree_set("[a-z_]{1,8}", 1..4)
            .prop_map(|keys| Some(json!(keys.into_iter().collect::<Vec<_>>()))),
    ];
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
        key_fields,
    )
        .prop_map(|(update_format, array, buffer, flavor, keys)| {
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
            // Message keys exist only in the debezium format.
            if let (Some("debezium"), Some(k)) = (update_format, keys) {
                c.insert("key_fields".into(), k);
            }
            json!({"name": "json", "config": c})
        });
    let csv_format = (
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![',', ';', '|', '\t'])),
        prop::option::of(1usize..100),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(with_config, delimiter, buffer, header)| {
            if !with_config {
                return json!({"name": "csv"});
            }
            let mut c = Map::new();
            if let Some(d) = delimiter {
                c.insert("delimiter".into(), json!(d));
            }
            if let Some(b) = buffer {
                c.insert("buffer_size_records".into(), json!(b));
            }
            if let Some(h) = header {
                c.insert("header".into(), json!(h));
            }
            json!({"name": "csv", "config": c})
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
        let parsed: ConnectorConfig = serde_json::from_value(body.clone()).unwrap();
        let stored = serde_json::to_value(&parsed).unwrap();
        let reparsed: ConnectorConfig = serde_json::from_value(stored.clone()).unwrap();
        prop_assert_eq!(&reparsed, &parsed);
        prop_assert_eq!(serde_json::to_value(&reparsed).unwrap(), stored.clone());
        prop_assert_eq!(reparsed.validate(), parsed.validate());

        let first_class = [
            "topic", "topics", "headers", "log_level", "initialization_timeout_secs", "group_join_timeout_secs",
        ];
        for (key, given) in body["transport"]["config"].as_object().unwrap() {
            if !first_class.contains(&key.as_str()) {
                let text = &stored["transport"]["config"][key];
                prop_assert!(is_text_of(text, given), "{}: {} stored as {}", key, given, text);
            }
        }

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
