//! Shape of lowered plans where the shape matters for performance.

use sluice_sql::plan::Node;
use sluice_sql::Program;

fn find_window_limit(node: &Node) -> Option<Option<i64>> {
    match node {
        Node::Window { rank_limit, .. } => Some(*rank_limit),
        Node::Filter { input, .. } | Node::Map { input, .. } | Node::Distinct(input) => {
            find_window_limit(input)
        }
        _ => None,
    }
}

#[test]
fn a_filter_on_the_rank_bounds_the_window_output() {
    let p = Program::compile(
        "CREATE TABLE t (k INT, x INT);
         CREATE VIEW top2 AS SELECT k, x FROM
           (SELECT k, x, ROW_NUMBER() OVER (PARTITION BY k ORDER BY x DESC) AS r FROM t) q WHERE r <= 2;
         CREATE VIEW lt AS SELECT k, x, r FROM
           (SELECT k, x, RANK() OVER (PARTITION BY k ORDER BY x) AS r FROM t) q WHERE x > 0 AND r < 4;
         CREATE VIEW other AS SELECT k, x FROM
           (SELECT k, x, ROW_NUMBER() OVER (PARTITION BY k ORDER BY x) AS r FROM t) q WHERE r >= 2;",
    )
    .unwrap();
    assert_eq!(find_window_limit(&p.views[0].plan), Some(Some(2)));
    assert_eq!(find_window_limit(&p.views[1].plan), Some(Some(3)));
    assert_eq!(find_window_limit(&p.views[2].plan), Some(None));
}

fn aggregate_calls(node: &Node) -> Option<&[sluice_sql::agg::AggCall]> {
    match node {
        Node::Aggregate { aggs, .. } => Some(aggs),
        Node::Filter { input, .. } | Node::Map { input, .. } | Node::Distinct(input) => {
            aggregate_calls(input)
        }
        _ => None,
    }
}

#[test]
fn counts_and_exact_sums_and_averages_are_kept_as_running_totals() {
    let p = Program::compile(
        "CREATE TABLE t (k INT, x INT, s SMALLINT, d DECIMAL(10,2), f DOUBLE, name VARCHAR);
         CREATE VIEW linear AS SELECT k, COUNT(*) AS n, COUNT(name) AS nn, SUM(x) AS sx, AVG(x) AS ax, AVG(s) AS a_s,
                SUM(d) AS sd, AVG(d) AS ad, SUM(x) FILTER (WHERE d > 0) AS sxp FROM t GROUP BY k HAVING COUNT(*) > 1;
         CREATE VIEW global AS SELECT COUNT(*) AS n, AVG(x + s) AS a FROM t;
         CREATE VIEW float_avg AS SELECT k, AVG(f) AS af FROM t GROUP BY k;
         CREATE VIEW extremes AS SELECT k, SUM(x) AS sx, MAX(x) AS mx FROM t GROUP BY k;
         CREATE VIEW distinct_sum AS SELECT k, SUM(DISTINCT x) AS sx, COUNT(DISTINCT s) AS ns FROM t GROUP BY k;",
    )
    .unwrap();
    let linear = |i: usize| {
        let calls = aggregate_calls(&p.views[i].plan).expect("an aggregate");
        sluice_sql::agg::LinearAggs::plan(calls).is_some()
    };
    assert!(linear(0), "COUNT, SUM and AVG of integers and decimals");
    assert!(linear(1), "AVG of an integer expression");
    assert!(
        !linear(2),
        "AVG of a DOUBLE rounds by order, so it is rescanned"
    );
    assert!(!linear(3), "MAX is not a sum");
    assert!(
        !linear(4),
        "SUM(DISTINCT) is not a sum over rows (alone, DataFusion rewrites it into one)"
    );
}
