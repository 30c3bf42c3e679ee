//! Keyed output end to end against the real local broker: a GROUP BY view sent as `upsert` and as keyed `debezium`
//! to topics of 6 partitions, read back with librdkafka and folded the way a compacted topic, a Kafka Streams
//! table or the Debezium JDBC sink would, then compared with the view computed here from the same input.
//! Enabled with `--features kafka-integration-tests` (`scripts/test.sh`).
#![cfg(feature = "kafka-integration-tests")]

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value as Json};
use sluice_data::{Row, Value};
use sluice_pipeline::output::OutputConnectorStats;
use sluice_pipeline::{
    ControllerConfig, OutputSpec, Pipeline, PipelineError, PipelineSpec, PipelineStats,
};
use sluice_sql::Program;
use sluice_transports::kafka_output::partition_of;
use sluice_transports::kafka_tools::{read_topic, ConsumedMessage};
use sluice_transports::testing::{brokers, eventually, TestTopic};
use sluice_types::ConnectorConfig;

pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const PARTITIONS: i32 = 6;

pub(crate) const PROGRAM: &str = "
CREATE TABLE t (k BIGINT NOT NULL, v BIGINT NOT NULL);
CREATE VIEW totals AS SELECT k, SUM(v) AS total, COUNT(*) AS n FROM t GROUP BY k;
CREATE INDEX totals_by_k ON totals (k);
CREATE INDEX totals_by_total ON totals (total);
CREATE TABLE log (k BIGINT NOT NULL, v BIGINT NOT NULL) WITH ('append_only' = 'true');
CREATE VIEW positive AS SELECT k, v FROM log WHERE v > 0;
";

pub(crate) fn connector(topic: &str, format: Json) -> ConnectorConfig {
    serde_json::from_value(json!({
        "transport": {"name": "kafka_output", "config": {
            "bootstrap.servers": brokers(), "topic": topic, "initialization_timeout_secs": 10
        }},
        "format": {"name": "json", "config": format}
    }))
    .unwrap()
}

fn start(outputs: Vec<(&str, ConnectorConfig)>) -> Pipeline {
    try_start(outputs).unwrap()
}

fn try_start(outputs: Vec<(&str, ConnectorConfig)>) -> Result<Pipeline, PipelineError> {
    try_start_on("totals", outputs)
}

/// Starts with every output connector on `view`.
pub(crate) fn try_start_on(
    view: &str,
    outputs: Vec<(&str, ConnectorConfig)>,
) -> Result<Pipeline, PipelineError> {
    let spec = PipelineSpec {
        name: "keyed".into(),
        program: Program::compile(PROGRAM).unwrap(),
        config: ControllerConfig::default(),
        inputs: Vec::new(),
        durable: None,
        outputs: outputs
            .into_iter()
            .map(|(name, config)| OutputSpec {
                name: name.into(),
                view: view.into(),
                config,
            })
            .collect(),
    };
    Pipeline::start(spec, false)
}

pub(crate) fn row(k: i64, v: i64) -> Row {
    Row::new(vec![Value::BigInt(k), Value::BigInt(v)])
}

/// Ingests one batch and waits until it is stepped.
pub(crate) fn step(p: &Pipeline, rows: Vec<(Row, i64)>) {
    p.ingest("t", rows, 0, TIMEOUT).unwrap();
    assert!(eventually(TIMEOUT, || {
        let g = p.stats().global_metrics;
        g.buffered_input_records == 0 && g.total_processed_records == g.total_input_records
    }));
}

/// A small deterministic generator (64-bit LCG), so that a failure can be replayed.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Random steps of inserts and deletes of earlier rows; returns the table's rows at the end.
fn random_steps(p: &Pipeline, seed: u64, steps: usize) -> Vec<(i64, i64)> {
    let mut table = Vec::new();
    more_random_steps(p, &mut Lcg(seed), &mut table, steps);
    table
}

