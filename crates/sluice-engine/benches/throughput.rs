//! Steady-state throughput of the dynamic SQL engine against the same dbsp circuits written by hand over typed
//! tuples, measured in the same run. Not a test: `cargo bench -p sluice-engine --bench throughput`.
//!
//! Each scenario preloads `PRELOAD` rows (or `SLUICE_BENCH_PRELOAD`, to see how a step's cost grows with the
//! size of the groups it changes), then times `STEPS` steps of `BATCH` fresh input rows each (inserts
//! into `t`); throughput is input rows per second of those timed steps. The typed baseline uses the same dbsp
//! operator shapes as the engine's lowering (filter and projection fused in one flat_map; indexed join;
//! linear aggregate with running totals for SUM/COUNT, group-rescanning aggregate for MAX; per-group top-k by
//! aggregate) so the ratio isolates the cost of dynamic rows and interpreted expressions.

use std::hint::black_box;
use std::time::Instant;

use dbsp::algebra::UnimplementedSemigroup;
use dbsp::dynamic::DowncastTrait;
use dbsp::operator::{Fold, OutputHandle};
use dbsp::trace::{BatchReader as _, Cursor as _};
use dbsp::typed_batch::{BatchReader as _, SpineSnapshot};
use dbsp::utils::{Tup2, Tup3};
use dbsp::{OrdZSet, Runtime, ZSetHandle};
use sluice_data::{Row, Value};
use sluice_engine::{Engine, EngineConfig};
use sluice_sql::Program;

/// The allocator the `sluice` binary runs with, so the engine is measured as it runs in production; the typed
/// baseline in the same process gets it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PRELOAD: usize = 100_000;

/// The rows loaded before timing starts.
fn preload() -> usize {
    std::env::var("SLUICE_BENCH_PRELOAD")
        .ok()
        .map(|n| n.parse().expect("SLUICE_BENCH_PRELOAD: a number of rows"))
        .unwrap_or(PRELOAD)
}
const BATCH: usize = 10_000;
/// Enough steps that the fastest scenario runs for a few hundred milliseconds, long enough to time steadily.
const STEPS: usize = 30;
const GROUPS: i64 = 1_000;

const TABLES: &str = "CREATE TABLE t (id BIGINT NOT NULL, k BIGINT NOT NULL, x BIGINT NOT NULL);
                      CREATE TABLE u (k BIGINT NOT NULL, v BIGINT NOT NULL);";

#[derive(Clone, Copy, Debug)]
enum Scenario {
    FilterProject,
    Join,
    GroupBy,
    GroupByRescan,
    TopK,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::FilterProject => "(a) filter + projection",
            Scenario::Join => "(b) 2-way join",
            Scenario::GroupBy => "(c) GROUP BY SUM/COUNT",
            Scenario::GroupByRescan => "(c2) GROUP BY MAX/COUNT (rescans groups)",
            Scenario::TopK => "(d) top-3 per group",
        }
    }

    fn view(self) -> &'static str {
        match self {
            Scenario::FilterProject => {
                "CREATE VIEW v AS SELECT id, x * 2 AS y FROM t WHERE x % 3 <> 0;"
            }
            Scenario::Join => "CREATE VIEW v AS SELECT t.id, u.v FROM t JOIN u ON t.k = u.k;",
            Scenario::GroupBy => {
                "CREATE VIEW v AS SELECT k, SUM(x) AS s, COUNT(*) AS n FROM t GROUP BY k;"
            }
            Scenario::GroupByRescan => {
                "CREATE VIEW v AS SELECT k, MAX(x) AS m, COUNT(*) AS n FROM t GROUP BY k;"
            }
            Scenario::TopK => {
                "CREATE VIEW v AS SELECT k, id, x FROM (SELECT k, id, x,
                   ROW_NUMBER() OVER (PARTITION BY k ORDER BY x DESC) AS r FROM t) q WHERE r <= 3;"
            }
        }
    }
}

/// Input rows per second of the timed steps, by wall clock and by the CPU time of the whole process (all
/// threads). On a machine busy with other work the wall-clock figure swings by tens of percent from run to run
/// while the CPU-time figure stays put, so the ratio is reported both ways.
#[derive(Clone, Copy)]
struct Rate {
    wall: f64,
    cpu: f64,
}

