//! Differential-test harness: the engine's accumulated view contents against DataFusion executing the same
//! view over the current table contents.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sluice_data::{Delta, Relation, Row, SqlType, Value, F32, F64};
use sluice_engine::{Engine, EngineConfig};
use sluice_sql::Program;

/// A multiset of rows.
pub type Bag = BTreeMap<Row, i64>;

/// Adds a delta to a bag, dropping rows whose count reaches zero.
pub fn apply(bag: &mut Bag, delta: &Delta) {
    for (r, w) in delta {
        let e = bag.entry(r.clone()).or_insert(0);
        *e += w;
        if *e == 0 {
            bag.remove(r);
        }
    }
}

/// Engine plus mirror of the table contents plus the accumulated view contents.
pub struct Harness {
    pub engine: Engine,
    pub program: Program,
    pub tables: Vec<Bag>,
    pub views: HashMap<String, Bag>,
    /// The test's own model of `LATENESS`: per (table, column, lateness), the largest time admitted and the
    /// waterline in force. Only admitted changes reach the mirror, so DataFusion sees what the engine keeps.
    lateness: Vec<LatenessModel>,
    /// For `emit_final` views: a row whose column value is this far behind every waterline must have come out
    /// (the test's own bound on how long a window can stay open; `None` checks only what came out).
    pub final_within: Option<i64>,
    rt: tokio::runtime::Runtime,
}

/// One lateness column as the harness models it (see [`Harness::push`]).
struct LatenessModel {
    table: usize,
    column: usize,
    amount: i64,
    max: Option<i64>,
    waterline: Option<i64>,
}

/// A lateness column's value in its unit (TIMESTAMP microseconds, DATE days, integers), `None` for NULL.
fn time_of(v: &Value) -> Option<i64> {
    match v {
        Value::Timestamp(x) | Value::BigInt(x) => Some(*x),
        Value::Date(x) | Value::Int(x) => Some(i64::from(*x)),
        _ => None,
    }
}

impl Harness {
    pub fn new(sql: &str, workers: usize) -> Harness {
        let program = Program::compile(sql).unwrap_or_else(|e| panic!("{e}"));
        let engine =
            Engine::start(program.clone(), EngineConfig::with_workers(workers)).expect("start");
        Self::with_engine(program, engine)
    }

    pub fn with_engine(program: Program, engine: Engine) -> Harness {
        let tables = vec![Bag::new(); program.tables.len()];
        let views = program
            .views
            .iter()
            .map(|v| (v.relation.name.clone(), Bag::new()))
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio");
        let lateness = program
            .tables
            .iter()
            .enumerate()
            .flat_map(|(table, def)| {
                def.lateness.iter().map(move |l| LatenessModel {
                    table,
                    column: l.column,
                    amount: l.amount,
                    max: None,
                    waterline: None,
                })
            })
            .collect();
        Harness {
            engine,
            program,
            tables,
            views,
            lateness,
            final_within: None,
            rt,
        }
    }

    fn table_index(&self, name: &str) -> usize {
        self.program
            .tables
            .iter()
            .position(|t| t.relation.name == name)
            .expect("table")
    }

    /// Pushes changes to a table without a primary key and mirrors the ones on time: a change is late when a
    /// lateness column's value is below the waterline in force (the largest value admitted before this step, less
    /// the lateness); the engine drops those.
    pub fn push(&mut self, table: &str, rows: Vec<(Row, i64)>) {
        let t = self.table_index(table);
        assert!(self.program.tables[t].primary_key.is_empty());
        self.engine.push(table, rows.clone()).expect("push");
        let on_time: Vec<(Row, i64)> = rows
            .into_iter()
            .filter(|(r, _)| {
                !self.lateness.iter().any(|m| {
                    m.table == t
                        && matches!((m.waterline, time_of(&r.0[m.column])), (Some(w), Some(v)) if v < w)
                })
            })
            .collect();
        for m in self.lateness.iter_mut().filter(|m| m.table == t) {
            for (r, _) in on_time.iter().filter(|(_, w)| *w > 0) {
                if let Some(v) = time_of(&r.0[m.column]) {
                    m.max = Some(m.max.map_or(v, |x| x.max(v)));
                }
            }
        }
        apply(&mut self.tables[t], &on_time);
    }

    /// Upserts into a keyed table and mirrors it.
    pub fn upsert(&mut self, table: &str, rows: Vec<Row>) {
        let t = self.table_index(table);
        assert!(self.program.tables[t].lateness.is_empty(), "not modelled");
        let pk = self.program.tables[t].primary_key.clone();
        self.engine.upsert(table, rows.clone()).expect("upsert");
        for r in rows {
            let key: Vec<Value> = pk.iter().map(|&i| r.0[i].clone()).collect();
            self.tables[t]
                .retain(|old, _| pk.iter().map(|&i| old.0[i].clone()).collect::<Vec<_>>() != key);
            self.tables[t].insert(r, 1);
        }
    }

