//! Differential tests: for each supported construct, seeded random insert/delete sequences; after every step
//! the sum of the view's deltas must equal DataFusion's result over the current tables.

use crate::common::run_random;

const TABLES: &str = "
CREATE TABLE t (id INT NOT NULL, k INT, s VARCHAR, x BIGINT, d DECIMAL(10,2), f DOUBLE, b BOOLEAN,
                dt DATE, ts TIMESTAMP);
CREATE TABLE u (k INT, name VARCHAR, y INT);
CREATE TABLE p (pk INT NOT NULL PRIMARY KEY, k INT, v DECIMAL(8,2));
CREATE TABLE misc (id INT NOT NULL, ti TINYINT, si SMALLINT, r REAL, tm TIME, c CHAR(3), tx TEXT, bin VARBINARY);
";

const SEEDS: u64 = 3;
const STEPS: usize = 8;

fn check(views: &str) {
    let sql = format!("{TABLES}\n{views}");
    for seed in 0..SEEDS {
        run_random(&sql, seed, STEPS, 1);
    }
    // The same construct on two workers: exchanges between workers must not change any result.
    run_random(&sql, SEEDS, STEPS, 2);
}

#[test]
fn projection_filter_and_arithmetic() {
    check(
        "CREATE VIEW v AS SELECT id, x + 1 AS x1, x * 2 - k AS e, d * 2 AS d2, d + d AS dd, d - 1 AS dm,
                f / 2 AS half, x % 3 AS m, -x AS neg, NOT b AS nb, k IS NULL AS kn, k IS NOT NULL AS knn
         FROM t WHERE x > 3 AND (b OR k < 3);",
    );
}

#[test]
fn comparisons_and_three_valued_logic() {
    check(
        "CREATE VIEW v AS SELECT id, k = 2 AS eq, k <> 2 AS ne, x <= k AS le, s >= 'b' AS ge,
                b AND k > 1 AS a, b OR k > 1 AS o, d > 5 AS dg, f < 0.5 AS fl
         FROM t;",
    );
}

#[test]
fn case_cast_coalesce_nullif() {
    check(
        "CREATE VIEW v AS SELECT
            CASE WHEN x > 5 THEN 'big' WHEN x > 0 THEN 'small' ELSE 'neg' END AS c,
            CASE k WHEN 1 THEN 'one' WHEN 2 THEN 'two' END AS kw,
            CAST(x AS DOUBLE) AS xd, CAST(d AS INT) AS di, CAST(k AS DECIMAL(6,1)) AS kd,
            CAST(x AS VARCHAR) AS xs, CAST(dt AS TIMESTAMP) AS dts, CAST(ts AS DATE) AS tsd,
            COALESCE(k, -1) AS kc, COALESCE(s, 'none') AS sc, NULLIF(k, 2) AS kn
         FROM t;",
    );
}

#[test]
fn in_between_like() {
    check(
        "CREATE VIEW v AS SELECT id, s FROM t
         WHERE k IN (1, 3, 5) OR x BETWEEN 2 AND 4 OR s LIKE 'a%' OR s LIKE '_b';
         CREATE VIEW w AS SELECT id, k NOT IN (1, 2) AS ni, x NOT BETWEEN 0 AND 10 AS nb,
                s NOT LIKE '%b%' AS nl, s ILIKE 'ab%' AS il FROM t;",
    );
}

#[test]
fn string_functions() {
    check(
        "CREATE VIEW v AS SELECT id, UPPER(s) AS up, LOWER(s) AS lo, SUBSTRING(s, 2, 2) AS sub,
                SUBSTRING(s FROM 2) AS sub2, CONCAT(s, '-', k) AS cat, CHARACTER_LENGTH(s) AS len,
                LENGTH(s) AS len2, TRIM(s) AS tr, LTRIM(s) AS ltr, RTRIM(s) AS rtr, s || '!' AS bang
         FROM t;
         CREATE VIEW w AS SELECT id, REPLACE(s, 'b', 'xyz') AS r1, REPLACE(s, '', '-') AS r2,
                REPLACE(s, s, 'whole') AS r3, SPLIT_PART(s, 'b', 1) AS p1, SPLIT_PART(s, 'b', 2) AS p2,
                SPLIT_PART(s, 'b', 5) AS p5, SPLIT_PART(s, 'b', -1) AS pl, SPLIT_PART(s, '', 1) AS pe,
                SPLIT_PART(CONCAT(s, '/', s), '/', k) AS pk
         FROM t WHERE k IS NULL OR k > 0;",
    );
}

