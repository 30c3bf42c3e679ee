//! Engine behaviour: workers, checkpoints, primary keys, validation, schema.

use std::collections::BTreeMap;

use crate::common::{apply, random_row, Bag, Harness};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sluice_data::{Delta, Row, SqlType, Value};
use sluice_engine::{DuplicateKey, Engine, EngineCheckpoint, EngineConfig, EngineError};
use sluice_sql::Program;

pub(crate) const PROGRAM: &str = "
CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, cat VARCHAR, amount DECIMAL(10,2));
CREATE TABLE cats (cat VARCHAR, label VARCHAR);
CREATE VIEW per_cat AS SELECT cat, SUM(amount) AS total, COUNT(*) AS n FROM orders GROUP BY cat;
CREATE VIEW labelled AS SELECT o.id, c.label FROM orders o LEFT JOIN cats c ON o.cat = c.cat;
CREATE VIEW top2 AS SELECT id, amount FROM orders ORDER BY amount DESC, id LIMIT 2;
CREATE VIEW total AS SELECT COUNT(*) AS n, SUM(amount) AS s FROM orders;
";

fn row(values: Vec<Value>) -> Row {
    Row(values)
}

fn dec(s: &str) -> Value {
    Value::Decimal(s.parse().unwrap())
}

/// One step's input: a batch of weighted rows per table.
pub(crate) type StepInput = Vec<(&'static str, Vec<(Row, i64)>)>;

/// A deterministic random workload: (table, rows) batches per step.
pub(crate) fn workload(seed: u64, steps: usize) -> Vec<StepInput> {
    let program = Program::compile(PROGRAM).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut cats_present: Vec<Row> = Vec::new();
    (0..steps)
        .map(|_| {
            let orders: Vec<(Row, i64)> = (0..rng.random_range(1..30))
                .map(|_| {
                    let r = random_row(&mut rng, &program.tables[0].relation);
                    (r, if rng.random_bool(0.2) { -1 } else { 1 })
                })
                .collect();
            let mut cats: Vec<(Row, i64)> = (0..rng.random_range(0..3))
                .map(|_| (random_row(&mut rng, &program.tables[1].relation), 1))
                .collect();
            if !cats_present.is_empty() && rng.random_bool(0.3) {
                cats.push((cats_present.remove(0), -1));
            }
            cats_present.extend(cats.iter().filter(|(_, w)| *w > 0).map(|(r, _)| r.clone()));
            vec![("orders", orders), ("cats", cats)]
        })
        .collect()
}

pub(crate) fn run(engine: &mut Engine, steps: &[StepInput]) -> Vec<BTreeMap<String, Bag>> {
    steps
        .iter()
        .map(|batches| {
            for (t, rows) in batches {
                engine.push(t, rows.clone()).unwrap();
            }
            let deltas = engine.step().unwrap();
            deltas
                .into_iter()
                .map(|(v, d)| (v, consolidate(&d)))
                .collect()
        })
        .collect()
}

fn consolidate(d: &Delta) -> Bag {
    let mut b = Bag::new();
    apply(&mut b, d);
    b
}

#[test]
fn one_and_several_workers_give_identical_deltas() {
    let steps = workload(7, 12);
    let program = Program::compile(PROGRAM).unwrap();
    let mut one = Engine::start(program.clone(), EngineConfig::with_workers(1)).unwrap();
    let expected = run(&mut one, &steps);
    for workers in [2, 3] {
        let mut many = Engine::start(program.clone(), EngineConfig::with_workers(workers)).unwrap();
        assert_eq!(run(&mut many, &steps), expected, "{workers} workers");
    }
}

#[test]
fn restore_then_continue_equals_never_stopping() {
    let steps = workload(11, 10);
    let program = Program::compile(PROGRAM).unwrap();
    let mut straight = Engine::start(program.clone(), EngineConfig::with_workers(2)).unwrap();
    let expected = run(&mut straight, &steps);

    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        workers: 2,
        storage: Some(dir.path().to_path_buf()),
    };
    let mut first = Engine::start(program.clone(), config.clone()).unwrap();
    let mut got = run(&mut first, &steps[..5]);
    let saved = first.checkpoint().unwrap();
    // Steps after the checkpoint are lost when the process stops; restore must not see them.
    run(&mut first, &steps[5..7]);
    drop(first);
    let mut restored = Engine::restore(program, config, &saved).unwrap();
    got.extend(run(&mut restored, &steps[5..]));
    assert_eq!(got, expected);
}