struct Clock {
    wall: Instant,
    cpu: f64,
}

impl Clock {
    fn now() -> Self {
        Clock {
            wall: Instant::now(),
            cpu: process_cpu_seconds(),
        }
    }

    fn rate(&self) -> Rate {
        let rows = (STEPS * BATCH) as f64;
        Rate {
            wall: rows / self.wall.elapsed().as_secs_f64(),
            cpu: rows / (process_cpu_seconds() - self.cpu),
        }
    }
}

/// User plus system CPU time of this process so far.
fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut u = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Deterministic input: row `i` of `t`.
fn t_row(i: usize) -> (i64, i64, i64) {
    let i = i as i64;
    (i, (i * 7919) % GROUPS, (i * 104_729) % 10_007)
}

fn dynamic(s: Scenario, workers: usize) -> Rate {
    let program = Program::compile(&format!("{TABLES}{}", s.view())).expect("compile");
    let mut e = Engine::start(program, EngineConfig::with_workers(workers)).expect("start");
    let rows = |from: usize, n: usize| -> Vec<(Row, i64)> {
        (from..from + n)
            .map(|i| {
                let (id, k, x) = t_row(i);
                (
                    Row(vec![Value::BigInt(id), Value::BigInt(k), Value::BigInt(x)]),
                    1,
                )
            })
            .collect()
    };
    let u: Vec<(Row, i64)> = (0..GROUPS)
        .map(|k| (Row(vec![Value::BigInt(k), Value::BigInt(k * 10)]), 1))
        .collect();
    e.push("u", u).expect("push");
    let preload = preload();
    e.push("t", rows(0, preload)).expect("push");
    black_box(e.step().expect("step"));
    let start = Clock::now();
    for step in 0..STEPS {
        e.push("t", rows(preload + step * BATCH, BATCH))
            .expect("push");
        black_box(e.step().expect("step"));
    }
    start.rate()
}

type T3 = Tup3<i64, i64, i64>;

/// The view's changes as owned rows with weights, read the way the engine reads them (a cursor over the
/// workers' snapshots), so that both sides hand the caller the same thing.
fn read_delta(out: &OutputHandle<SpineSnapshot<OrdZSet<T3>>>) -> Vec<(T3, i64)> {
    let snapshot = out.concat();
    let mut cursor = snapshot.inner().cursor();
    let mut delta = Vec::new();
    while cursor.key_valid() {
        // SAFETY: the output is a Z-set of `T3` with i64 weights.
        let row = *unsafe { cursor.key().downcast::<T3>() };
        if cursor.val_valid() {
            delta.push((row, *unsafe { cursor.weight().downcast::<i64>() }));
        }
        cursor.step_key();
    }
    delta
}