#[test]
fn date_time_extraction_and_arithmetic() {
    check(
        "CREATE VIEW v AS SELECT id, EXTRACT(YEAR FROM dt) AS y, EXTRACT(MONTH FROM dt) AS mo,
                EXTRACT(DAY FROM dt) AS dd, EXTRACT(HOUR FROM ts) AS h, EXTRACT(MINUTE FROM ts) AS mi,
                EXTRACT(DOW FROM dt) AS dow, dt + INTERVAL '1' DAY AS tomorrow,
                dt - INTERVAL '1' MONTH AS last_month, ts + INTERVAL '2' HOUR AS later,
                dt < DATE '2022-02-01' AS early, ts >= TIMESTAMP '2023-11-16 00:00:00' AS recent
         FROM t;",
    );
}

#[test]
fn inner_join_on_equality() {
    check("CREATE VIEW v AS SELECT t.id, t.x, u.name, u.y FROM t JOIN u ON t.k = u.k;");
}

#[test]
fn inner_join_with_extra_condition() {
    check("CREATE VIEW v AS SELECT t.id, u.name FROM t JOIN u ON t.k = u.k AND t.x > u.y;");
}

#[test]
fn left_right_full_outer_joins() {
    check(
        "CREATE VIEW l AS SELECT t.id, t.k, u.name FROM t LEFT JOIN u ON t.k = u.k;
         CREATE VIEW r AS SELECT t.id, u.k, u.name FROM t RIGHT JOIN u ON t.k = u.k AND t.x > u.y;
         CREATE VIEW f AS SELECT t.id, t.k AS tk, u.k AS uk, u.y FROM t FULL OUTER JOIN u ON t.k = u.k;
         CREATE VIEW fc AS SELECT t.id, u.y FROM t FULL JOIN u ON t.k = u.k AND t.x < u.y;",
    );
}

#[test]
fn cross_join() {
    check("CREATE VIEW v AS SELECT t.id, u.name FROM t CROSS JOIN u WHERE t.x > 10;");
}

#[test]
fn group_by_aggregates() {
    check(
        "CREATE VIEW v AS SELECT k, COUNT(*) AS n, COUNT(x) AS nx, COUNT(DISTINCT x) AS dx, SUM(x) AS sx,
                AVG(x) AS ax, MIN(s) AS mins, MAX(d) AS maxd, SUM(d) AS sd, AVG(d) AS ad, MIN(dt) AS mindt,
                SUM(f) AS sf, MAX(f) AS mf
         FROM t GROUP BY k;",
    );
}

/// Only COUNT, and SUM/AVG of exact numbers: the views that keep running totals instead of rescanning groups.
#[test]
fn linear_aggregates_kept_as_running_totals() {
    check(
        "CREATE VIEW v AS SELECT k, COUNT(*) AS n, COUNT(x) AS nx, COUNT(s) AS ns, SUM(x) AS sx, AVG(x) AS ax,
                SUM(d) AS sd, AVG(d) AS ad, COUNT(*) FILTER (WHERE b) AS nb, SUM(x) FILTER (WHERE x > 2) AS sx2,
                SUM(d * 3) AS sd3, SUM(id) AS sid
         FROM t GROUP BY k;
         CREATE VIEW g AS SELECT COUNT(*) AS n, SUM(d) AS sd, AVG(x) AS ax, AVG(d) AS ad FROM t;
         CREATE VIEW m AS SELECT ti, SUM(ti) AS sti, SUM(si) AS ssi, AVG(si) AS asi FROM misc GROUP BY ti;
         CREATE VIEW keyed AS SELECT k, SUM(v) AS sv, AVG(v) AS av, COUNT(*) AS n FROM p GROUP BY k;
         CREATE VIEW keys_only AS SELECT k, b FROM t GROUP BY k, b;",
    );
}

#[test]
fn group_by_expression_and_having() {
    check(
        "CREATE VIEW v AS SELECT k, b, COUNT(*) AS n, SUM(x) AS sx FROM t GROUP BY k, b HAVING COUNT(*) > 1;
         CREATE VIEW w AS SELECT x % 2 AS parity, MAX(id) AS m FROM t GROUP BY x % 2 HAVING SUM(x) > 5;",
    );
}

#[test]
fn global_aggregate_over_empty_and_nonempty_input() {
    check(
        "CREATE VIEW v AS SELECT COUNT(*) AS n, SUM(x) AS sx, MAX(s) AS ms, COUNT(DISTINCT k) AS dk FROM t;
         CREATE VIEW w AS SELECT COUNT(*) AS n FROM t WHERE x > 100;",
    );
}

