//! Random programs assembled from supported constructs (filters, projections, joins, aggregates (also over
//! grouping sets), NOT IN, TUMBLE and HOP windows, DISTINCT, set operations, top-k, window functions with ROWS
//! and RANGE frames, value functions, CTEs, subqueries, tables with a primary key), each checked against DataFusion
//! over random insert/delete/upsert sequences.

use crate::common::{run_random_views, run_random_views_within};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TABLES: &str = "
CREATE TABLE t (id INT NOT NULL, k INT, s VARCHAR, x BIGINT, d DECIMAL(10,2), ts TIMESTAMP);
CREATE TABLE u (k INT, name VARCHAR, y INT);
CREATE TABLE p (pk INT NOT NULL PRIMARY KEY, k INT, v DECIMAL(8,2));
";

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// A random FROM (`t` aliased `a`, possibly joined with `u` as `b` or `p` as `c`) and WHERE (or nothing).
fn random_source(rng: &mut StdRng) -> (&'static str, String) {
    let from = pick(
        rng,
        &[
            "t a",
            "t a JOIN u b ON a.k = b.k",
            "t a LEFT JOIN u b ON a.k = b.k",
            "t a JOIN u b ON a.k = b.k AND a.x > b.y",
            "t a FULL JOIN u b ON a.k = b.k",
            "t a JOIN p c ON a.id = c.pk",
            "t a LEFT JOIN p c ON a.k = c.k AND c.v > 5",
            "TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '30' DAY)) a",
            "TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '100' DAY, INTERVAL '250' DAY)) a JOIN u b ON a.k = b.k",
        ],
    );
    let preds = [
        "a.x > 3",
        "a.k IS NOT NULL",
        "a.s LIKE '%b%'",
        "a.d BETWEEN 0 AND 10",
        "(a.x < 10 OR a.k = 2)",
        "a.k IN (1, 2, 4)",
        "NOT (a.id = 3)",
        "a.k NOT IN (SELECT k FROM u WHERE y > 2)",
    ];
    let filter = if rng.random_bool(0.7) {
        format!(" WHERE {}", pick(rng, &preds))
    } else {
        String::new()
    };
    (from, filter)
}

/// A random query over `t` (aliased `a`) and possibly `u` (aliased `b`).
fn random_query(rng: &mut StdRng) -> String {
    let (from, filter) = random_source(rng);
    let mut query = String::new();
    let shape = rng.random_range(0..10);
    if shape < 3 {
        return ranked_query(rng, from, &filter);
    }
    if shape < 7 {
        let key = pick(rng, &["a.k", "a.s", "a.x % 3", "a.id"]);
        let aggs = pick(
            rng,
            &[
                "COUNT(*) AS n, SUM(a.x) AS sx",
                "MIN(a.d) AS mn, MAX(a.s) AS mx",
                "AVG(a.x) AS av, COUNT(DISTINCT a.s) AS ds",
                "SUM(a.d) AS sd, COUNT(a.k) AS ck",
            ],
        );
        let having = if rng.random_bool(0.3) {
            " HAVING COUNT(*) > 1"
        } else {
            ""
        };
        let other = if key == "a.k" { "a.s" } else { "a.k" };
        let grouping = match rng.random_range(0..6) {
            0 => format!("ROLLUP ({key}, {other})"),
            1 => format!("CUBE ({key}, {other})"),
            2 => format!("GROUPING SETS (({key}), ())"),
            _ => key.to_string(),
        };
        query.push_str(&format!(
            "SELECT {key} AS g, {aggs} FROM {from}{filter} GROUP BY {grouping}{having}"
        ));
    } else {
        let distinct = if rng.random_bool(0.3) {
            "DISTINCT "
        } else {
            ""
        };
        let cols = pick(
            rng,
            &[
                "a.id, a.x * 2 AS x2",
                "a.k, UPPER(a.s) AS us",
                "a.id, COALESCE(a.k, 0) + 1 AS k1, a.d",
                "CASE WHEN a.x > 5 THEN 'hi' ELSE 'lo' END AS band, a.k",
            ],
        );
        query.push_str(&format!("SELECT {distinct}{cols} FROM {from}{filter}"));
    }
    query
}