/// A pipeline makes a checkpoint its restart point only once its outputs acknowledged everything before it, so
/// it may restore a checkpoint older than the newest, from the value it stored (here through JSON, as it does);
/// and checkpoints it no longer needs are deleted from the storage directory.
#[test]
fn an_older_checkpoint_restores_and_the_unneeded_ones_are_removed() {
    let steps = workload(5, 10);
    let program = Program::compile(PROGRAM).unwrap();
    let mut straight = Engine::start(program.clone(), EngineConfig::with_workers(1)).unwrap();
    let expected = run(&mut straight, &steps);

    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        workers: 1,
        storage: Some(dir.path().to_path_buf()),
    };
    let checkpoint_dirs = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.parse::<uuid::Uuid>().is_ok())
            .count()
    };
    let mut first = Engine::start(program.clone(), config.clone()).unwrap();
    let mut got = run(&mut first, &steps[..3]);
    let stored = serde_json::to_string(&first.checkpoint().unwrap()).unwrap();
    for i in 3..6 {
        run(&mut first, &steps[i..i + 1]);
        first.checkpoint().unwrap();
    }
    assert_eq!(checkpoint_dirs(), 4);
    let oldest: EngineCheckpoint = serde_json::from_str(&stored).unwrap();
    first.remove_checkpoints_except(&[&oldest]).unwrap();
    // The one kept, and dbsp's floor of the two newest: the second is gone.
    assert_eq!(checkpoint_dirs(), 3);
    drop(first);

    let mut restored = Engine::restore(program, config, &oldest).unwrap();
    got.extend(run(&mut restored, &steps[3..]));
    assert_eq!(got, expected);
}

/// A keyed table's rows are saved next to the checkpoint; NaN and infinities among them must come back (JSON
/// has no number for them), and a later upsert must still replace the restored row.
#[test]
fn keyed_rows_with_nan_and_infinity_survive_restore() {
    let program = Program::compile(
        "CREATE TABLE m (id INT NOT NULL PRIMARY KEY, x DOUBLE, y REAL);
         CREATE VIEW v AS SELECT * FROM m;",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        storage: Some(dir.path().to_path_buf()),
        ..EngineConfig::with_workers(1)
    };
    let nan_row = row(vec![
        Value::Int(1),
        Value::Double(sluice_data::F64(f64::NAN)),
        Value::Real(sluice_data::F32(f32::INFINITY)),
    ]);
    let mut first = Engine::start(program.clone(), config.clone()).unwrap();
    first.upsert("m", vec![nan_row.clone()]).unwrap();
    first.step().unwrap();
    let saved = first.checkpoint().unwrap();
    drop(first);
    let mut restored = Engine::restore(program, config, &saved).unwrap();
    let replacement = row(vec![
        Value::Int(1),
        Value::Double(sluice_data::F64(2.0)),
        Value::Null,
    ]);
    restored.upsert("m", vec![replacement.clone()]).unwrap();
    let d = consolidate(&restored.step().unwrap()["v"]);
    let want: Bag = [(nan_row, -1), (replacement, 1)].into_iter().collect();
    assert_eq!(d, want);
}

/// A key given in another integer width or decimal scale than the column's still finds its row: keys are
/// normalised like rows before the lookup.
#[test]
fn delete_by_key_normalises_the_key_like_a_row() {
    let program = Program::compile(
        "CREATE TABLE p (id INT NOT NULL, price DECIMAL(10,2) NOT NULL, name VARCHAR, PRIMARY KEY (id, price));
         CREATE VIEW v AS SELECT * FROM p;",
    )
    .unwrap();
    let mut e = Engine::start(program, EngineConfig::with_workers(1)).unwrap();
    let stored = row(vec![Value::Int(1), dec("2.50"), "a".into()]);
    e.upsert("p", vec![stored.clone()]).unwrap();
    e.step().unwrap();
    // BIGINT 1 for the INT column, 2.5 at scale 1 for the DECIMAL(10,2) column.
    e.delete_by_key("p", vec![row(vec![Value::BigInt(1), dec("2.5")])])
        .unwrap();
    let d = e.step().unwrap();
    assert_eq!(d["v"], vec![(stored, -1)]);
}