#[test]
fn select_distinct() {
    check("CREATE VIEW v AS SELECT DISTINCT k, s FROM t;");
}

#[test]
fn set_operations() {
    check(
        "CREATE VIEW ua AS SELECT k FROM t UNION ALL SELECT k FROM u;
         CREATE VIEW un AS SELECT k FROM t UNION SELECT k FROM u;
         CREATE VIEW ex AS SELECT k FROM t EXCEPT SELECT k FROM u;
         CREATE VIEW it AS SELECT k FROM t INTERSECT SELECT k FROM u;",
    );
}

#[test]
fn subqueries_ctes_and_views_over_views() {
    check(
        "CREATE VIEW big AS SELECT id, k, x FROM t WHERE x > 2;
         CREATE VIEW per_k AS SELECT k, SUM(x) AS total FROM big GROUP BY k;
         CREATE VIEW named AS SELECT p.k, p.total, u.name FROM per_k p JOIN u ON p.k = u.k;
         CREATE VIEW sub AS SELECT q.k, q.n FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) AS q WHERE q.n > 1;
         CREATE VIEW cte AS WITH c AS (SELECT k, MAX(x) AS mx FROM t GROUP BY k) SELECT k, mx * 2 AS m2 FROM c;",
    );
}

#[test]
fn in_and_exists_subqueries() {
    check(
        "CREATE VIEW i AS SELECT id FROM t WHERE k IN (SELECT k FROM u WHERE y > 2);
         CREATE VIEW e AS SELECT id FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k);
         CREATE VIEW ne AS SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.k AND u.y > t.x);",
    );
}

#[test]
fn not_in_subquery_with_null_semantics() {
    check(
        "CREATE VIEW ni AS SELECT id, k FROM t WHERE k NOT IN (SELECT k FROM u WHERE y > 3);
         CREATE VIEW ni_all AS SELECT COUNT(*) AS n, COUNT(k) AS nk FROM t WHERE k NOT IN (SELECT k FROM u);
         CREATE VIEW ni_filtered AS SELECT id FROM t WHERE x NOT IN (SELECT y FROM u WHERE y > 2);
         CREATE VIEW ni_keyed AS SELECT pk FROM p WHERE k NOT IN (SELECT k FROM t WHERE x IS NOT NULL);
         CREATE VIEW ni_count AS SELECT COUNT(*) AS n FROM t WHERE s NOT IN (SELECT name FROM u);",
    );
}

#[test]
fn grouping_sets_rollup_and_cube() {
    check(
        "CREATE VIEW r AS SELECT k, s, COUNT(*) AS n, SUM(x) AS sx FROM t GROUP BY ROLLUP (k, s);
         CREATE VIEW c AS SELECT k, b, MAX(d) AS md, AVG(x) AS ax FROM t GROUP BY CUBE (k, b);
         CREATE VIEW g AS SELECT k, s, COUNT(x) AS c FROM t GROUP BY GROUPING SETS ((k), (s), ());
         CREATE VIEW m AS SELECT k, s, COUNT(*) AS n FROM t WHERE x > 2 GROUP BY k, ROLLUP (s);
         CREATE VIEW twice AS SELECT k, COUNT(*) AS n FROM t GROUP BY GROUPING SETS ((k), (k));
         CREATE VIEW gk AS SELECT k, s, GROUPING(k) AS gk, GROUPING(k, s) AS gks, COUNT(*) AS n
            FROM t GROUP BY ROLLUP (k, s);
         CREATE VIEW bits AS SELECT id, k & 3 AS a3, k | 8 AS o8, k ^ 5 AS x5, x >> 2 AS s2, x >> 65 AS s65 FROM t;",
    );
}

#[test]
fn tumble_and_hop_windows() {
    check(
        "CREATE VIEW tw AS SELECT window_start, window_end, COUNT(*) AS n, SUM(x) AS sx
            FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '30' DAY)) GROUP BY window_start, window_end;
         CREATE VIEW tw_rows AS SELECT id, ts, window_start, window_end
            FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '15' MINUTE)) AS w;
         CREATE VIEW hw AS SELECT window_start, COUNT(*) AS n
            FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '10' DAY, INTERVAL '30' DAY)) GROUP BY window_start;
         CREATE VIEW hw_odd AS SELECT w.id, w.window_start, w.window_end, u.name
            FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '20' DAY, INTERVAL '30' DAY)) w JOIN u ON w.k = u.k;",
    );
}

