//! Compile errors: unsupported or wrong SQL is rejected with a positioned message, never a panic.

use sluice_sql::{Program, SqlError};

fn errors(sql: &str) -> Vec<SqlError> {
    match Program::compile(sql) {
        Ok(_) => panic!("expected a compile error for:\n{sql}"),
        Err(e) => e.0,
    }
}

const T: &str = "CREATE TABLE t (id INT NOT NULL, k INT, s VARCHAR, x BIGINT);\n";

fn single(sql: &str) -> SqlError {
    let errs = errors(&format!("{T}{sql}"));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(!errs[0].warning);
    errs[0].clone()
}

#[test]
fn syntax_errors_carry_the_parser_position() {
    let e = errors("CREATE TABLE t (id INT);\nCREATE VIEW v AS SELEC id FROM t;");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, 2, "{e:?}");
    assert!(e[0].message.contains("syntax error"), "{e:?}");
}

#[test]
fn unknown_columns_and_tables_point_at_the_name() {
    let e = single("CREATE VIEW v AS\n  SELECT id, nope FROM t;");
    assert_eq!((e.line, e.column), (3, 14), "{e:?}");
    assert!(e.message.contains("nope"), "{e:?}");
    let e = single("CREATE VIEW v AS SELECT t.id, t.\"Nope\" FROM t;");
    assert_eq!((e.line, e.column), (2, 34), "{e:?}");
    let e = single("CREATE VIEW v AS SELECT id\n  FROM missing_table;");
    assert_eq!((e.line, e.column), (3, 8), "{e:?}");
    assert!(e.message.contains("missing_table"), "{e:?}");
}

#[test]
fn unsupported_window_function_is_named_with_its_position() {
    let e = single("CREATE VIEW v AS SELECT id,\n  PERCENT_RANK() OVER (ORDER BY id) AS q FROM t;");
    assert!(e.message.to_uppercase().contains("PERCENT_RANK"), "{e:?}");
    assert_eq!((e.line, e.column), (3, 3), "{e:?}");
}

#[test]
fn correlated_not_in_is_refused_with_the_way_out() {
    let e = single(
        "CREATE VIEW v AS SELECT id FROM t WHERE k NOT IN (SELECT k FROM t t2 WHERE t2.id > t.id);",
    );
    assert!(e.message.contains("NOT EXISTS"), "{e:?}");
}

#[test]
fn analytic_functions_refuse_what_they_cannot_compute() {
    let e = single("CREATE VIEW v AS SELECT id,\n  NTILE(0) OVER (ORDER BY id) AS q FROM t;");
    assert!(e.message.contains("NTILE(0)"), "{e:?}");
    assert_eq!((e.line, e.column), (3, 3), "{e:?}");
    let e = single(
        "CREATE VIEW v AS SELECT id,\n  LAG(id) IGNORE NULLS OVER (ORDER BY id) AS q FROM t;",
    );
    assert!(e.message.contains("IGNORE NULLS"), "{e:?}");
    let e = single("CREATE VIEW v AS SELECT id, LAG(id, id) OVER (ORDER BY id) AS q FROM t;");
    assert!(e.message.to_uppercase().contains("LAG"), "{e:?}");
}

#[test]
fn limit_without_order_by_is_rejected() {
    let e = single("CREATE VIEW v AS SELECT id FROM t LIMIT 3;");
    assert!(e.message.contains("LIMIT without ORDER BY"), "{e:?}");
}

#[test]
fn unsupported_function_and_statement_are_named() {
    let e = single("CREATE VIEW v AS SELECT reverse(s) AS h FROM t;");
    assert!(e.message.contains("REVERSE"), "{e:?}");
    let e = single("INSERT INTO t VALUES (1, 2, 'a', 3);");
    assert!(
        e.message
            .contains("only CREATE TABLE, CREATE VIEW and CREATE INDEX"),
        "{e:?}"
    );
}