/// A query whose rows depend on their order: top-k or a window function. Ties are kept harmless: top-k and ROWS
/// frames order by every output column, so peers are identical rows; RANGE frames give all peers one frame.
fn ranked_query(rng: &mut StdRng, from: &str, filter: &str) -> String {
    let all = "a.x, a.id, a.k, a.s, a.d";
    match rng.random_range(0..5) {
        0 => {
            let (dir, n) = (pick(rng, &["", " DESC"]), rng.random_range(1..5));
            let order = all.replace(", ", &format!("{dir}, "));
            format!("SELECT {all} FROM {from}{filter} ORDER BY {order}{dir} LIMIT {n}")
        }
        1 => {
            let f = pick(rng, &["ROW_NUMBER()", "RANK()", "DENSE_RANK()"]);
            let part = pick(rng, &["a.k", "a.s", "a.x % 2"]);
            let n = rng.random_range(1..4);
            format!(
                "SELECT x, id, r FROM (SELECT a.x, a.id, {f} OVER (PARTITION BY {part} ORDER BY {all}) AS r \
                 FROM {from}{filter}) q WHERE r <= {n}"
            )
        }
        2 => {
            let agg = pick(
                rng,
                &["SUM(a.x)", "COUNT(*)", "MIN(a.d)", "AVG(a.x)", "MAX(a.s)"],
            );
            let frame = pick(
                rng,
                &[
                    "",
                    "ROWS BETWEEN 1 PRECEDING AND CURRENT ROW",
                    "ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING",
                    "ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING",
                ],
            );
            format!(
                "SELECT {all}, {agg} OVER (PARTITION BY a.k ORDER BY {all} {frame}) AS w FROM {from}{filter}"
            )
        }
        3 => value_function_query(rng, from, filter),
        _ => {
            let agg = pick(rng, &["SUM(a.id)", "COUNT(*)", "MAX(a.d)"]);
            let (dir, frame) = (
                pick(rng, &["", " DESC"]),
                pick(
                    rng,
                    &[
                        "RANGE BETWEEN 2 PRECEDING AND CURRENT ROW",
                        "RANGE BETWEEN 1 PRECEDING AND 3 FOLLOWING",
                        "RANGE BETWEEN CURRENT ROW AND 2 FOLLOWING",
                    ],
                ),
            );
            format!(
                "SELECT a.id, a.x, {agg} OVER (PARTITION BY a.s ORDER BY a.x{dir} {frame}) AS w FROM {from}{filter}"
            )
        }
    }
}

/// LAG, LEAD, FIRST_VALUE, LAST_VALUE or NTILE over a random partition, ordered by every output column: peers are
/// identical rows, so whichever copy comes first, the values agree.
fn value_function_query(rng: &mut StdRng, from: &str, filter: &str) -> String {
    let all = "a.x, a.id, a.k, a.s, a.d";
    let f = pick(
        rng,
        &[
            "LAG(a.x)",
            "LEAD(a.d, 2)",
            "LAG(a.id, 1, 0)",
            "LEAD(a.s, 1, 'none')",
            "FIRST_VALUE(a.s)",
            "LAST_VALUE(a.x)",
            "NTILE(3)",
        ],
    );
    let frame = if f.contains("_VALUE") {
        pick(
            rng,
            &[
                "",
                "ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING",
                "ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING",
            ],
        )
    } else {
        ""
    };
    let (part, dir) = (
        pick(rng, &["a.k", "a.s", "a.x % 2"]),
        pick(rng, &["", " DESC"]),
    );
    let order = all.replace(", ", &format!("{dir}, "));
    format!("SELECT {all}, {f} OVER (PARTITION BY {part} ORDER BY {order}{dir} {frame}) AS w FROM {from}{filter}")
}

#[test]
fn random_value_function_programs_match_datafusion() {
    let mut rng = StdRng::seed_from_u64(7);
    for program in 0..8 {
        let views: String = (0..3)
            .map(|v| {
                let (from, filter) = random_source(&mut rng);
                format!(
                    "CREATE VIEW v{v} AS {};\n",
                    value_function_query(&mut rng, from, &filter)
                )
            })
            .collect();
        let sql = format!("{TABLES}{views}");
        for seed in 0..2 {
            run_random_views(&sql, 500 + program * 10 + seed, 6, 1);
        }
    }
}

