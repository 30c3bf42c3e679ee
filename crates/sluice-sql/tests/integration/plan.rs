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