#[test]
fn order_by_limit_top_k() {
    check(
        "CREATE VIEW top AS SELECT id, x FROM t ORDER BY x DESC, id LIMIT 3;
         CREATE VIEW bottom AS SELECT x FROM t WHERE x IS NOT NULL ORDER BY x LIMIT 2 OFFSET 1;",
    );
}

#[test]
fn row_number_and_rank_with_filter() {
    check(
        "CREATE VIEW rn AS SELECT k, id, x FROM
            (SELECT k, id, x, ROW_NUMBER() OVER (PARTITION BY k ORDER BY x DESC, id) AS r FROM t) q WHERE r <= 2;
         CREATE VIEW rk AS SELECT k, x, r FROM
            (SELECT k, x, RANK() OVER (PARTITION BY k ORDER BY x) AS r FROM t) q WHERE r <= 2;
         CREATE VIEW dr AS SELECT k, x, r FROM
            (SELECT k, x, DENSE_RANK() OVER (PARTITION BY k ORDER BY x) AS r FROM t) q WHERE r <= 2;
         CREATE VIEW lt AS SELECT k, x, r FROM
            (SELECT k, x, RANK() OVER (PARTITION BY k ORDER BY x DESC) AS r FROM t) q WHERE x > 0 AND r < 3;
         CREATE VIEW all_rows AS SELECT k, x, ROW_NUMBER() OVER (PARTITION BY k ORDER BY x, id) AS r FROM t;",
    );
}

