//! Avro output end to end: a pipeline writes a view to a topic of 6 partitions, and a current Kafka client
//! (Python confluent-kafka) reads it back, decoding every key and value with an independent Avro implementation
//! (fastavro) and the schemas Sluice generated. `SLUICE_PYTHON` names the interpreter that has both (the project's
//! scripts install them); plain `python3` otherwise.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{json, Value as Json};
use sluice_formats::avro_schemas;
use sluice_pipeline::{
    ControllerConfig, InputSpec, OutputSpec, Pipeline, PipelineError, PipelineSpec,
};
use sluice_transports::kafka_output::partition_of;
use sluice_transports::testing::{brokers, eventually, TestTopic};
use sluice_types::{ConnectorConfig, FormatConfig};

use crate::keyed::{
    expected_view, more_random_steps, read_all, transmitted, try_start_on, Lcg, PARTITIONS, TIMEOUT,
};

const CONSUMER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/integration/python/avro_consumer.py"
);

fn avro_connector(topic: &str, format: Json, index: Option<&str>) -> ConnectorConfig {
    let mut c: ConnectorConfig = serde_json::from_value(json!({
        "transport": {"name": "kafka_output", "config": {
            "bootstrap.servers": brokers(), "topic": topic, "initialization_timeout_secs": 10
        }},
        "format": {"name": "avro", "config": format}
    }))
    .unwrap();
    c.index = index.map(str::to_string);
    c
}

/// One decoded message.
struct Decoded {
    partition: i32,
    /// The key as sent.
    key_bytes: Option<Vec<u8>>,
    key: Json,
    value: Json,
    op: Option<String>,
}

/// Reads `count` messages of `topic` with the Python consumer, decoding with the schemas `config` writes (`key_of`:
/// the key columns, as the pipeline resolves them from the index).
fn read_avro(
    topic: &str,
    count: usize,
    config: &ConnectorConfig,
    key_of: Option<&[&str]>,
) -> Vec<Decoded> {
    let Some(FormatConfig::Avro(mut avro)) = config.format.clone() else {
        panic!("an Avro connector");
    };
    if let Some(k) = key_of {
        avro.key_fields = Some(k.iter().map(|s| s.to_string()).collect());
    }
    let program = sluice_sql::Program::compile(crate::keyed::PROGRAM).unwrap();
    let view = &program.view("totals").unwrap().relation;
    let (value_schema, key_schema) = avro_schemas(&avro, view).unwrap();
    let id = |id: Option<u32>| id.unwrap_or(0).to_string();
    // With a registry, Confluent's deserializer finds each message's schema by the id in its header.
    let decode_with: [String; 4] = match avro.registry_urls.first() {
        Some(url) => [
            format!("registry={url}"),
            "-".into(),
            if key_schema.is_some() { "keyed" } else { "-" }.into(),
            "-".into(),
        ],
        None => [
            value_schema,
            id(avro.schema_id),
            key_schema.clone().unwrap_or_else(|| "-".into()),
            key_schema
                .as_ref()
                .map_or("-".to_string(), |_| id(avro.key_schema_id)),
        ],
    };
    let python = std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(CONSUMER)
        .args([&brokers(), topic, &count.to_string()])
        .args(&decode_with)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "{python} {CONSUMER} failed (it needs confluent-kafka and fastavro: scripts/setup.sh installs them and \
         sets SLUICE_PYTHON): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let m: Json = serde_json::from_str(line).unwrap();
            Decoded {
                partition: m["partition"].as_i64().unwrap() as i32,
                key_bytes: m["key_bytes"].as_str().map(|hex| {
                    (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                        .collect()
                }),
                key: m["key"].clone(),
                value: m["value"].clone(),
                op: m["headers"]["op"].as_str().map(str::to_string),
            }
        })
        .collect()
}