#[test]
fn primary_key_insert_replaces_and_delete_by_key_removes() {
    let program = Program::compile(PROGRAM).unwrap();
    let mut e = Engine::start(program, EngineConfig::with_workers(1)).unwrap();
    e.upsert(
        "orders",
        vec![row(vec![Value::Int(1), "a".into(), dec("5.00")])],
    )
    .unwrap();
    let d = e.step().unwrap();
    assert_eq!(
        d["per_cat"],
        vec![(row(vec!["a".into(), dec("5.00"), Value::BigInt(1)]), 1)]
    );
    // Same key again: the old row is replaced, not added.
    e.push(
        "orders",
        vec![(row(vec![Value::Int(1), "a".into(), dec("7.50")]), 1)],
    )
    .unwrap();
    let d = consolidate(&e.step().unwrap()["per_cat"]);
    let want: Bag = [
        (row(vec!["a".into(), dec("5.00"), Value::BigInt(1)]), -1),
        (row(vec!["a".into(), dec("7.50"), Value::BigInt(1)]), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(d, want);
    e.delete_by_key("orders", vec![row(vec![Value::Int(1)])])
        .unwrap();
    let d = e.step().unwrap();
    assert_eq!(
        d["per_cat"],
        vec![(row(vec!["a".into(), dec("7.50"), Value::BigInt(1)]), -1)]
    );
    assert_eq!(
        consolidate(&d["total"]),
        [
            (row(vec![Value::BigInt(1), dec("7.50")]), -1),
            (row(vec![Value::BigInt(0), Value::Null]), 1)
        ]
        .into_iter()
        .collect::<Bag>()
    );
}

#[test]
fn invalid_rows_are_rejected_with_table_column_and_value() {
    let program = Program::compile(PROGRAM).unwrap();
    let mut e = Engine::start(program, EngineConfig::with_workers(1)).unwrap();
    let err = e
        .push(
            "orders",
            vec![(row(vec![Value::Null, "a".into(), dec("1")]), 1)],
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("orders") && msg.contains("column id") && msg.contains("NULL"),
        "{msg}"
    );
    let err = e
        .push("cats", vec![(row(vec![Value::Int(3), "x".into()]), 1)])
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("cats") && msg.contains("column cat") && msg.contains('3'),
        "{msg}"
    );
    assert!(matches!(
        e.push("cats", vec![(row(vec![]), 1)]),
        Err(EngineError::Arity { .. })
    ));
    assert!(matches!(
        e.push("nope", vec![]),
        Err(EngineError::UnknownTable(_))
    ));
    assert!(matches!(
        e.upsert("cats", vec![]),
        Err(EngineError::NoPrimaryKey(_))
    ));
    // Nothing of a rejected batch was applied.
    let d = e.step().unwrap();
    assert!(d.values().all(|delta| delta
        .iter()
        .all(|(r, _)| r.0 == vec![Value::BigInt(0), Value::Null])));
}

/// A push with an invalid row after valid ones applies none of them, with or without a primary key, while the
/// changes of earlier pushes stay pending.
#[test]
fn a_rejected_push_takes_back_its_valid_rows() {
    let program = Program::compile(
        "CREATE TABLE plain (a INT NOT NULL);
         CREATE TABLE keyed (a INT NOT NULL PRIMARY KEY);
         CREATE VIEW both_tables AS SELECT a FROM plain UNION ALL SELECT a FROM keyed;",
    )
    .unwrap();
    let mut e = Engine::start(program, EngineConfig::with_workers(1)).unwrap();
    let int = |i| row(vec![Value::Int(i)]);
    for table in ["plain", "keyed"] {
        e.push(table, vec![(int(1), 1)]).unwrap();
        let err = e
            .push(
                table,
                vec![(int(2), 1), (int(3), 1), (row(vec![Value::Null]), 1)],
            )
            .unwrap_err();
        assert!(err.to_string().contains("NULL"), "{err}");
    }
    let d = e.step().unwrap();
    assert_eq!(
        consolidate(&d["both_tables"]),
        [(int(1), 2)].into_iter().collect::<Bag>()
    );
}

/// Division by zero, a failed CAST and a DECIMAL overflow yield NULL instead of failing the view, so the
/// columns they feed must be nullable even over NOT NULL inputs; columns they cannot reach stay NOT NULL. Every
/// row the view emits is checked against the schema it reports.
#[test]
fn columns_that_can_yield_null_are_nullable_and_rows_obey_the_schema() {
    let program = Program::compile(
        "CREATE TABLE t (a INT NOT NULL, b INT NOT NULL, s VARCHAR NOT NULL, d DECIMAL(4,2) NOT NULL);
         CREATE VIEW v AS SELECT a / b AS q, a + b AS r, CAST(s AS INT) AS c, CAST(a AS BIGINT) AS w,
                                 d * d AS dd, a % b AS m FROM t;
         CREATE VIEW v2 AS SELECT q + 1 AS q1, r * 2 AS r2 FROM v;
         CREATE VIEW v3 AS SELECT a, SUM(a / b) AS s, COUNT(a / b) AS n FROM t GROUP BY a;",
    )
    .unwrap();
    let nullable = |view: &str| -> Vec<(String, bool)> {
        let v = program
            .views
            .iter()
            .find(|v| v.relation.name == view)
            .unwrap();
        v.relation
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.nullable))
            .collect()
    };
    let flags = |pairs: &[(&str, bool)]| -> Vec<(String, bool)> {
        pairs.iter().map(|(n, b)| (n.to_string(), *b)).collect()
    };
    assert_eq!(
        nullable("v"),
        flags(&[
            ("q", true),
            ("r", false),
            ("c", true),
            ("w", false),
            ("dd", true),
            ("m", true)
        ])
    );
    assert_eq!(nullable("v2"), flags(&[("q1", true), ("r2", false)]));
    assert_eq!(
        nullable("v3"),
        flags(&[("a", false), ("s", true), ("n", false)])
    );
    let mut e = Engine::start(program.clone(), EngineConfig::with_workers(1)).unwrap();
    e.push(
        "t",
        vec![(
            row(vec![Value::Int(7), Value::Int(0), "x".into(), dec("99.99")]),
            1,
        )],
    )
    .unwrap();
    let deltas = e.step().unwrap();
    for v in &program.views {
        let rows = &deltas[&v.relation.name];
        assert!(!rows.is_empty(), "view {} emitted nothing", v.relation.name);
        for (r, _) in rows {
            for (f, value) in v.relation.fields.iter().zip(r.values()) {
                assert!(
                    f.nullable || !value.is_null(),
                    "view {} emitted NULL in NOT NULL column {}: {r}",
                    v.relation.name,
                    f.name
                );
            }
        }
    }
    // The division really did yield NULL: the schema change above is needed, not merely allowed.
    assert!(deltas["v"][0].0.values()[0].is_null());
}