#[test]
fn aggregate_over_windows_with_frames() {
    check(
        "CREATE VIEW running AS SELECT pk, k, SUM(v) OVER (PARTITION BY k ORDER BY pk) AS run FROM p;
         CREATE VIEW moving AS SELECT pk, k, SUM(v) OVER (PARTITION BY k ORDER BY pk
                ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS mv,
                COUNT(*) OVER (PARTITION BY k ORDER BY pk ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS c3
            FROM p;
         CREATE VIEW whole AS SELECT pk, MAX(v) OVER (PARTITION BY k) AS mx FROM p;",
    );
}

#[test]
fn lag_lead_first_last_value_and_ntile() {
    check(
        "CREATE VIEW shifts AS SELECT pk, k, v, LAG(v) OVER (PARTITION BY k ORDER BY pk) AS prev,
                LEAD(v, 2) OVER (PARTITION BY k ORDER BY pk) AS next2,
                LAG(pk, 1, -1) OVER (PARTITION BY k ORDER BY pk) AS prev_pk,
                LEAD(pk, 3, 0) OVER (PARTITION BY k ORDER BY pk) AS lead3
            FROM p;
         CREATE VIEW backwards AS SELECT pk, LEAD(v) OVER (ORDER BY pk DESC) AS lower_v,
                LAG(k, 2) OVER (ORDER BY pk DESC) AS k2 FROM p;
         CREATE VIEW ends AS SELECT pk, FIRST_VALUE(v) OVER (PARTITION BY k ORDER BY pk) AS first_v,
                LAST_VALUE(v) OVER (PARTITION BY k ORDER BY pk) AS last_so_far,
                LAST_VALUE(pk) OVER (PARTITION BY k ORDER BY pk ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
                    AS last_pk,
                FIRST_VALUE(v) OVER (PARTITION BY k ORDER BY pk ROWS BETWEEN 1 FOLLOWING AND 2 FOLLOWING) AS next_v
            FROM p;
         CREATE VIEW tiles AS SELECT pk, k, NTILE(3) OVER (PARTITION BY k ORDER BY pk) AS t3 FROM p;
         CREATE VIEW tiles_all AS SELECT pk, NTILE(4) OVER (ORDER BY pk DESC) AS t4 FROM p;",
    );
}

#[test]
fn primary_key_upserts_and_deletes_feed_views() {
    check(
        "CREATE VIEW per_k AS SELECT k, SUM(v) AS total, COUNT(*) AS n FROM p GROUP BY k;
         CREATE MATERIALIZED VIEW joined AS SELECT p.pk, u.name FROM p JOIN u ON p.k = u.k;",
    );
}

#[test]
fn filter_clause_distinct_aggregates_and_null_safe_comparison() {
    check(
        "CREATE VIEW v AS SELECT k, COUNT(*) FILTER (WHERE b) AS nb, SUM(x) FILTER (WHERE x > 2) AS sx,
                SUM(DISTINCT x) AS sdx, AVG(DISTINCT x) AS adx
         FROM t GROUP BY k;
         CREATE VIEW w AS SELECT id, k IS DISTINCT FROM 2 AS d, k IS NOT DISTINCT FROM NULL AS nd,
                TRY_CAST(s AS INT) AS si, ABS(x - 5) AS ax, s LIKE 'b\\%' ESCAPE '\\' AS esc, s LIKE 'b\\%' AS esc2
         FROM t;
         CREATE VIEW a AS SELECT pk, AVG(v) OVER (PARTITION BY k ORDER BY pk ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
                AS av, MIN(v) OVER (PARTITION BY k ORDER BY pk) AS mn FROM p;",
    );
}

#[test]
fn two_different_windows_in_one_select() {
    check(
        "CREATE VIEW v AS SELECT pk, k, SUM(v) OVER (PARTITION BY k ORDER BY pk) AS by_k,
                COUNT(*) OVER (ORDER BY pk ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS last3
         FROM p;",
    );
}

#[test]
fn small_integers_reals_times_chars_text_and_bytes() {
    check(
        "CREATE VIEW o1 AS SELECT id, ti + 1 AS ti1, si * 2 AS si2, ti - si AS d, r * 2 AS r2, r + ti AS rti,
                tm, c, tx, bin, UPPER(c) AS uc, LENGTH(tx) AS lt, c = tx AS same
         FROM misc WHERE tm > TIME '06:00:00' OR si < 2 OR r >= 1.5;
         CREATE VIEW o2 AS SELECT c, MIN(tm) AS mn, MAX(tm) AS mx, SUM(ti) AS sti, SUM(si) AS ssi, AVG(r) AS ar,
                MIN(r) AS mr, COUNT(bin) AS nb, MAX(tx) AS mt FROM misc GROUP BY c;
         CREATE VIEW o3 AS SELECT bin, COUNT(*) AS n, MIN(ti) AS mt FROM misc GROUP BY bin;
         CREATE VIEW o4 AS SELECT a.id, b.id AS id2, a.bin FROM misc a JOIN misc b ON a.c = b.c AND a.bin = b.bin;
         CREATE VIEW o5 AS SELECT id, CAST(ti AS INT) AS tii, CAST(si AS VARCHAR) AS ss, CAST(r AS DOUBLE) AS rd,
                CAST(ti AS SMALLINT) AS tis, CAST(c AS VARCHAR) AS cv FROM misc;
         CREATE VIEW o6 AS SELECT tm, COUNT(*) AS n FROM misc WHERE tm IS NOT NULL GROUP BY tm HAVING COUNT(*) > 0;",
    );
}

/// RANGE frames treat rows with equal ORDER BY values (peers) as one: every peer sees the same frame. The
/// order column `v` has a small domain, so ties are common.
#[test]
fn range_frames_over_tied_order_values() {
    check(
        "CREATE VIEW r1 AS SELECT pk, k, v, SUM(v) OVER (PARTITION BY k ORDER BY v) AS run,
                COUNT(*) OVER (PARTITION BY k ORDER BY v RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS rest,
                MAX(pk) OVER (PARTITION BY k ORDER BY v RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS mpk
         FROM p;
         CREATE VIEW r2 AS SELECT pk, MIN(pk) OVER (ORDER BY v DESC RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS m,
                COUNT(*) OVER (PARTITION BY k ORDER BY v DESC) AS c FROM p;",
    );
}

/// RANGE frames with offsets: the frame of a row is every row whose ORDER BY value lies within the offsets of
/// its own, for integers, decimals and doubles (numeric offsets) and dates and timestamps (intervals), ascending and
/// descending, with NULL order values (whose frame is the other NULLs) and ties.
#[test]
fn range_frames_with_offsets() {
    check(
        "CREATE VIEW ri AS SELECT id, k, x,
                SUM(id) OVER (PARTITION BY k ORDER BY x RANGE BETWEEN 2 PRECEDING AND 1 FOLLOWING) AS s1,
                COUNT(*) OVER (PARTITION BY k ORDER BY x RANGE BETWEEN 1 FOLLOWING AND 5 FOLLOWING) AS c1,
                MIN(id) OVER (PARTITION BY k ORDER BY x RANGE BETWEEN 3 PRECEDING AND 1 PRECEDING) AS m1
         FROM t;
         CREATE VIEW rid AS SELECT id, x,
                COUNT(*) OVER (ORDER BY x DESC RANGE BETWEEN 3 PRECEDING AND CURRENT ROW) AS c2,
                MAX(id) OVER (ORDER BY x DESC RANGE BETWEEN UNBOUNDED PRECEDING AND 2 FOLLOWING) AS m2
         FROM t;
         CREATE VIEW rd AS SELECT id, d,
                SUM(x) OVER (ORDER BY d RANGE BETWEEN 1.5 PRECEDING AND 0.5 FOLLOWING) AS sd,
                COUNT(*) OVER (ORDER BY d RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) AS cd
         FROM t;
         CREATE VIEW rf AS SELECT id, f,
                COUNT(*) OVER (ORDER BY f DESC NULLS LAST RANGE BETWEEN 0.5 PRECEDING AND 0.25 FOLLOWING) AS cf
         FROM t;
         CREATE VIEW rdt AS SELECT id, dt,
                COUNT(*) OVER (ORDER BY dt RANGE BETWEEN INTERVAL '3' DAY PRECEDING AND CURRENT ROW) AS c3
         FROM t;
         CREATE VIEW rts AS SELECT id, k, ts,
                COUNT(*) OVER (PARTITION BY k ORDER BY ts DESC
                    RANGE BETWEEN INTERVAL '2' HOUR PRECEDING AND INTERVAL '1' DAY FOLLOWING) AS ct
         FROM t;
         CREATE VIEW rbig AS SELECT id, x,
                COUNT(*) OVER (ORDER BY x RANGE BETWEEN 9223372036854775807 PRECEDING AND 9223372036854775807 FOLLOWING) AS c
         FROM t;",
    );
}

/// Every extraction field and string function docs/sql.md lists, beyond the common ones tested above.
#[test]
fn every_listed_date_part_and_string_function() {
    check(
        "CREATE VIEW parts AS SELECT id, EXTRACT(QUARTER FROM dt) AS q, EXTRACT(WEEK FROM dt) AS wk,
                EXTRACT(DOY FROM dt) AS doy, EXTRACT(SECOND FROM ts) AS sec, EXTRACT(MILLISECOND FROM ts) AS ms,
                EXTRACT(MICROSECOND FROM ts) AS us, EXTRACT(EPOCH FROM ts) AS ep, DATE_PART('year', ts) AS yr,
                DATE_PART('dow', dt) AS dw, ts - INTERVAL '3' DAY AS before, dt + INTERVAL '1' YEAR AS next_year
         FROM t;
         CREATE VIEW strs AS SELECT id, SUBSTR(s, 2) AS s2, SUBSTRING(s FROM 1 FOR 2) AS s12,
                CHAR_LENGTH(s) AS cl, CHARACTER_LENGTH(s) AS cl2, BTRIM(s, 'a') AS bt, LTRIM(s, 'b') AS lt,
                RTRIM(s, 'c') AS rt, CONCAT(s, '-', k) AS ck, s ILIKE 'A%' AS il, LOWER(UPPER(s)) AS lu
         FROM t;
         CREATE VIEW logic AS SELECT id, b IS TRUE AS it, b IS NOT TRUE AS nt, b IS FALSE AS isf,
                b IS NOT FALSE AS nf, CAST(CASE WHEN k > 2 THEN 'true' ELSE 'false' END AS BOOLEAN) AS sb, CAST(k AS BOOLEAN) AS kb,
                CAST(ts AS TIME) AS tt, CAST(CAST(ts AS TIME) AS VARCHAR) AS ttv
         FROM t;",
    );
}

/// DATE − DATE (days, a BIGINT) and TIMESTAMP − TIMESTAMP read as microseconds (CAST to BIGINT) or seconds
/// (EXTRACT(EPOCH FROM ...)), over pairs of rows so that differences are negative, zero and positive.
#[test]
fn date_and_timestamp_differences() {
    check(
        "CREATE VIEW diffs AS SELECT a.id AS i, b.id AS j, a.dt - b.dt AS days,
                CAST(a.ts - b.ts AS BIGINT) AS micros, EXTRACT(EPOCH FROM a.ts - b.ts) AS secs,
                DATE_PART('epoch', a.ts - b.ts) AS secs2
         FROM t a JOIN t b ON a.k = b.k;
         CREATE VIEW spans AS SELECT k, MAX(dt) - MIN(dt) AS day_span, MAX(CAST(ts - TIMESTAMP '2023-01-01 00:00:00' AS BIGINT)) AS m
         FROM t GROUP BY k;",
    );
}