/// Runs 25 random steps (from `seed`) of the table into a fresh topic of `partitions` through an Avro connector with
/// `format` (keyed by `index` on column `k`, if given), and returns the decoded messages and the table's rows.
fn random_run(
    name: &str,
    partitions: i32,
    format: Json,
    index: Option<&str>,
    seed: u64,
) -> (Vec<Decoded>, Vec<(i64, i64)>) {
    let topic = TestTopic::new(&brokers(), name, partitions);
    let config = avro_connector(&topic.name, format, index);
    let p = try_start_on("totals", vec![("avro", config.clone())]).unwrap();
    let mut table = Vec::new();
    more_random_steps(&p, &mut Lcg(seed), &mut table, 25);
    let stats = p.shutdown(TIMEOUT).unwrap();
    let key = index.map(|_| &["k"][..]);
    let messages = read_avro(&topic.name, transmitted(&stats, "avro"), &config, key);
    (messages, table)
}

/// `confluent_jdbc` keyed by the view's index, after random steps: every key's messages are on the partition the
/// Java client picks for its bytes, and folding upserts and tombstones per key gives exactly the view.
#[test]
fn confluent_jdbc_decodes_with_fastavro_and_folds_to_the_view() {
    let (messages, table) = random_run(
        "avro-upsert",
        PARTITIONS,
        json!({"update_format": "confluent_jdbc", "schema_id": 11, "key_schema_id": 12}),
        Some("totals_by_k"),
        17,
    );
    for m in &messages {
        assert_eq!(m.op, None, "confluent_jdbc has no op header");
        let key_bytes = m.key_bytes.as_deref().expect("keyed");
        assert_eq!(m.partition, partition_of(Some(key_bytes), 0, 0, PARTITIONS));
    }
    assert_eq!(fold_upserts(&messages), expected_view(&table));
}

/// `raw` on the same view: every change is a message with an `op` header; counting inserts and deletes per row
/// gives the view.
#[test]
fn raw_avro_says_insert_or_delete_in_a_header() {
    let (messages, table) = random_run("avro-raw", 1, json!({}), None, 5);
    let mut rows: BTreeMap<String, i64> = BTreeMap::new();
    for m in &messages {
        assert_eq!(m.key, Json::Null);
        let weight = match m.op.as_deref() {
            Some("insert") => 1,
            Some("delete") => -1,
            other => panic!("op header {other:?}"),
        };
        *rows.entry(m.value.to_string()).or_default() += weight;
    }
    rows.retain(|_, w| *w != 0);
    let expected: BTreeMap<String, i64> = expected_view(&table)
        .into_values()
        .map(|v| (v.to_string(), 1))
        .collect();
    assert_eq!(rows, expected);
}

/// Avro `debezium` keyed by the index: a consumer that applies `c`/`u`/`d` per key (skipping tombstones) ends with
/// the view, and every update of a key in a step is one `u` carrying both images.
#[test]
fn debezium_in_avro_applied_by_a_consumer_gives_the_view() {
    let (messages, table) = random_run(
        "avro-debezium",
        PARTITIONS,
        json!({"update_format": "debezium", "schema_id": 31, "key_schema_id": 32}),
        Some("totals_by_k"),
        99,
    );
    let mut applied: BTreeMap<String, Json> = BTreeMap::new();
    let mut ops = BTreeMap::new();
    for m in &messages {
        let key = m.key.to_string();
        if m.value.is_null() {
            assert!(
                !applied.contains_key(&key),
                "a tombstone follows the delete of {key}"
            );
            continue;
        }
        let (op, before, after) = (
            m.value["op"].as_str().unwrap(),
            &m.value["before"],
            &m.value["after"],
        );
        assert_eq!(m.value["source"]["connector"], "sluice");
        *ops.entry(op.to_string()).or_insert(0) += 1;
        match op {
            "c" => assert!(applied.insert(key, after.clone()).is_none()),
            "u" => assert_eq!(applied.insert(key, after.clone()).as_ref(), Some(before)),
            "d" => assert_eq!(applied.remove(&key).as_ref(), Some(before)),
            other => panic!("op {other}"),
        }
    }
    assert_eq!(applied, expected_view(&table));
    assert!(ops.get("u").copied().unwrap_or(0) > 0, "{ops:?}");
}