#[test]
fn schema_reports_types_nullability_and_identifier_case() {
    let program = Program::compile(
        "CREATE TABLE Items (ID INT NOT NULL PRIMARY KEY, \"Name\" VARCHAR(20), price DECIMAL(8,3),
                             c CHAR(2), seen TIMESTAMP, raw BYTEA);
         CREATE VIEW Totals AS SELECT \"Name\", SUM(price) AS Total, COUNT(*) AS n FROM items GROUP BY \"Name\";",
    )
    .unwrap();
    let t = &program.tables[0];
    assert_eq!(t.relation.name, "items");
    let names: Vec<&str> = t.relation.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["id", "Name", "price", "c", "seen", "raw"]);
    assert!(!t.relation.fields[0].nullable && t.relation.fields[1].nullable);
    assert_eq!(
        t.relation.fields[1].sql_type,
        SqlType::Varchar { length: Some(20) }
    );
    assert_eq!(
        t.relation.fields[2].sql_type,
        SqlType::Decimal {
            precision: 8,
            scale: 3
        }
    );
    assert_eq!(
        t.relation.fields[3].sql_type,
        SqlType::Char { length: Some(2) }
    );
    assert_eq!(
        t.relation.fields[5].sql_type,
        SqlType::Varbinary { length: None }
    );
    assert_eq!(t.primary_key, vec![0]);
    let v = &program.views[0];
    assert_eq!(v.relation.name, "totals");
    let cols: Vec<(&str, &SqlType, bool)> = v
        .relation
        .fields
        .iter()
        .map(|f| (f.name.as_str(), &f.sql_type, f.nullable))
        .collect();
    assert_eq!(cols[0].0, "Name");
    assert_eq!(cols[1].0, "total");
    assert!(matches!(cols[1].1, SqlType::Decimal { scale: 3, .. }));
    assert_eq!(cols[2], ("n", &SqlType::BigInt, false));
}

