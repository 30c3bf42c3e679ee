//! Snapshots of materialized views: the whole contents, streamed in chunks, equal to the sum of every delta so
//! far, before and after a restore; the snapshot's step disturbs nothing that follows.

use std::collections::BTreeMap;

use crate::common::{apply, Bag};
use crate::engine::{run, workload, PROGRAM};
use sluice_engine::{Engine, EngineConfig, EngineError};
use sluice_sql::Program;

/// The engine tests' program with two of its views materialized.
fn program() -> Program {
    let sql = PROGRAM
        .replace("CREATE VIEW per_cat", "CREATE MATERIALIZED VIEW per_cat")
        .replace("CREATE VIEW labelled", "CREATE MATERIALIZED VIEW labelled");
    Program::compile(&sql).unwrap()
}

/// Every view's contents after `deltas`: the sum of its deltas.
fn contents(deltas: &[BTreeMap<String, Bag>]) -> BTreeMap<String, Bag> {
    let mut out: BTreeMap<String, Bag> = BTreeMap::new();
    for step in deltas {
        for (view, bag) in step {
            let delta: Vec<_> = bag.iter().map(|(r, w)| (r.clone(), *w)).collect();
            apply(out.entry(view.clone()).or_default(), &delta);
        }
    }
    out
}

/// Takes a snapshot of `views` in chunks of `chunk` rows; checks the chunk sizes and that the step changed nothing.
fn snapshot(engine: &mut Engine, views: &[&str], chunk: usize) -> BTreeMap<String, Bag> {
    let mut got: BTreeMap<String, Bag> = BTreeMap::new();
    let mut s = engine.snapshot(views, chunk).unwrap();
    for (view, rows) in s.by_ref() {
        assert!(!rows.is_empty() && rows.len() <= chunk, "{}", rows.len());
        assert!(rows.iter().all(|(_, w)| *w > 0), "{rows:?}");
        apply(got.entry(view).or_default(), &rows);
    }
    let deltas = s.finish().unwrap();
    assert!(deltas.values().all(|d| d.is_empty()), "{deltas:?}");
    got
}

#[test]
fn a_snapshot_is_the_sum_of_the_deltas_and_survives_a_restore() {
    let steps = workload(23, 12);
    let program = program();
    let mut straight = Engine::start(program.clone(), EngineConfig::with_workers(2)).unwrap();
    let expected = run(&mut straight, &steps);

    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        workers: 2,
        storage: Some(dir.path().to_path_buf()),
    };
    let mut engine = Engine::start(program.clone(), config.clone()).unwrap();
    let mut got = run(&mut engine, &steps[..6]);
    let views = ["per_cat", "labelled"];
    let want = |upto: usize| -> BTreeMap<String, Bag> {
        contents(&expected[..upto])
            .into_iter()
            .filter(|(v, b)| views.contains(&v.as_str()) && !b.is_empty())
            .collect()
    };
    assert!(want(6)["labelled"].len() > 3, "chunks of 3 rows are tested");
    assert_eq!(snapshot(&mut engine, &views, 3), want(6));
    got.extend(run(&mut engine, &steps[6..9]));
    let saved = engine.checkpoint().unwrap();
    drop(engine);

    let mut restored = Engine::restore(program, config, &saved).unwrap();
    assert_eq!(snapshot(&mut restored, &views, 1000), want(9));
    got.extend(run(&mut restored, &steps[9..]));
    // Neither snapshot step changed a delta of the steps around it.
    assert_eq!(got, expected);
}

#[test]
fn only_materialized_views_give_snapshots() {
    let mut engine = Engine::start(program(), EngineConfig::with_workers(1)).unwrap();
    engine.step().unwrap();
    assert!(matches!(
        engine.snapshot(&["top2"], 10).err(),
        Some(EngineError::NotMaterialized(v)) if v == "top2"
    ));
    assert!(matches!(
        engine.snapshot(&["nope"], 10).err(),
        Some(EngineError::UnknownView(v)) if v == "nope"
    ));
}

#[test]
fn a_snapshot_before_the_first_step_is_empty_and_the_first_step_still_counts_the_empty_input() {
    let mut engine = Engine::start(program(), EngineConfig::with_workers(1)).unwrap();
    assert_eq!(snapshot(&mut engine, &["per_cat"], 10), BTreeMap::new());
    // `total` is a global aggregate: its row for empty input comes from the first step.
    let first = engine.step().unwrap();
    assert_eq!(first["total"].len(), 1, "{first:?}");
}