fn registry_url() -> String {
    std::env::var("SLUICE_SCHEMA_REGISTRY_URL")
        .expect("SLUICE_SCHEMA_REGISTRY_URL names the registry these tests use")
}

/// With `registry_urls` the schemas are registered at start, and Confluent's own `AvroDeserializer` (which fetches
/// each message's schema from the registry by the id in its header) decodes every key and value to the view.
#[test]
#[ignore = "needs a Confluent-compatible schema registry: set SLUICE_SCHEMA_REGISTRY_URL and run with --ignored"]
fn registered_schemas_decode_with_confluents_deserializer() {
    let (messages, table) = random_run(
        "avro-registry",
        PARTITIONS,
        json!({"update_format": "confluent_jdbc", "registry_urls": [registry_url()]}),
        Some("totals_by_k"),
        23,
    );
    assert_eq!(fold_upserts(&messages), expected_view(&table));
}

/// A value schema that breaks the subject's compatibility rule fails the start, naming the connector, with the
/// registry's reason; nothing is sent.
#[test]
#[ignore = "needs a Confluent-compatible schema registry: set SLUICE_SCHEMA_REGISTRY_URL and run with --ignored"]
fn an_incompatible_schema_fails_the_start_with_the_registrys_reason() {
    let url = registry_url();
    let topic = TestTopic::new(&brokers(), "avro-incompatible", 1);
    // An earlier version of the subject with only `k`, under BACKWARD compatibility: the view's schema adds `n`
    // without a default, which readers of the old data could not fill.
    let registry = sluice_registry::Registry::new(&sluice_registry::RegistryConfig {
        urls: vec![url.clone()],
        ..Default::default()
    })
    .unwrap();
    let subject = format!("{}-value", topic.name);
    let old =
        json!({"type": "record", "name": "totals", "fields": [{"name": "k", "type": "long"}]});
    registry.register(&subject, &old.to_string()).unwrap();
    let set = Command::new("curl")
        .args([
            "-fsS",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.schemaregistry.v1+json",
        ])
        .args([
            "-d",
            r#"{"compatibility":"BACKWARD"}"#,
            &format!("{url}/config/{subject}"),
        ])
        .status()
        .unwrap();
    assert!(set.success());
    let config = avro_connector(
        &topic.name,
        json!({"update_format": "confluent_jdbc", "registry_urls": [url]}),
        Some("totals_by_k"),
    );
    let e = try_start_on("totals", vec![("avro", config)])
        .err()
        .expect("refused");
    assert!(
        matches!(&e, PipelineError::Registry { connector, reason }
            if connector == "avro" && reason.contains("HTTP 409") && reason.to_lowercase().contains("incompatib")
                && reason.contains(&subject)),
        "{e}"
    );
}

/// The latest value per key of upsert messages (a tombstone forgets its key), as a compacted topic keeps them.
fn fold_upserts(messages: &[Decoded]) -> BTreeMap<String, Json> {
    let mut folded = BTreeMap::new();
    for m in messages {
        let key = m.key.to_string();
        if m.value.is_null() {
            assert!(
                folded.remove(&key).is_some(),
                "a tombstone for an absent key {key}"
            );
        } else {
            folded.insert(key, m.value.clone());
        }
    }
    folded
}

const PRODUCER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/integration/python/avro_producer.py"
);

/// The writer's schema of the input table `t (k BIGINT NOT NULL, v BIGINT NOT NULL)`.
fn input_schema() -> String {
    json!({"type": "record", "name": "t", "fields": [
        {"name": "k", "type": "long"}, {"name": "v", "type": "long"}]})
    .to_string()
}