/// ORDER BY without LIMIT in a view compiles with a warning at ORDER; with LIMIT it is a top-k and has none.
/// Next to an error, the warning is listed too, flagged as one.
#[test]
fn create_index_names_the_key_columns_of_a_view() {
    let p = Program::compile(&format!(
        "{T}CREATE VIEW v AS SELECT k, COUNT(*) AS n FROM t GROUP BY k;\nCREATE INDEX v_by_k ON v (K);"
    ))
    .unwrap();
    let i = p.index("v_by_k").unwrap();
    assert_eq!(
        (i.view.as_str(), i.columns.clone()),
        ("v", vec!["k".to_string()])
    );
}

#[test]
fn a_wrong_create_index_is_a_positioned_error_naming_what_is_wrong() {
    let v = "CREATE VIEW v AS SELECT k, COUNT(*) AS n FROM t GROUP BY k;\n";
    for (index, says) in [
        ("CREATE INDEX i ON t (k);", "t is a table"),
        ("CREATE INDEX i ON w (k);", "no view called w"),
        ("CREATE INDEX i ON v (nope);", "no column nope"),
        ("CREATE INDEX i ON v (k, k);", "column k twice"),
        ("CREATE INDEX i ON v (k DESC);", "not a plain column"),
        ("CREATE UNIQUE INDEX i ON v (k);", "UNIQUE is not supported"),
        (
            "CREATE INDEX IF NOT EXISTS i ON v (k);",
            "IF NOT EXISTS is not supported",
        ),
        (
            "CREATE INDEX i ON v (k);\nCREATE INDEX i ON v (n);",
            "index called i already exists",
        ),
    ] {
        let e = single(&format!("{v}{index}"));
        assert!(e.message.contains(says), "{index}: {e:?}");
        assert!(e.line >= 3, "{index}: {e:?}");
    }
}

#[test]
fn order_by_without_limit_is_a_warning() {
    let view = "CREATE VIEW v AS SELECT id FROM t ORDER BY id;";
    let p = Program::compile(&format!("{T}{view}")).unwrap();
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    let w = &p.warnings[0];
    assert!(
        w.warning && w.message.contains("ORDER BY without LIMIT") && w.message.contains("view v"),
        "{w:?}"
    );
    assert_eq!(
        (w.line, w.column),
        (2, view.find("ORDER").unwrap() as u64 + 1),
        "{w:?}"
    );
    let p = Program::compile(&format!(
        "{T}CREATE VIEW v AS SELECT id FROM t ORDER BY id LIMIT 2;"
    ))
    .unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let all = errors(&format!(
        "{T}CREATE VIEW v AS SELECT id FROM t ORDER BY id;\nCREATE VIEW w AS SELECT nope FROM t;"
    ));
    assert_eq!(
        all.iter().map(|e| (e.line, e.warning)).collect::<Vec<_>>(),
        [(2, true), (3, false)],
        "{all:?}"
    );
}

/// RANGE frames with an offset compile over one numeric, date or timestamp ORDER BY value; over two ORDER BY
/// values or over a string they are rejected with an error that says why, positioned at `RANGE`.
#[test]
fn range_frame_offsets_are_checked() {
    let view = |order: &str| {
        format!("CREATE VIEW v AS SELECT id, COUNT(*) OVER (ORDER BY {order} RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS c FROM t;")
    };
    assert!(Program::compile(&format!("{T}{}", view("x"))).is_ok());
    for (order, why) in [("id, k", "exactly one ORDER BY"), ("s", "of type Utf8")] {
        let sql = view(order);
        let e = single(&sql);
        assert!(e.message.contains(why), "{e:?}");
        assert_eq!(
            (e.line, e.column),
            (2, sql.find("RANGE").unwrap() as u64 + 1),
            "{e:?}"
        );
    }
}