fn typed(s: Scenario, workers: usize) -> Rate {
    let (mut dbsp, (t, u, out)) = Runtime::init_circuit(workers, move |c| {
        let (t, th) = c.add_input_zset::<T3>();
        let (u, uh) = c.add_input_zset::<Tup2<i64, i64>>();
        let out = match s {
            Scenario::FilterProject => t
                .flat_map(|r: &T3| (r.2 % 3 != 0).then(|| Tup3(r.0, r.2 * 2, 0)))
                .accumulate_output(),
            Scenario::Join => {
                let ti = t.map_index(|r: &T3| (r.1, r.0));
                let ui = u.map_index(|r: &Tup2<i64, i64>| (r.0, r.1));
                ti.join(&ui, |_k, id: &i64, v: &i64| Tup3(*id, *v, 0))
                    .accumulate_output()
            }
            Scenario::GroupBy => t
                .map_index(|r: &T3| (r.1, r.2))
                .aggregate_linear(|x: &i64| Tup2(*x, 1i64))
                .map(|(k, a): (&i64, &Tup2<i64, i64>)| Tup3(*k, a.0, a.1))
                .accumulate_output(),
            Scenario::GroupByRescan => t
                .map_index(|r: &T3| (r.1, r.2))
                .aggregate(
                    Fold::<i64, Tup2<i64, i64>, UnimplementedSemigroup<_>, _, _>::new(
                        Tup2(i64::MIN, 0),
                        // Values arrive in ascending order: the last one is the largest.
                        |acc: &mut Tup2<i64, i64>, x: &i64, w: i64| {
                            acc.0 = *x;
                            acc.1 += w;
                        },
                    ),
                )
                .map(|(k, a): (&i64, &Tup2<i64, i64>)| Tup3(*k, a.0, a.1))
                .accumulate_output(),
            Scenario::TopK => t
                .map_index(|r: &T3| (r.1, Tup2(r.2, r.0)))
                .aggregate(Fold::<
                    Tup2<i64, i64>,
                    Vec<Tup2<i64, i64>>,
                    UnimplementedSemigroup<_>,
                    _,
                    _,
                >::new(
                    Vec::new(),
                    |acc: &mut Vec<Tup2<i64, i64>>, v: &Tup2<i64, i64>, w: i64| {
                        // Values arrive in ascending order: keep the last three (the largest x).
                        for _ in 0..w {
                            acc.push(*v);
                        }
                        if acc.len() > 3 {
                            acc.drain(..acc.len() - 3);
                        }
                    },
                ))
                .flat_map(|(k, top): (&i64, &Vec<Tup2<i64, i64>>)| {
                    let k = *k;
                    top.iter()
                        .map(move |v| Tup3(k, v.1, v.0))
                        .collect::<Vec<_>>()
                })
                .accumulate_output(),
        };
        Ok((th, uh, out))
    })
    .expect("init");
    let push = |h: &ZSetHandle<T3>, from: usize, n: usize| {
        let mut v: Vec<Tup2<T3, i64>> = (from..from + n)
            .map(|i| {
                let (id, k, x) = t_row(i);
                Tup2(Tup3(id, k, x), 1)
            })
            .collect();
        h.append(&mut v);
    };
    let mut uv: Vec<Tup2<Tup2<i64, i64>, i64>> =
        (0..GROUPS).map(|k| Tup2(Tup2(k, k * 10), 1)).collect();
    u.append(&mut uv);
    let preload = preload();
    push(&t, 0, preload);
    dbsp.transaction().expect("step");
    black_box(read_delta(&out));
    let start = Clock::now();
    for step in 0..STEPS {
        push(&t, preload + step * BATCH, BATCH);
        dbsp.transaction().expect("step");
        black_box(read_delta(&out));
    }
    let rate = start.rate();
    let _ = dbsp.kill();
    rate
}

/// `throughput [FILTER] [dynamic|typed|both] [WORKERS]`: only the scenarios whose name contains FILTER (for
/// profiling one shape), optionally only one side and one worker count. Flags cargo passes (`--bench`) are ignored.
fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let filter = args.first().cloned().unwrap_or_default();
    let side = args.get(1).cloned().unwrap_or_default();
    let worker_counts: Vec<usize> = match args.get(2) {
        Some(n) => vec![n.parse().expect("workers: a number")],
        None => vec![1, 2],
    };
    println!(
        "| scenario | workers | dynamic (rows/s) | typed (rows/s) | typed / dynamic | typed / dynamic by CPU time |"
    );
    println!("|---|---|---|---|---|---|");
    for s in [
        Scenario::FilterProject,
        Scenario::Join,
        Scenario::GroupBy,
        Scenario::GroupByRescan,
        Scenario::TopK,
    ]
    .into_iter()
    .filter(|s| s.name().contains(filter.as_str()))
    {
        for &workers in &worker_counts {
            let none = Rate {
                wall: f64::NAN,
                cpu: f64::NAN,
            };
            let d = if side == "typed" {
                none
            } else {
                dynamic(s, workers)
            };
            let t = if side == "dynamic" {
                none
            } else {
                typed(s, workers)
            };
            println!(
                "| {} | {workers} | {:.0} | {:.0} | {:.2}x | {:.2}x |",
                s.name(),
                d.wall,
                t.wall,
                t.wall / d.wall,
                t.cpu / d.cpu
            );
        }
    }
}