    /// Deletes by key from a keyed table and mirrors it.
    pub fn delete_by_key(&mut self, table: &str, keys: Vec<Row>) {
        let t = self.table_index(table);
        let pk = self.program.tables[t].primary_key.clone();
        self.engine
            .delete_by_key(table, keys.clone())
            .expect("delete");
        for key in keys {
            self.tables[t]
                .retain(|old, _| pk.iter().map(|&i| old.0[i].clone()).collect::<Vec<_>>() != key.0);
        }
    }

    /// Runs a step and returns its deltas (also accumulated).
    pub fn step(&mut self) -> HashMap<String, Delta> {
        let deltas = self.engine.step().expect("step");
        for m in &mut self.lateness {
            if let Some(max) = m.max {
                m.waterline = Some(
                    m.waterline
                        .map_or(max - m.amount, |w| w.max(max - m.amount)),
                );
            }
        }
        for v in self.program.views.iter().filter(|v| v.emit_final.is_some()) {
            let name = &v.relation.name;
            assert!(
                deltas[name].iter().all(|(_, w)| *w > 0),
                "emit_final view {name} retracted a row: {:?}",
                deltas[name]
            );
        }
        for (name, d) in &deltas {
            apply(self.views.get_mut(name).expect("view"), d);
        }
        deltas
    }

    /// Steps and checks every view against the oracle.
    pub fn step_and_check(&mut self, context: &str) {
        self.step();
        self.check(context);
    }

    /// Checks every view against DataFusion over the current tables.
    pub fn check(&self, context: &str) {
        let expected = self.oracle();
        for v in &self.program.views {
            let name = &v.relation.name;
            let got = &self.views[name];
            let want = &expected[name];
            if let Some(spec) = &v.emit_final {
                self.check_final(name, spec.column, got, want, context);
                continue;
            }
            // Every row must obey the schema the view reports: encoders reject a NULL in a NOT NULL column.
            for row in got.keys() {
                for (f, value) in v.relation.fields.iter().zip(row.values()) {
                    assert!(
                        f.nullable || !value.is_null(),
                        "view {name} holds NULL in NOT NULL column {} ({context}): {row}",
                        f.name
                    );
                }
            }
            assert_eq!(
                got, want,
                "view {name} differs from DataFusion ({context})\nsql: {}",
                v.sql
            );
        }
    }

    /// An `emit_final` view: every row out is in DataFusion's view with the same count (a row comes out only once
    /// it can no longer change, so it must stay), and with [`Harness::final_within`], every row of DataFusion's view
    /// whose column is that far behind every waterline has come out.
    fn check_final(&self, name: &str, column: usize, got: &Bag, want: &Bag, context: &str) {
        for (row, n) in got {
            assert_eq!(
                want.get(row),
                Some(n),
                "emit_final view {name} output {row} x{n} before it was final ({context})"
            );
        }
        let waterline = self.lateness.iter().map(|m| m.waterline).min().flatten();
        if let (Some(within), Some(w)) = (self.final_within, waterline) {
            for (row, n) in want {
                if time_of(&row.0[column]).is_some_and(|v| v + within < w) {
                    assert_eq!(
                        got.get(row),
                        Some(n),
                        "emit_final view {name} holds back {row}, {within} behind waterline {w} ({context})"
                    );
                }
            }
        }
    }

    /// DataFusion's answer for every view over the current table contents.
    pub fn oracle(&self) -> HashMap<String, Bag> {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
        for (t, bag) in self.program.tables.iter().zip(&self.tables) {
            let rows: Vec<(Row, i64)> = bag.iter().map(|(r, n)| (r.clone(), *n)).collect();
            let batch = sluice_sql::adhoc::to_batch(&t.relation, &rows).expect("batch");
            let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).expect("memtable");
            ctx.register_table(
                datafusion::common::TableReference::bare(t.relation.name.clone()),
                Arc::new(table),
            )
            .expect("register");
        }
        let mut out = HashMap::new();
        self.rt.block_on(async {
            for v in &self.program.views {
                let ddl = v
                    .sql
                    .replacen("MATERIALIZED ", "", 1)
                    .replacen("materialized ", "", 1);
                // DataFusion has no view options (`emit_final`): the view's rows are the same without them.
                let ddl = match (ddl.find(" WITH ('"), ddl.find(") AS ")) {
                    (Some(from), Some(to)) if from < to => {
                        format!("{}{}", &ddl[..from], &ddl[to + 1..])
                    }
                    _ => ddl,
                };
                ctx.sql(&ddl)
                    .await
                    .unwrap_or_else(|e| panic!("oracle: {e}\n{ddl}"));
                let query = format!("SELECT * FROM \"{}\"", v.relation.name);
                let batches = ctx
                    .sql(&query)
                    .await
                    .expect("query")
                    .collect()
                    .await
                    .unwrap_or_else(|e| panic!("oracle run: {e}\n{ddl}"));
                let mut bag = Bag::new();
                for b in batches {
                    for i in 0..b.num_rows() {
                        let row = Row(b
                            .columns()
                            .iter()
                            .map(|c| {
                                let s = ScalarValue::try_from_array(c, i).expect("scalar");
                                sluice_sql::expr::scalar_value(&s).expect("value")
                            })
                            .collect());
                        *bag.entry(row).or_insert(0) += 1;
                    }
                }
                out.insert(v.relation.name.clone(), bag);
            }
        });
        out
    }
}