#[test]
fn every_type_round_trips_through_a_view_with_nulls() {
    let sql = "CREATE TABLE all_types (b BOOLEAN, ti TINYINT, si SMALLINT, i INTEGER, bi BIGINT, r REAL,
                 d DOUBLE, dec DECIMAL(12,4), c CHAR(3), vc VARCHAR, tx TEXT, st STRING, dt DATE, tm TIME,
                 ts TIMESTAMP, vb VARBINARY, by BYTEA, nn INT NOT NULL);
               CREATE VIEW copy AS SELECT * FROM all_types;
               CREATE VIEW counts AS SELECT COUNT(b) AS b, COUNT(tm) AS tm, COUNT(vb) AS vb, COUNT(*) AS n
                 FROM all_types;";
    let mut h = Harness::new(sql, 1);
    let mut rng = StdRng::seed_from_u64(3);
    for step in 0..4 {
        let relation = h.program.tables[0].relation.clone();
        let rows = (0..8)
            .map(|_| (random_row(&mut rng, &relation), 1))
            .collect();
        h.push("all_types", rows);
        h.step_and_check(&format!("step {step}"));
    }
}

#[test]
fn checkpoint_without_storage_is_an_error() {
    let program = Program::compile(PROGRAM).unwrap();
    let mut e = Engine::start(program, EngineConfig::with_workers(1)).unwrap();
    assert!(matches!(e.checkpoint(), Err(EngineError::Checkpoint(_))));
}

#[test]
fn engine_can_be_started_used_and_dropped_inside_an_async_task() {
    // dbsp's runtime panics when created or dropped inside a tokio context; the engine keeps it on its own thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let total = rt.block_on(async {
        let program = Program::compile(PROGRAM).unwrap();
        let mut e = Engine::start(program, EngineConfig::with_workers(2)).unwrap();
        e.upsert(
            "orders",
            vec![row(vec![Value::Int(1), "a".into(), dec("2.50")])],
        )
        .unwrap();
        let d = e.step().unwrap();
        drop(e);
        consolidate(&d["total"])
    });
    let want: Bag = [(row(vec![Value::BigInt(1), dec("2.50")]), 1)]
        .into_iter()
        .collect();
    assert_eq!(total, want);
}

/// An append-only table takes inserts; a batch with a delete is refused whole, naming the table and the row, and the
/// view over it only ever gains rows.
#[test]
fn an_append_only_table_refuses_deletes() {
    let program = Program::compile(
        "CREATE TABLE log (id INT NOT NULL, s VARCHAR) WITH ('append_only' = 'true');\n\
         CREATE VIEW named AS SELECT id, s FROM log WHERE s IS NOT NULL;",
    )
    .unwrap();
    assert!(program.view("named").unwrap().append_only);
    let mut e = Engine::start(program, EngineConfig::with_workers(1)).unwrap();
    let r = |id: i32| row(vec![Value::Int(id), Value::String(format!("s{id}"))]);
    e.push("log", vec![(r(1), 1), (r(2), 2)]).unwrap();
    let refused = e.push("log", vec![(r(3), 1), (r(1), -1)]);
    assert!(
        matches!(&refused, Err(EngineError::AppendOnly { table, row }) if table == "log" && row.contains("s1")),
        "{refused:?}"
    );
    let mut d = e.step().unwrap().remove("named").unwrap();
    d.sort();
    assert_eq!(
        d,
        vec![(r(1), 1), (r(2), 2)],
        "nothing of the refused batch"
    );
}