#[test]
fn recursive_ctes_are_rejected() {
    let e = single(
        "CREATE VIEW v AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r;",
    );
    assert!(
        e.message.contains("RECURSIVE") || e.message.contains("recursive"),
        "{e:?}"
    );
}

#[test]
fn unsupported_column_types_and_duplicate_names() {
    let e = errors("CREATE TABLE a (x INT[]);");
    assert!(e[0].message.contains("column type"), "{e:?}");
    let e = errors("CREATE TABLE a (x INT);\nCREATE TABLE A (y INT);");
    assert_eq!(e[0].line, 2);
    assert!(e[0].message.contains("already exists"), "{e:?}");
}

#[test]
fn tables_without_declared_columns_are_rejected() {
    let e = single("CREATE TABLE empty;");
    assert!(e.message.contains("table empty has no columns"), "{e:?}");
    assert_eq!(e.line, 2, "{e:?}");
    let e = single("CREATE TABLE copy AS\n  SELECT id FROM t;");
    assert!(e.message.contains("CREATE TABLE copy AS SELECT"), "{e:?}");
    assert_eq!((e.line, e.column), (2, 19), "{e:?}");
    let e = single("CREATE TABLE twin LIKE t;");
    assert!(e.message.contains("LIKE or CLONE"), "{e:?}");
}

#[test]
fn several_errors_are_all_reported() {
    let e = errors("CREATE TABLE t (x INT);\nCREATE VIEW a AS SELECT y FROM t;\nCREATE VIEW b AS SELECT z FROM t;");
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!((e[0].line, e[1].line), (2, 3));
}

#[test]
fn operations_on_types_the_evaluator_does_not_compute_are_rejected() {
    let e = errors(
        "CREATE TABLE d (a DATE, b DATE, bin BYTEA);\nCREATE VIEW v AS SELECT a + b AS days FROM d;",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, 2);
}

/// `WITH ('append_only' = 'true')` marks a table insert-only; views over append-only tables through operators that
/// never retract are append-only, every other view is not, and a view over an append-only view inherits it.
#[test]
fn append_only_tables_make_the_views_that_cannot_retract_append_only() {
    let p = Program::compile(
        "CREATE TABLE a (id INT NOT NULL, k INT) WITH ('append_only' = 'true');\n\
         CREATE TABLE b (k INT, s VARCHAR) WITH ('APPEND_ONLY' = 'TRUE');\n\
         CREATE TABLE c (k INT) WITH ('append_only' = 'false');\n\
         CREATE TABLE d (k INT);\n\
         CREATE VIEW filtered AS SELECT id, k * 2 AS k2 FROM a WHERE k > 0;\n\
         CREATE VIEW joined AS SELECT a.id, b.s FROM a JOIN b ON a.k = b.k;\n\
         CREATE VIEW unioned AS SELECT k FROM a UNION ALL SELECT k FROM b;\n\
         CREATE VIEW distinct_k AS SELECT DISTINCT k FROM a;\n\
         CREATE VIEW semi AS SELECT id FROM a WHERE k IN (SELECT k FROM b);\n\
         CREATE VIEW over_view AS SELECT id FROM filtered WHERE k2 < 10;\n\
         CREATE VIEW constant AS SELECT 1 AS one;\n\
         CREATE VIEW counted AS SELECT k, COUNT(*) AS n FROM a GROUP BY k;\n\
         CREATE VIEW outer_joined AS SELECT a.id, b.s FROM a LEFT JOIN b ON a.k = b.k;\n\
         CREATE VIEW anti AS SELECT id FROM a WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.k = a.k);\n\
         CREATE VIEW top AS SELECT id FROM a ORDER BY id LIMIT 3;\n\
         CREATE VIEW over_c AS SELECT k FROM c;\n\
         CREATE VIEW mixed AS SELECT k FROM a UNION ALL SELECT k FROM d;\n\
         CREATE VIEW over_counted AS SELECT k FROM counted;",
    )
    .unwrap();
    let tables: Vec<(&str, bool)> = p
        .tables
        .iter()
        .map(|t| (t.relation.name.as_str(), t.append_only))
        .collect();
    assert_eq!(
        tables,
        [("a", true), ("b", true), ("c", false), ("d", false)]
    );
    for (view, expected) in [
        ("filtered", true),
        ("joined", true),
        ("unioned", true),
        ("distinct_k", true),
        ("semi", true),
        ("over_view", true),
        ("constant", true),
        ("counted", false),
        ("outer_joined", false),
        ("anti", false),
        ("top", false),
        ("over_c", false),
        ("mixed", false),
        ("over_counted", false),
    ] {
        assert_eq!(p.view(view).unwrap().append_only, expected, "{view}");
    }
}