/// [`random_steps`] on a table that holds `table`'s rows, which it keeps up to date.
pub(crate) fn more_random_steps(
    p: &Pipeline,
    rng: &mut Lcg,
    table: &mut Vec<(i64, i64)>,
    steps: usize,
) {
    for _ in 0..steps {
        let mut batch = Vec::new();
        for _ in 0..1 + rng.below(8) {
            if !table.is_empty() && rng.below(3) == 0 {
                let (k, v) = table.swap_remove(rng.below(table.len() as u64) as usize);
                batch.push((row(k, v), -1));
            } else {
                let (k, v) = (rng.below(20) as i64, rng.below(1000) as i64);
                // Rows stay distinct, so a delete always has its row.
                if !table.contains(&(k, v)) && !batch.iter().any(|(r, _)| *r == row(k, v)) {
                    table.push((k, v));
                    batch.push((row(k, v), 1));
                }
            }
        }
        step(p, batch);
    }
}

/// The view computed from the table's rows: `{"k":..}` → `{"k":..,"total":..,"n":..}`.
pub(crate) fn expected_view(table: &[(i64, i64)]) -> BTreeMap<String, Json> {
    let mut groups: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for (k, v) in table {
        let g = groups.entry(*k).or_default();
        g.0 += v;
        g.1 += 1;
    }
    groups
        .into_iter()
        .map(|(k, (total, n))| {
            (
                json!({"k": k}).to_string(),
                json!({"k": k, "total": total, "n": n}),
            )
        })
        .collect()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn header<'m>(m: &'m ConsumedMessage, name: &str) -> Option<&'m [u8]> {
    m.headers
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.as_deref())
}

/// Every message of a key is on the partition the Java client's partitioner picks for it, and a key's messages
/// come in step order.
pub(crate) fn check_partitions_and_order(messages: &[ConsumedMessage]) {
    let mut last_step: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for m in messages {
        let key = m.key.as_deref().expect("every message is keyed");
        assert_eq!(
            m.partition,
            partition_of(Some(key), 0, 0, PARTITIONS),
            "key {} is on the wrong partition",
            text(key)
        );
        let step: u64 = text(header(m, "sluice.step").unwrap()).parse().unwrap();
        let last = last_step.entry(key.to_vec()).or_default();
        assert!(
            step >= *last,
            "key {} went back from step {last} to {step}",
            text(key)
        );
        *last = step;
    }
}

/// The stats of output connector `name`, which must not have failed.
pub(crate) fn output<'s>(stats: &'s PipelineStats, name: &str) -> &'s OutputConnectorStats {
    let o = stats
        .outputs
        .iter()
        .find(|o| o.endpoint_name == name)
        .unwrap();
    assert_eq!(o.fatal_error, None);
    o
}

/// Messages acknowledged by output connector `name`, which must not have failed.
pub(crate) fn transmitted(stats: &PipelineStats, name: &str) -> usize {
    output(stats, name).transport.transmitted_messages as usize
}

/// Reads everything the pipeline sent to `topic` (at least `n` messages, all partitions to their end).
pub(crate) fn read_all(topic: &str, n: usize) -> Vec<ConsumedMessage> {
    let mut messages = read_topic(&brokers(), topic, n, TIMEOUT).unwrap();
    // read_topic returns partition by partition; within each partition the offsets give the order.
    messages.sort_by_key(|m| (m.partition, m.offset));
    messages
}