/// An index's keys with more than one row are reported after the step that gives them the extra row, also when the
/// rows came in different steps and across a checkpoint and restore (the count per key is part of the state).
#[test]
fn duplicate_index_keys_are_counted_across_steps_and_restarts() {
    let sql = "CREATE TABLE t (id INT NOT NULL, k INT);\n\
               CREATE VIEW v AS SELECT id, k FROM t;\n\
               CREATE INDEX v_by_k ON v (k);";
    let r = |id: i32, k: Option<i32>| row(vec![Value::Int(id), k.map_or(Value::Null, Value::Int)]);
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        workers: 2,
        storage: Some(dir.path().to_path_buf()),
    };
    let mut e = Engine::start(Program::compile(sql).unwrap(), config.clone()).unwrap();
    e.push("t", vec![(r(1, Some(7)), 1), (r(2, None), 1)])
        .unwrap();
    e.step().unwrap();
    assert_eq!(e.duplicate_keys(), []);
    let saved = e.checkpoint().unwrap();
    drop(e);

    let mut e = Engine::restore(Program::compile(sql).unwrap(), config, &saved).unwrap();
    // A second row for key 7, in a step of its own after the restore; NULL keys count as one key too.
    e.push("t", vec![(r(3, Some(7)), 1), (r(4, Some(8)), 1)])
        .unwrap();
    e.step().unwrap();
    let dup = |key: Value, rows: i64| DuplicateKey {
        index: "v_by_k".into(),
        view: "v".into(),
        key: row(vec![key]),
        rows,
    };
    assert_eq!(e.duplicate_keys(), [dup(Value::Int(7), 2)]);
    e.push("t", vec![(r(5, Some(7)), 1), (r(6, None), 1)])
        .unwrap();
    e.step().unwrap();
    let mut found = e.duplicate_keys().to_vec();
    found.sort_by_key(|d| d.rows);
    assert_eq!(found, [dup(Value::Null, 2), dup(Value::Int(7), 3)]);
    // Back to one row per key: nothing to report, and a step that does not touch a duplicated key reports nothing.
    e.push(
        "t",
        vec![(r(5, Some(7)), -1), (r(3, Some(7)), -1), (r(6, None), -1)],
    )
    .unwrap();
    e.step().unwrap();
    assert_eq!(e.duplicate_keys(), []);
    e.push("t", vec![(r(9, Some(9)), 1)]).unwrap();
    e.step().unwrap();
    assert_eq!(e.duplicate_keys(), []);
}

/// TUMBLE and HOP put each row in the windows Feldera's semantics give (checked against values worked out by hand,
/// not against DataFusion replaying the rewritten query): a tumbling hour offset by 15 minutes, and 30-minute
/// windows every 20 minutes (one or two per row); a NULL time is in no window.
#[test]
fn tumble_and_hop_put_rows_in_the_right_windows() {
    let program = Program::compile(
        "CREATE TABLE e (id INT NOT NULL, ts TIMESTAMP);
         CREATE VIEW tumbling AS SELECT id, window_start, window_end
            FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '15' MINUTE));
         CREATE VIEW hopping AS SELECT id, window_start, window_end
            FROM TABLE(HOP(TABLE e, DESCRIPTOR(ts), INTERVAL '20' MINUTE, INTERVAL '30' MINUTE));",
    )
    .unwrap();
    let minute = 60_000_000i64;
    let at = |m: i64| Value::Timestamp(m * minute);
    let mut e = Engine::start(program, EngineConfig::with_workers(1)).unwrap();
    e.push(
        "e",
        vec![
            (row(vec![Value::Int(1), at(10)]), 1),
            (row(vec![Value::Int(2), at(75)]), 1),
            (row(vec![Value::Int(3), at(45)]), 1),
            (row(vec![Value::Int(4), Value::Null]), 1),
        ],
    )
    .unwrap();
    let d = e.step().unwrap();
    let window = |id: i32, from: i64, to: i64| (row(vec![Value::Int(id), at(from), at(to)]), 1);
    // Hours from :15: minute 10 is in [-45, 15), 45 in [15, 75), 75 in [75, 135).
    let tumbling: Bag = [window(1, -45, 15), window(2, 75, 135), window(3, 15, 75)]
        .into_iter()
        .collect();
    assert_eq!(consolidate(&d["tumbling"]), tumbling);
    // Windows start every 20 minutes from :00; [s, s + 30) holds the rows with s <= ts < s + 30, so minute 10 is in
    // [0, 30) only ([-20, 10) ends before it), minute 45 in [20, 50) and [40, 70).
    let hopping: Bag = [
        window(1, 0, 30),
        window(2, 60, 90),
        window(3, 20, 50),
        window(3, 40, 70),
    ]
    .into_iter()
    .collect();
    assert_eq!(consolidate(&d["hopping"]), hopping);
}
