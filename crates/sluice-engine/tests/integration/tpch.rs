//! A small TPC-H-like set of views (3- and 4-way joins, aggregates, top-k, anti-join) checked against DataFusion
//! after every step of random upserts/deletes/inserts.

use crate::common::run_random;

const PROGRAM: &str = "
CREATE TABLE nation (nationkey INT NOT NULL PRIMARY KEY, name VARCHAR NOT NULL);
CREATE TABLE customer (custkey INT NOT NULL PRIMARY KEY, name VARCHAR, nationkey INT);
CREATE TABLE orders (orderkey INT NOT NULL PRIMARY KEY, custkey INT, status CHAR(1), orderdate DATE,
                     total DECIMAL(12,2));
CREATE TABLE lineitem (orderkey INT, quantity INT, price DECIMAL(12,2), discount DECIMAL(4,2), shipdate DATE);

CREATE VIEW revenue_by_nation AS
  SELECT n.name, SUM(l.price * (1 - l.discount)) AS revenue, COUNT(*) AS lines
  FROM lineitem l JOIN orders o ON l.orderkey = o.orderkey
                  JOIN customer c ON o.custkey = c.custkey
                  JOIN nation n ON c.nationkey = n.nationkey
  GROUP BY n.name;

CREATE VIEW shipping_priority AS
  SELECT l.orderkey, o.orderdate, SUM(l.quantity) AS qty, MAX(l.shipdate) AS last_ship
  FROM lineitem l JOIN orders o ON l.orderkey = o.orderkey
  WHERE o.status <> 'hello' AND l.shipdate >= o.orderdate - INTERVAL '30' DAY
  GROUP BY l.orderkey, o.orderdate;

CREATE VIEW top_customers AS
  SELECT c.custkey, SUM(o.total) AS spent
  FROM customer c JOIN orders o ON c.custkey = o.custkey
  GROUP BY c.custkey
  ORDER BY spent DESC, c.custkey LIMIT 3;

CREATE VIEW customers_without_orders AS
  SELECT c.custkey, c.name FROM customer c
  WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.custkey = c.custkey);

CREATE VIEW nation_order_stats AS
  SELECT n.name, COUNT(DISTINCT o.custkey) AS buyers, AVG(o.total) AS avg_total
  FROM nation n LEFT JOIN customer c ON n.nationkey = c.nationkey
                LEFT JOIN orders o ON c.custkey = o.custkey
  GROUP BY n.name;
";

#[test]
fn tpch_like_views_match_datafusion() {
    for seed in 0..3 {
        run_random(PROGRAM, 100 + seed, 14, 1);
    }
}

#[test]
fn tpch_like_views_match_datafusion_on_two_workers() {
    run_random(PROGRAM, 200, 14, 2);
}