/// Writes `rows` of `t` to `topic` with the Python producer (`id_or_registry`: a schema id, or `registry=URL`).
fn produce_avro(topic: &str, id_or_registry: &str, rows: &[(i64, i64)]) {
    let rows: Vec<Json> = rows.iter().map(|(k, v)| json!({"k": k, "v": v})).collect();
    let python = std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args([PRODUCER, &brokers(), topic, &input_schema(), id_or_registry])
        .arg(Json::from(rows).to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "{python} {PRODUCER} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a pipeline whose table `t` reads `topic` with Avro `format`, until every row of `rows` (already on the
/// topic) went through; returns the view as an upsert consumer of its JSON output folds it.
fn view_from_avro_input(topic: &str, format: Json, rows: usize) -> BTreeMap<String, Json> {
    let out = TestTopic::new(&brokers(), "avro-in-view", 1);
    let input: ConnectorConfig = serde_json::from_value(json!({
        "transport": {"name": "kafka_input", "config": {
            "bootstrap.servers": brokers(), "topics": [topic], "auto.offset.reset": "earliest",
            "group_join_timeout_secs": 20}},
        "format": {"name": "avro", "config": format}
    }))
    .unwrap();
    let spec = PipelineSpec {
        name: "avro-in".into(),
        program: sluice_sql::Program::compile(crate::keyed::PROGRAM).unwrap(),
        config: ControllerConfig::default(),
        inputs: vec![InputSpec {
            name: "avro-in".into(),
            table: "t".into(),
            config: input,
            group_scope: None,
        }],
        durable: None,
        outputs: vec![OutputSpec {
            name: "view".into(),
            view: "totals".into(),
            config: crate::keyed::connector(
                &out.name,
                json!({"update_format": "upsert", "key_fields": ["k"]}),
            ),
        }],
    };
    let p = Pipeline::start(spec, false).unwrap();
    assert!(eventually(TIMEOUT, || {
        let s = p.stats();
        s.input_connectors[0].total_records == rows as u64
            && s.global_metrics.total_processed_records == rows as u64
    }));
    let stats = p.shutdown(TIMEOUT).unwrap();
    assert_eq!(
        stats.input_connectors[0].num_rejected_messages, 0,
        "{:?}",
        stats.input_connectors[0]
    );
    let mut folded = BTreeMap::new();
    for m in read_all(&out.name, transmitted(&stats, "view")) {
        let key = String::from_utf8(m.key.clone().unwrap()).unwrap();
        match &m.payload {
            Some(_) => folded.insert(key, serde_json::from_str(&m.payload_text()).unwrap()),
            None => folded.remove(&key),
        };
    }
    folded
}

/// A topic written by an independent producer (fastavro, in the Confluent wire format) is read by an Avro
/// `kafka_input` with the writer's schema: the table, and so the view, hold exactly the rows written.
#[test]
fn avro_input_reads_what_an_independent_producer_wrote() {
    let topic = TestTopic::new(&brokers(), "avro-in", 1);
    let rows: Vec<(i64, i64)> = (0..40).map(|i| (i % 7, i * 3 + 1)).collect();
    produce_avro(&topic.name, "5", &rows);
    let view = view_from_avro_input(&topic.name, json!({"schema": input_schema()}), rows.len());
    assert_eq!(view, expected_view(&rows));
}

/// With `registry_urls`, each message's schema is read from the registry by the id in its header; Confluent's own
/// AvroSerializer registered it and wrote the messages.
#[test]
#[ignore = "needs a Confluent-compatible schema registry: set SLUICE_SCHEMA_REGISTRY_URL and run with --ignored"]
fn avro_input_reads_each_messages_schema_from_the_registry() {
    let topic = TestTopic::new(&brokers(), "avro-in-registry", 1);
    let rows: Vec<(i64, i64)> = (0..30).map(|i| (i % 5, i + 100)).collect();
    produce_avro(&topic.name, &format!("registry={}", registry_url()), &rows);
    let view = view_from_avro_input(
        &topic.name,
        json!({"registry_urls": [registry_url()]}),
        rows.len(),
    );
    assert_eq!(view, expected_view(&rows));
}