/// Table options other than `append_only` are refused by name rather than ignored, and so is a primary key on an
/// append-only table (an insert of an existing key would replace, that is delete, its row).
#[test]
fn unknown_table_options_and_keyed_append_only_tables_are_refused() {
    for (sql, says) in [
        (
            "CREATE TABLE u (k INT) WITH ('append_only' = 'yes');",
            "'append_only' is 'true' or 'false'",
        ),
        (
            "CREATE TABLE u (k INT) WITH ('materialized' = 'true');",
            "option 'materialized' is not supported",
        ),
        (
            "CREATE TABLE u (k INT) WITH ('connectors' = 42);",
            "option 'connectors' takes a string",
        ),
        (
            "CREATE TABLE u (k INT);\nCREATE VIEW v WITH ('emit_later' = 'k') AS SELECT k FROM u;",
            "option 'emit_later' is not supported (the view options are 'connectors' and 'emit_final')",
        ),
        (
            "CREATE TABLE u (k INT PRIMARY KEY) WITH ('append_only' = 'true');",
            "append_only and has a PRIMARY KEY",
        ),
    ] {
        let e = single(sql);
        assert!(e.message.contains(says), "{sql}: {e:?}");
    }
}

/// Keys the plan proves unique: GROUP BY columns, a primary key through filters and projections, a join whose
/// other side is joined on its primary key; never a column the plan does not pin down.
#[test]
fn the_plan_proves_grouping_columns_and_carried_primary_keys_unique() {
    let p = Program::compile(
        "CREATE TABLE books (id BIGINT NOT NULL PRIMARY KEY, title VARCHAR NOT NULL, price INT);\n\
         CREATE TABLE sales (book_id BIGINT NOT NULL, copies INT);\n\
         CREATE VIEW by_title AS SELECT title, SUM(copies) AS n FROM sales JOIN books ON sales.book_id = books.id GROUP BY title;\n\
         CREATE VIEW cheap AS SELECT price, id + 1 AS twice, id FROM books WHERE price < 10;\n\
         CREATE VIEW sold AS SELECT s.copies, b.id, b.title FROM books b LEFT JOIN sales s ON s.book_id = b.id;\n\
         CREATE VIEW enriched AS SELECT s.copies, b.title FROM sales s JOIN books b ON s.book_id = b.id;\n\
         CREATE VIEW total AS SELECT COUNT(*) AS n FROM sales;\n\
         CREATE VIEW over_view AS SELECT title FROM by_title WHERE n > 1;",
    )
    .unwrap();
    let proves = |view: &str, columns: &[&str]| {
        let v = p
            .views
            .iter()
            .position(|x| x.relation.name == view)
            .unwrap();
        let relation = &p.views[v].relation;
        let columns: Vec<usize> = columns
            .iter()
            .map(|c| relation.field_index(c).unwrap())
            .collect();
        sluice_sql::proves_unique(&p, v, &columns)
    };
    assert!(proves("by_title", &["title"]));
    assert!(proves("by_title", &["title", "n"]));
    assert!(!proves("by_title", &["n"]));
    assert!(proves("cheap", &["id"]));
    // A computed column is not the key it is computed from.
    assert!(!proves("cheap", &["twice"]));
    assert!(!proves("cheap", &["price"]));
    // Books left-joined to sales: a book has many sales, so the book's id is not a key of the result.
    assert!(!proves("sold", &["id"]));
    // Sales joined to books on the book's primary key: each sale once, but sales themselves have no key.
    assert!(!proves("enriched", &["title"]));
    assert!(proves("total", &[]));
    assert!(proves("over_view", &["title"]));
}

