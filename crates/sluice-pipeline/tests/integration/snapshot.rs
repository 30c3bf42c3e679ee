//! `send_snapshot` end to end against the real local broker: a connector added to a durable pipeline with state
//! first sends the view's contents (Debezium `r` rows), then its changes, and a consumer that applies them ends with
//! the view; the snapshot is sent once per config (not again at the next restart); a view that keeps no contents,
//! and exactly-once output, are refused at start naming the connector.
//! Enabled with `--features kafka-integration-tests` (`scripts/test.sh`).
#![cfg(feature = "kafka-integration-tests")]

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use sluice_pipeline::durable::{DurableConfig, ExactlyOnceConfig};
use sluice_pipeline::{ControllerConfig, OutputSpec, Pipeline, PipelineError, PipelineSpec};
use sluice_sql::Program;
use sluice_transports::testing::{brokers, TestTopic};
use sluice_types::ConnectorConfig;

use crate::keyed::{
    apply_debezium, check_partitions_and_order, connector, expected_view, more_random_steps,
    output, read_all, transmitted, Lcg, PARTITIONS, TIMEOUT,
};

const PROGRAM: &str = "
CREATE TABLE t (k BIGINT NOT NULL, v BIGINT NOT NULL);
CREATE MATERIALIZED VIEW totals AS SELECT k, SUM(v) AS total, COUNT(*) AS n FROM t GROUP BY k;
";

fn spec(program: &str, outputs: &[(&str, &ConnectorConfig)], state: &Path) -> PipelineSpec {
    PipelineSpec {
        name: "snap".into(),
        program: Program::compile(program).unwrap(),
        config: ControllerConfig::default(),
        inputs: Vec::new(),
        outputs: outputs
            .iter()
            .map(|(name, config)| OutputSpec {
                name: name.to_string(),
                view: "totals".into(),
                config: (*config).clone(),
            })
            .collect(),
        durable: Some(DurableConfig {
            state_dir: state.to_path_buf(),
            checkpoint_interval: Duration::from_secs(3600),
            program_fingerprint: "snapshot-test".into(),
            exactly_once: None,
        }),
    }
}

fn debezium_with_snapshot(topic: &str) -> ConnectorConfig {
    let mut c = connector(
        topic,
        json!({"update_format": "debezium", "key_fields": ["k"], "json_flavor": "default",
               "system_headers": true}),
    );
    c.send_snapshot = true;
    c
}

#[test]
fn a_connector_added_to_a_pipeline_with_state_sends_the_view_once_even_if_idle_then_its_changes() {
    let first_topic = TestTopic::new(&brokers(), "snap-first", PARTITIONS);
    let topic = TestTopic::new(&brokers(), "snap-added", PARTITIONS);
    let state = tempfile::tempdir().unwrap();
    let first = connector(&first_topic.name, json!({"update_format": "insert_delete"}));
    let added = debezium_with_snapshot(&topic.name);
    let mut rng = Lcg(11);
    let mut table = Vec::new();

    // A pipeline with state: 30 steps, then a clean stop (which checkpoints).
    let run = |outputs: &[(&str, &ConnectorConfig)],
               rng: &mut Lcg,
               table: &mut Vec<(i64, i64)>,
               steps: usize| {
        let p = Pipeline::start(spec(PROGRAM, outputs, state.path()), false).unwrap();
        more_random_steps(&p, rng, table, steps);
        p.shutdown(TIMEOUT).unwrap()
    };
    let both = [("first", &first), ("added", &added)];
    run(&[("first", &first)], &mut rng, &mut table, 30);
    let at_restart = expected_view(&table);
    assert!(at_restart.len() > 3, "the view has several rows to send");

    // The connector is added, and the pipeline stopped again without any input: the view's contents went out, and
    // the stop's checkpoint records them although nothing else changed.
    let stats = run(&both, &mut rng, &mut table, 0);
    assert_eq!(
        output(&stats, "added").snapshot_records as usize,
        at_restart.len()
    );
    let snapshot_messages = transmitted(&stats, "added");

    // Once per stream: the next start sends no snapshot, only the changes of 10 more steps.
    let stats = run(&both, &mut rng, &mut table, 10);
    assert_eq!(output(&stats, "added").snapshot_records, 0);
    let sent = snapshot_messages + transmitted(&stats, "added");
    let messages = read_all(&topic.name, sent);
    assert_eq!(messages.len(), sent);
    check_partitions_and_order(&messages);
    // In every partition the `r` rows come first.
    for partition in 0..PARTITIONS {
        let ops: Vec<bool> = messages
            .iter()
            .filter(|m| m.partition == partition && m.payload.is_some())
            .map(|m| {
                let v: serde_json::Value =
                    serde_json::from_slice(m.payload.as_ref().unwrap()).unwrap();
                v["payload"]["op"] == "r"
            })
            .collect();
        assert!(
            ops.windows(2).all(|w| w[0] || !w[1]),
            "partition {partition}: an r row after a change"
        );
    }
    let (applied, ops) = apply_debezium(&messages);
    assert_eq!(ops.get("r"), Some(&at_restart.len()), "{ops:?}");
    assert_eq!(applied, expected_view(&table));
}

#[test]
fn send_snapshot_of_a_view_without_contents_or_with_exactly_once_is_refused_at_start() {
    let state = tempfile::tempdir().unwrap();
    let added = debezium_with_snapshot("snap-refused");
    let plain = PROGRAM.replace("MATERIALIZED ", "");
    let e = Pipeline::start(spec(&plain, &[("added", &added)], state.path()), false)
        .err()
        .expect("refused");
    assert!(
        matches!(&e, PipelineError::Snapshot { connector, reason }
            if connector == "added" && reason.contains("CREATE MATERIALIZED VIEW")),
        "{e}"
    );

    let mut eo = spec(PROGRAM, &[("added", &added)], state.path());
    eo.durable.as_mut().unwrap().exactly_once = Some(ExactlyOnceConfig {
        scope: "snapshot-test".into(),
    });
    let e = Pipeline::start(eo, false).err().expect("refused");
    assert!(
        matches!(&e, PipelineError::Snapshot { connector, reason }
            if connector == "added" && reason.contains("exactly_once")),
        "{e}"
    );
}