#[test]
fn upsert_and_debezium_on_six_partitions_fold_to_the_view() {
    let upsert_topic = TestTopic::new(&brokers(), "upsert", PARTITIONS);
    let debezium_topic = TestTopic::new(&brokers(), "debezium", PARTITIONS);
    let p = start(vec![
        (
            "upsert",
            connector(
                &upsert_topic.name,
                json!({"update_format": "upsert", "key_fields": ["k"], "system_headers": true}),
            ),
        ),
        (
            "debezium",
            connector(
                &debezium_topic.name,
                json!({"update_format": "debezium", "key_fields": ["k"], "json_flavor": "default",
                       "system_headers": true}),
            ),
        ),
    ]);
    let table = random_steps(&p, 7, 40);
    let stats = p.shutdown(TIMEOUT).unwrap();
    let expected = expected_view(&table);
    assert!(expected.len() > 3, "the random input leaves several groups");

    let sent = |name: &str| transmitted(&stats, name);

    // Upsert: the latest value per key, a tombstone forgetting the key: what log compaction keeps.
    let messages = read_all(&upsert_topic.name, sent("upsert"));
    assert_eq!(messages.len(), sent("upsert"));
    check_partitions_and_order(&messages);
    let mut compacted: BTreeMap<String, Json> = BTreeMap::new();
    let mut tombstones = 0;
    for m in &messages {
        let key = text(m.key.as_deref().unwrap());
        match &m.payload {
            Some(value) => {
                compacted.insert(key, serde_json::from_slice(value).unwrap());
            }
            None => {
                tombstones += 1;
                assert!(
                    compacted.remove(&key).is_some(),
                    "tombstone for absent key {key}"
                );
            }
        }
    }
    assert_eq!(compacted, expected);
    assert!(tombstones > 0, "the random input deletes whole groups");

    // Debezium: apply c/u/d to a table, checking each `before` against what the table holds.
    let messages = read_all(&debezium_topic.name, sent("debezium"));
    check_partitions_and_order(&messages);
    let (applied, ops) = apply_debezium(&messages);
    assert_eq!(applied, expected);
    assert!(
        ops.get("u") > Some(&0),
        "a group that changes is one u message"
    );
}

/// Applies Debezium messages (keyed by `k`, flavor `default`) to a table the way a JDBC sink would, checking each
/// `before` against what the table holds; returns the table and how many messages of each op came.
pub(crate) fn apply_debezium(
    messages: &[ConsumedMessage],
) -> (BTreeMap<String, Json>, BTreeMap<String, usize>) {
    let mut applied: BTreeMap<String, Json> = BTreeMap::new();
    let mut ops: BTreeMap<String, usize> = BTreeMap::new();
    for m in messages {
        let key = text(m.key.as_deref().unwrap());
        let key: Json = serde_json::from_str(&key).unwrap();
        let key = key["payload"].to_string();
        let Some(value) = &m.payload else {
            assert!(!applied.contains_key(&key), "tombstone follows the delete");
            continue;
        };
        let envelope: Json = serde_json::from_slice(value).unwrap();
        let payload = &envelope["payload"];
        assert_eq!(payload["source"]["table"], "totals");
        assert_eq!(payload["source"]["connector"], "sluice");
        let op = payload["op"].as_str().unwrap();
        *ops.entry(op.to_string()).or_default() += 1;
        match op {
            "c" | "r" => assert!(
                applied.insert(key, payload["after"].clone()).is_none(),
                "{op} of a key already there"
            ),
            "u" => {
                let old = applied.insert(key, payload["after"].clone());
                assert_eq!(old.as_ref(), Some(&payload["before"]));
            }
            "d" => assert_eq!(applied.remove(&key).as_ref(), Some(&payload["before"])),
            op => panic!("unexpected op {op}"),
        }
    }
    (applied, ops)
}