/// `WITH ('connectors' = '...')` on tables and views is handed over as written, with the relation, its direction
/// and the position of the option (for errors about the JSON inside); the front end does not read the JSON.
#[test]
fn declared_connectors_are_collected_with_their_positions() {
    let p = Program::compile(
        "CREATE TABLE t (k INT) WITH ('append_only' = 'true', 'connectors' = '[{\"transport\": 1}]');\n\
         CREATE VIEW plain AS SELECT k FROM t;\n\
         CREATE MATERIALIZED VIEW \"Out\"\n  WITH (\n    'connectors' = '[''x'']'\n  ) AS SELECT k FROM t;",
    )
    .unwrap();
    assert!(p.table("t").unwrap().append_only);
    let found: Vec<_> = p
        .connectors
        .iter()
        .map(|c| {
            (
                c.relation.as_str(),
                c.is_table,
                c.json.as_str(),
                c.at.line,
                c.at.column,
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("t", true, "[{\"transport\": 1}]", 1, 55),
            ("Out", false, "['x']", 5, 6),
        ]
    );
}

#[test]
fn window_table_functions_refuse_what_they_cannot_compute() {
    let e = single(
        "CREATE TABLE e (ts TIMESTAMP);\nCREATE VIEW v AS SELECT * FROM\n  TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '1' MONTH));",
    );
    assert!(
        e.message
            .contains("positive constant interval of days and time"),
        "{e:?}"
    );
    assert_eq!((e.line, e.column), (4, 9), "{e:?}");
    let e = single(
        "CREATE TABLE e (ts TIMESTAMP);\nCREATE VIEW v AS SELECT * FROM TABLE(HOP(TABLE e, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '1' HOUR));",
    );
    assert!(e.message.contains("3600 windows per row"), "{e:?}");
    let e = single(
        "CREATE TABLE e (ts TIMESTAMP);\nCREATE VIEW v AS SELECT * FROM TABLE(TUMBLE(TABLE e, ts, INTERVAL '1' HOUR));",
    );
    assert!(e.message.contains("DESCRIPTOR(column)"), "{e:?}");
    // A DATE column is windowed as the TIMESTAMP of its midnight.
    assert!(Program::compile(
        "CREATE TABLE e (d DATE);\nCREATE VIEW v AS SELECT * FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(d), INTERVAL '7' DAY));"
    )
    .is_ok());
}

#[test]
fn lateness_is_a_column_attribute_in_the_columns_unit() {
    let p = Program::compile(
        "CREATE TABLE e (\n  id BIGINT,\n  ts TIMESTAMP NOT NULL LATENESS INTERVAL '1' HOUR,\n  d DATE LATENESS INTERVAL '2' DAYS,\n  \"Seq\" BIGINT LATENESS 100 NOT NULL\n);\nCREATE VIEW v AS SELECT id, ts FROM e;",
    )
    .unwrap();
    let got: Vec<(usize, i64, &str)> = p.tables[0]
        .lateness
        .iter()
        .map(|l| (l.column, l.amount, l.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (1, 3_600_000_000, "INTERVAL '1' HOUR"),
            (2, 2, "INTERVAL '2' DAYS"),
            (3, 100, "100")
        ]
    );
    // The attribute leaves the rest of the column alone: NOT NULL before or after it holds.
    assert!(!p.tables[0].relation.fields[1].nullable);
    assert!(!p.tables[0].relation.fields[3].nullable);
    assert_eq!(
        p.waterlines(),
        [(0, 1, 3_600_000_000), (0, 2, 2), (0, 3, 100)]
    );
}

#[test]
fn a_lateness_that_does_not_fit_its_column_is_refused_at_the_column() {
    let e =
        single("CREATE TABLE e (\n  id BIGINT,\n  ts TIMESTAMP LATENESS INTERVAL '1' MONTH\n);");
    assert!(e.message.contains("LATENESS of column ts"), "{e:?}");
    assert!(e.message.contains("no months"), "{e:?}");
    assert_eq!((e.line, e.column), (4, 3), "{e:?}");
    let e = single("CREATE TABLE e (name VARCHAR LATENESS 5);");
    assert!(
        e.message.contains("only TIMESTAMP, DATE and integer"),
        "{e:?}"
    );
    let e = single("CREATE TABLE e (n INT LATENESS -1);");
    assert!(e.message.contains("negative"), "{e:?}");
    let e = single("CREATE TABLE e (n INT LATENESS n + 1);");
    assert!(e.message.contains("not a constant"), "{e:?}");
}

#[test]
fn windows_over_a_lateness_column_are_anchored_to_its_waterline() {
    let p = Program::compile(
        "CREATE TABLE e (k INT, ts TIMESTAMP LATENESS INTERVAL '1' MINUTE, v BIGINT);\n\
         CREATE VIEW t AS SELECT k, window_start, window_end, SUM(v) AS s FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) GROUP BY k, window_start, window_end;\n\
         CREATE VIEW h AS SELECT window_start, COUNT(*) AS n FROM TABLE(HOP(TABLE e, DESCRIPTOR(ts), INTERVAL '5' MINUTES, INTERVAL '10' MINUTES)) GROUP BY window_start;\n\
         CREATE VIEW plain AS SELECT k, SUM(v) AS s FROM e GROUP BY k;",
    )
    .unwrap();
    let minute = 60_000_000;
    let anchors = |v: usize| -> Vec<Option<Vec<(usize, i64)>>> {
        p.anchors(&p.views[v].plan)
            .into_iter()
            .map(|a| a.map(|a| a.0.iter().map(|b| (b.waterline, b.slack)).collect()))
            .collect()
    };
    // window_start trails ts by the size, window_end by nothing; k and the sum by no bound.
    let t = anchors(0);
    assert_eq!(t[0], None);
    assert_eq!(t[1], Some(vec![(0, 10 * minute)]));
    assert_eq!(t[2], Some(vec![(0, 0)]));
    assert_eq!(t[3], None);
    // A HOP's window start is anchored too: its copies trail by the slide (the window holding the row that starts
    // last) and by two slides (the one before it), so by two slides.
    assert_eq!(anchors(1)[0], Some(vec![(0, 10 * minute)]));
    assert_eq!(anchors(2), [None, None]);
}

#[test]
fn only_keys_both_sides_of_a_join_trail_stay_anchored() {
    let p = Program::compile(
        "CREATE TABLE e (k INT, ts TIMESTAMP LATENESS INTERVAL '1' MINUTE);\n\
         CREATE TABLE f (k INT, ts TIMESTAMP LATENESS INTERVAL '5' MINUTE);\n\
         CREATE TABLE g (k INT, label VARCHAR);\n\
         CREATE VIEW windowed AS SELECT a.window_start AS ws, a.ts AS ats, b.window_start AS bws FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) a JOIN TABLE(TUMBLE(TABLE f, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) b ON a.k = b.k AND a.window_start = b.window_start;\n\
         CREATE VIEW by_key AS SELECT a.window_start AS ws, g.label FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) a JOIN g ON a.k = g.k;",
    )
    .unwrap();
    let minute = 60_000_000;
    let windowed = p.anchors(&p.views[0].plan);
    // The window start of either side: new rows of e pair with old rows of f in the same window, and the other way.
    let both = windowed[0].as_ref().expect("anchored");
    let mut bounds: Vec<(usize, i64)> = both.0.iter().map(|b| (b.waterline, b.slack)).collect();
    bounds.sort();
    assert_eq!(bounds, [(0, 10 * minute), (1, 10 * minute)]);
    assert_eq!(windowed[2], windowed[0]);
    // e's own time is not bounded: a new f row pairs with e rows of any age in its window.
    assert_eq!(windowed[1], None);
    // A join on k alone bounds nothing: a new g row pairs with e rows of every window.
    assert_eq!(p.anchors(&p.views[1].plan), [None, None]);
}

#[test]
fn emit_final_needs_a_column_that_follows_a_waterline_and_session_windows_are_refused() {
    let ok = Program::compile(
        "CREATE TABLE e (k INT, ts TIMESTAMP LATENESS INTERVAL '1' HOUR);\n\
         CREATE VIEW v WITH ('emit_final' = 'window_start') AS SELECT k, window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '1' HOUR)) GROUP BY k, window_start;",
    )
    .unwrap();
    let spec = ok.views[0].emit_final.as_ref().expect("emit_final");
    assert_eq!(spec.column, 1);
    assert!(
        ok.views[0].append_only,
        "an emit_final view only gains rows"
    );
    let e = single(
        "CREATE TABLE e (k INT, ts TIMESTAMP LATENESS INTERVAL '1' HOUR);\nCREATE VIEW v WITH ('emit_final' = 'n') AS SELECT k, COUNT(*) AS n FROM e GROUP BY k;",
    );
    assert!(
        e.message.contains("does not follow a LATENESS column"),
        "{e:?}"
    );
    assert_eq!((e.line, e.column), (3, 22), "{e:?}");
    let e = single(
        "CREATE TABLE e (ts TIMESTAMP LATENESS INTERVAL '1' HOUR);\nCREATE VIEW v WITH ('emit_final' = 'nope') AS SELECT ts FROM e;",
    );
    assert!(e.message.contains("nope is not a column"), "{e:?}");
    let e = single(
        "CREATE TABLE e (ts TIMESTAMP LATENESS INTERVAL '1' HOUR);\nCREATE MATERIALIZED VIEW v WITH ('emit_final' = 'ts') AS SELECT ts FROM e;",
    );
    assert!(e.message.contains("MATERIALIZED"), "{e:?}");
    let e = single(
        "CREATE TABLE e (k INT, ts TIMESTAMP);\nCREATE VIEW v AS SELECT * FROM TABLE(SESSION(TABLE e, DESCRIPTOR(ts), DESCRIPTOR(k), INTERVAL '5' MINUTE));",
    );
    assert!(
        e.message.contains("SESSION windows are not supported"),
        "{e:?}"
    );
    assert_eq!((e.line, e.column), (3, 38), "{e:?}");
}

#[test]
fn a_timestamp_difference_must_become_a_number_before_it_is_a_column() {
    let e = single(
        "CREATE TABLE e (a TIMESTAMP, b TIMESTAMP);\nCREATE VIEW v AS SELECT a - b AS d FROM e;",
    );
    assert!(e.message.contains("CAST(a - b AS BIGINT)"), "{e:?}");
    let e = single(
        "CREATE TABLE e (a TIMESTAMP, b TIMESTAMP);\nCREATE VIEW v AS SELECT EXTRACT(HOUR FROM a - b) AS h FROM e;",
    );
    assert!(e.message.contains("only EPOCH"), "{e:?}");
    assert!(Program::compile(
        "CREATE TABLE e (a TIMESTAMP, b TIMESTAMP, c DATE, d DATE);\nCREATE VIEW v AS SELECT c - d AS days, CAST(a - b AS BIGINT) AS us, EXTRACT(EPOCH FROM a - b) AS s FROM e;"
    )
    .is_ok());
}
