//! Random programs assembled from supported constructs (filters, projections, joins, aggregates, DISTINCT,
//! set operations), each checked against DataFusion over random insert/delete sequences.

mod common;

use common::run_random_views;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TABLES: &str = "
CREATE TABLE t (id INT NOT NULL, k INT, s VARCHAR, x BIGINT, d DECIMAL(10,2));
CREATE TABLE u (k INT, name VARCHAR, y INT);
";

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// A random query over `t` (aliased `a`) and possibly `u` (aliased `b`).
fn random_query(rng: &mut StdRng) -> String {
    let from = pick(
        rng,
        &[
            "t a",
            "t a JOIN u b ON a.k = b.k",
            "t a LEFT JOIN u b ON a.k = b.k",
            "t a JOIN u b ON a.k = b.k AND a.x > b.y",
            "t a FULL JOIN u b ON a.k = b.k",
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
    ];
    let mut query = String::new();
    let filter = if rng.random_bool(0.7) {
        format!(" WHERE {}", pick(rng, &preds))
    } else {
        String::new()
    };
    if rng.random_bool(0.5) {
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
        query.push_str(&format!(
            "SELECT {key} AS g, {aggs} FROM {from}{filter} GROUP BY {key}{having}"
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

#[test]
fn random_programs_match_datafusion() {
    let mut rng = StdRng::seed_from_u64(42);
    let (mut views_checked, mut views_empty) = (0, 0);
    for program in 0..10 {
        let mut views = String::new();
        for v in 0..3 {
            views.push_str(&format!(
                "CREATE VIEW v{v} AS {};\n",
                random_query(&mut rng)
            ));
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