/// Random values of a column type from a small domain, so that joins match, groups collide and duplicates occur.
pub fn random_value(rng: &mut StdRng, t: &SqlType, nullable: bool) -> Value {
    if nullable && rng.random_bool(0.15) {
        return Value::Null;
    }
    match t {
        SqlType::Boolean => Value::Bool(rng.random_bool(0.5)),
        SqlType::TinyInt => Value::TinyInt(rng.random_range(-3..6)),
        SqlType::SmallInt => Value::SmallInt(rng.random_range(-3..6)),
        SqlType::Int => Value::Int(rng.random_range(0..6)),
        SqlType::BigInt => Value::BigInt(rng.random_range(-5..20)),
        SqlType::Real => Value::Real(F32(rng.random_range(-4..8) as f32 * 0.5)),
        SqlType::Double => Value::Double(F64(rng.random_range(-4..8) as f64 * 0.25)),
        SqlType::Decimal { scale, .. } => {
            let m: i128 = rng.random_range(-500..2000);
            Value::Decimal(sluice_data::Decimal::new(m, *scale).expect("decimal"))
        }
        SqlType::Char { .. } | SqlType::Varchar { .. } => {
            let words = ["a", "b", "ab", "Abc", " x ", "hello", "b%", ""];
            Value::from(words[rng.random_range(0..words.len())])
        }
        SqlType::Date => Value::Date(rng.random_range(19_000..19_060)),
        SqlType::Time => Value::Time(rng.random_range(0..86_400u64) * 1_000_000_000),
        SqlType::Timestamp => {
            Value::Timestamp(rng.random_range(1_700_000_000i64..1_700_400_000) * 1_000_000)
        }
        SqlType::Varbinary { .. } | SqlType::Binary { .. } => {
            Value::Bytes(vec![rng.random_range(0..3u8); rng.random_range(0..3)])
        }
        other => panic!("no generator for {other:?}"),
    }
}

/// A random row of a relation.
pub fn random_row(rng: &mut StdRng, r: &Relation) -> Row {
    Row(r
        .fields
        .iter()
        .map(|f| random_value(rng, &f.sql_type, f.nullable))
        .collect())
}

/// Like [`run_random_views`], and every view must hold rows at some step (so the check is not vacuous).
pub fn run_random(sql: &str, seed: u64, steps: usize, workers: usize) {
    let empty = run_random_views(sql, seed, steps, workers);
    assert!(
        empty.is_empty(),
        "views {empty:?} stayed empty for seed {seed}: the test would prove nothing"
    );
}

/// Runs `steps` random steps of inserts and deletes (of rows present) on every table without a primary key and
/// upserts/deletes on keyed tables, checking all views after each step. Returns the views that never held rows.
pub fn run_random_views(sql: &str, seed: u64, steps: usize, workers: usize) -> Vec<String> {
    run_random_views_within(sql, seed, steps, workers, None)
}

/// [`run_random_views`] with [`Harness::final_within`] set for `emit_final` views.
pub fn run_random_views_within(
    sql: &str,
    seed: u64,
    steps: usize,
    workers: usize,
    final_within: Option<i64>,
) -> Vec<String> {
    let mut h = Harness::new(sql, workers);
    h.final_within = final_within;
    let mut rng = StdRng::seed_from_u64(seed);
    // Guards against vacuous passes: every view must hold rows at some step.
    let mut seen_rows: HashMap<String, bool> = HashMap::new();
    for step in 0..steps {
        for t in 0..h.program.tables.len() {
            let table = h.program.tables[t].clone();
            let name = table.relation.name.clone();
            let n = rng.random_range(0..6);
            if table.primary_key.is_empty() {
                let mut batch: Vec<(Row, i64)> = (0..n)
                    .map(|_| (random_row(&mut rng, &table.relation), 1))
                    .collect();
                // Delete some present rows (sometimes all copies of a row, emptying groups).
                let present: Vec<Row> = h.tables[t].keys().cloned().collect();
                for r in present {
                    if rng.random_bool(0.3) {
                        batch.push((r, -1));
                    }
                }
                h.push(&name, batch);
            } else {
                let rows: Vec<Row> = (0..n)
                    .map(|_| random_row(&mut rng, &table.relation))
                    .collect();
                h.upsert(&name, rows);
                let present: Vec<Row> = h.tables[t].keys().cloned().collect();
                let keys: Vec<Row> = present
                    .into_iter()
                    .filter(|_| rng.random_bool(0.2))
                    .map(|r| Row(table.primary_key.iter().map(|&i| r.0[i].clone()).collect()))
                    .collect();
                h.delete_by_key(&name, keys);
            }
        }
        h.step_and_check(&format!("seed {seed}, step {step}"));
        for (name, bag) in &h.views {
            *seen_rows.entry(name.clone()).or_default() |= !bag.is_empty();
        }
    }
    let mut empty: Vec<String> = seen_rows
        .into_iter()
        .filter(|(_, seen)| !seen)
        .map(|(n, _)| n)
        .collect();
    empty.sort();
    empty
}