#[test]
fn random_programs_match_datafusion() {
    let mut rng = StdRng::seed_from_u64(42);
    let (mut views_checked, mut views_empty) = (0, 0);
    for program in 0..12 {
        let mut views = String::new();
        for v in 0..3 {
            // Sometimes through a CTE or a subquery in FROM, which must not change the result.
            let query = match rng.random_range(0..6) {
                0 => format!("WITH c AS ({}) SELECT * FROM c", random_query(&mut rng)),
                1 => format!("SELECT * FROM ({}) sub", random_query(&mut rng)),
                _ => random_query(&mut rng),
            };
            views.push_str(&format!("CREATE VIEW v{v} AS {query};\n"));
        }
        if rng.random_bool(0.5) {
            let op = pick(&mut rng, &["UNION ALL", "UNION", "EXCEPT", "INTERSECT"]);
            views.push_str(&format!(
                "CREATE VIEW s AS SELECT k FROM t {op} SELECT k FROM u;\n"
            ));
        }
        let sql = format!("{TABLES}{views}");
        for seed in 0..2 {
            views_empty += run_random_views(&sql, program * 10 + seed, 6, 1).len();
            views_checked += sql.matches("CREATE VIEW").count();
        }
    }
    // Some random filters select nothing for some data; most views must still be exercised.
    assert!(
        views_empty * 5 <= views_checked,
        "{views_empty} of {views_checked} views stayed empty"
    );
}

/// Random programs over windows of a table whose time column has a `LATENESS`, on 1 and 2 workers: late changes
/// are dropped (the harness keeps its own model of the waterline and mirrors only what is on time), the state of
/// windows behind the waterline is trimmed, and every view still equals DataFusion over the changes that got in.
/// Some views grouped by window start are `emit_final`: what they output must be in DataFusion's view (a row out is
/// final), never retracted, and complete for windows a day behind the waterline. The times span about 4.6 days and the lateness is 1 day, so most steps drop some changes, and windows of 6 to 24
/// hours close while the program runs.
#[test]
fn random_programs_with_lateness_match_datafusion() {
    let tables = TABLES.replace("ts TIMESTAMP)", "ts TIMESTAMP LATENESS INTERVAL '1' DAY)");
    assert_ne!(tables, TABLES);
    let windows = [
        "TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '6' HOUR)) a",
        "TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' DAY, INTERVAL '3' HOUR)) a",
        "TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '6' HOUR, INTERVAL '12' HOUR)) a",
        "TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '12' HOUR)) a JOIN u b ON a.k = b.k",
    ];
    let queries = [
        "SELECT a.window_start, a.window_end, COUNT(*) AS n, SUM(a.x) AS sx FROM {from} GROUP BY a.window_start, a.window_end",
        "SELECT a.k, a.window_start, MIN(a.x) AS lo, MAX(a.s) AS hi FROM {from} GROUP BY a.k, a.window_start",
        "SELECT a.window_start, a.id, ROW_NUMBER() OVER (PARTITION BY a.window_start ORDER BY a.x DESC, a.id) AS rn FROM {from}",
        "SELECT a.window_end, a.id, LAG(a.x) OVER (PARTITION BY a.window_end ORDER BY a.ts, a.id) AS prev FROM {from}",
        "SELECT * FROM (SELECT a.window_start, a.k, COUNT(*) AS n FROM {from} GROUP BY a.window_start, a.k) w WHERE n > 1",
        "SELECT a.id, CAST(a.ts - a.window_start AS BIGINT) AS into_window, EXTRACT(EPOCH FROM a.window_end - a.ts) AS left_s FROM {from}",
        "SELECT a.id, CAST(a.window_end AS DATE) - CAST(a.ts AS DATE) AS days_left FROM {from}",
    ];
    let mut rng = StdRng::seed_from_u64(2020);
    let (mut finals, mut date_differences) = (0, 0);
    for program in 0..8 {
        let views: String = (0..3)
            .map(|v| {
                let from = pick(&mut rng, &windows);
                let query = pick(&mut rng, &queries).replace("{from}", from);
                // A view grouped by its window start, half the time emitting each row once, when final.
                let with = if query.contains("GROUP BY")
                    && query.contains("a.window_start")
                    && rng.random_bool(0.6)
                {
                    "WITH ('emit_final' = 'window_start') "
                } else {
                    ""
                };
                format!("CREATE VIEW v{v} {with}AS {query};\n")
            })
            .collect();
        let sql = format!("{tables}{views}");
        finals += sql.matches("emit_final").count();
        date_differences += sql.matches("AS DATE) - CAST").count();
        for workers in [1, 2] {
            // No window is longer than a day: a row a day behind the waterline must be out.
            let empty = run_random_views_within(&sql, 900 + program, 10, workers, Some(DAY));
            assert!(empty.len() < 3, "every view stayed empty: {sql}");
        }
    }
    assert!(finals >= 2, "the generator made {finals} emit_final views");
    assert!(
        date_differences >= 1,
        "the generator made no DATE difference"
    );
}

/// A day in microseconds (TIMESTAMP's unit).
const DAY: i64 = 86_400_000_000;