/// A key that nothing guarantees unique (not the view's GROUP BY columns, no index counting its rows) could repeat
/// unseen across steps: a connector that promises one row per key on it is refused at start, saying what to do;
/// with `enforce_unique_key: false` it starts.
#[test]
fn a_key_that_nothing_keeps_unique_is_refused_at_start() {
    let topic = TestTopic::new(&brokers(), "dupkey", PARTITIONS);
    for format in [
        json!({"update_format": "upsert", "key_fields": ["n"]}),
        json!({"update_format": "debezium", "key_fields": ["n"]}),
    ] {
        let e = try_start(vec![("by-count", connector(&topic.name, format))])
            .err()
            .expect("refused");
        assert!(
            matches!(&e, PipelineError::UniqueKey { connector, reason }
                if connector == "by-count"
                    && reason.contains(r#"format.config.key_fields ["n"] must name at most one row of view 'totals'"#)
                    && reason.contains("CREATE INDEX totals_key ON totals (n)")
                    && reason.contains("enforce_unique_key to false")),
            "{e}"
        );
    }
    let not_enforced = connector(
        &topic.name,
        json!({"update_format": "upsert", "key_fields": ["n"], "enforce_unique_key": false}),
    );
    drop(try_start(vec![("by-count", not_enforced)]).expect("the key is declared not unique"));
}

/// Keyed by an index, a connector refuses a key that an earlier step already gave a row (the engine counts the
/// rows per key of every index); so does one whose `key_fields` are exactly an index's columns. With
/// `enforce_unique_key: false` the last row of the key wins instead.
#[test]
fn an_index_key_given_a_second_row_in_a_later_step_fails_the_connector() {
    let topic = TestTopic::new(&brokers(), "dupindex", PARTITIONS);
    let mut by_index = connector(&topic.name, json!({"update_format": "upsert"}));
    by_index.index = Some("totals_by_total".into());
    let by_fields = connector(
        &topic.name,
        json!({"update_format": "upsert", "key_fields": ["total"]}),
    );
    let mut last_wins = connector(
        &topic.name,
        json!({"update_format": "upsert", "enforce_unique_key": false}),
    );
    last_wins.index = Some("totals_by_total".into());
    let p = start(vec![
        ("by_index", by_index),
        ("by_fields", by_fields),
        ("last_wins", last_wins),
    ]);
    step(&p, vec![(row(1, 10), 1)]);
    assert!(eventually(TIMEOUT, || p
        .stats()
        .outputs
        .iter()
        .all(|o| o.transport.transmitted_messages == 1)));
    // A group of its own, in a later step: a second row of the view with total = 10.
    step(&p, vec![(row(2, 10), 1)]);
    for o in 0..2 {
        assert!(eventually(TIMEOUT, || p.stats().outputs[o]
            .fatal_error
            .is_some()));
        let error = p.stats().outputs[o].fatal_error.clone().unwrap();
        // A refused step ends the connector: its health is failed with the same error.
        assert!(
            matches!(&p.stats().outputs[o].transport.health,
                sluice_transports::health::EndpointHealth::Failed { error: e, .. } if *e == error),
            "{:?}",
            p.stats().outputs[o].transport.health
        );
        assert!(
            error.contains(
                "view 'totals' has 2 rows with the key (total) = (10) of index 'totals_by_total'"
            ) && error.contains("nothing of the step was sent")
                && error.contains("enforce_unique_key"),
            "{error}"
        );
    }
    assert!(eventually(TIMEOUT, || p.stats().outputs[2]
        .transport
        .transmitted_messages
        == 2));
    assert_eq!(p.stats().outputs[2].fatal_error, None);
    drop(p);
    let mut values: Vec<String> = read_all(&topic.name, 4)
        .iter()
        .map(|m| m.payload_text())
        .collect();
    values.sort();
    assert_eq!(
        values,
        [
            r#"{"k":1,"total":10,"n":1}"#,
            r#"{"k":1,"total":10,"n":1}"#,
            r#"{"k":1,"total":10,"n":1}"#,
            r#"{"k":2,"total":10,"n":1}"#,
        ],
        "the enforcing connectors sent the first step only, the other both"
    );
}

#[test]
fn raw_output_needs_an_append_only_view_or_a_delete_policy() {
    let topic = TestTopic::new(&brokers(), "raw", 1);
    let csv_plain: ConnectorConfig = serde_json::from_value(json!({
        "transport": {"name": "kafka_output", "config": {"bootstrap.servers": brokers(), "topic": topic.name}},
        "format": {"name": "csv", "config": {"weight_column": false}}
    }))
    .unwrap();
    for (bad, what) in [
        (
            connector(&topic.name, json!({"update_format": "raw"})),
            "update_format 'raw'",
        ),
        (csv_plain, "weight_column false"),
    ] {
        let e = try_start(vec![("plain", bad)]).err().expect("refused");
        assert!(
            matches!(&e, PipelineError::PlainRows { connector, reason }
                if connector == "plain" && reason.contains(what)
                    && reason.contains("view 'totals' can delete rows")
                    && reason.contains("WITH ('append_only' = 'true')")
                    && reason.contains("on_delete")),
            "{e}"
        );
    }
    let marked = connector(
        &topic.name,
        json!({"update_format": "raw", "on_delete": "op_header"}),
    );
    drop(try_start(vec![("marked", marked)]).expect("deletes are marked, so it starts"));

    let p = try_start_on(
        "positive",
        vec![(
            "raw",
            connector(&topic.name, json!({"update_format": "raw"})),
        )],
    )
    .expect("an append-only view starts");
    p.ingest("log", vec![(row(1, 10), 1), (row(2, 0), 1)], 0, TIMEOUT)
        .unwrap();
    assert!(eventually(TIMEOUT, || p.stats().outputs[0]
        .transport
        .transmitted_messages
        == 1));
    let e = p
        .ingest("log", vec![(row(3, 30), 1), (row(1, 10), -1)], 0, TIMEOUT)
        .expect_err("a delete from an append-only table is refused");
    assert!(
        matches!(&e, PipelineError::InvalidRecords(m)
            if m.len() == 1 && m[0].starts_with("record 2: ") && m[0].contains("table log is append-only")),
        "{e}"
    );
    let stats = p.shutdown(TIMEOUT).unwrap();
    let messages = read_all(&topic.name, transmitted(&stats, "raw"));
    let payloads: Vec<String> = messages.iter().map(|m| m.payload_text()).collect();
    assert_eq!(
        payloads,
        [r#"{"k":1,"v":10}"#],
        "the refused batch left nothing"
    );
}

/// Feldera's way of naming a key: a connector's `index` names a `CREATE INDEX` on its view, whose columns key the
/// messages as `key_fields` would.
#[test]
fn an_index_keys_the_messages_like_key_fields() {
    let topic = TestTopic::new(&brokers(), "index", PARTITIONS);
    let mut config = connector(&topic.name, json!({"update_format": "upsert"}));
    // Unquoted, the name is case-insensitive, as in SQL.
    config.index = Some("Totals_By_K".into());
    let p = start(vec![("by_index", config.clone())]);
    step(&p, vec![(row(3, 10), 1), (row(4, 1), 1)]);
    let stats = p.shutdown(TIMEOUT).unwrap();
    let mut messages: Vec<(String, String)> =
        read_all(&topic.name, transmitted(&stats, "by_index"))
            .iter()
            .map(|m| (text(m.key.as_deref().unwrap()), m.payload_text()))
            .collect();
    messages.sort();
    assert_eq!(
        messages,
        vec![
            (r#"{"k":3}"#.into(), r#"{"k":3,"total":10,"n":1}"#.into()),
            (r#"{"k":4}"#.into(), r#"{"k":4,"total":1,"n":1}"#.into()),
        ]
    );

    // An index that does not exist, or that contradicts key_fields, fails the start naming the connector.
    let mut unknown = config.clone();
    unknown.index = Some("nope".into());
    let mut conflicting = connector(
        &topic.name,
        json!({"update_format": "upsert", "key_fields": ["n"]}),
    );
    conflicting.index = Some("totals_by_k".into());
    for (bad, says) in [
        (unknown, "index 'nope' is not declared"),
        (conflicting, "name different keys"),
    ] {
        let e = try_start(vec![("bad", bad)]).err().expect("refused");
        assert!(
            matches!(&e, PipelineError::Index { connector, reason } if connector == "bad" && reason.contains(says)),
            "{e}"
        );
    }
}
