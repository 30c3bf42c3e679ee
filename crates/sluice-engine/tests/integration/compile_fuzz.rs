//! Random SQL, from a small grammar and from token soup: compiling never panics, every compile error has a
//! position and a message, and every program that compiles runs a few steps of random rows without an engine
//! error, emitting only rows that obey the schema the program reports.

use crate::common::random_row;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sluice_engine::{Engine, EngineConfig};
use sluice_sql::Program;

const TABLES: &str =
    "CREATE TABLE t (id INT NOT NULL, k INT, s VARCHAR, x BIGINT, d DECIMAL(10,2), ts TIMESTAMP);
CREATE TABLE u (k INT NOT NULL PRIMARY KEY, name VARCHAR, y DOUBLE);
";

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "id",
        "k",
        "s",
        "x",
        "d",
        "ts",
        "t.k",
        "u.name",
        "y",
        "NULL",
        "1",
        "0",
        "-3",
        "'a'",
        "2.5",
        "TRUE",
        "nope",
        "DATE '2024-01-02'",
        "INTERVAL '1' DAY",
    ])
    .prop_map(str::to_string);
    leaf.prop_recursive(3, 12, 3, |inner| {
        let op = prop::sample::select(vec![
            "+", "-", "*", "/", "%", "=", "<>", "<", ">=", "AND", "OR", "||", "LIKE",
        ]);
        let func = prop::sample::select(vec![
            "UPPER", "LOWER", "LENGTH", "ABS", "SUM", "COUNT", "MAX", "MIN", "AVG", "TRIM",
            "COALESCE", "NOT", "-",
        ]);
        let ty = prop::sample::select(vec![
            "INT",
            "BIGINT",
            "DOUBLE",
            "DECIMAL(6,1)",
            "VARCHAR",
            "DATE",
            "BOOLEAN",
            "TIME",
            "TINYINT",
        ]);
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(a, o, b)| format!("({a} {o} {b})")),
            (func, inner.clone()).prop_map(|(f, a)| format!("{f}({a})")),
            (inner.clone(), ty).prop_map(|(a, t)| format!("CAST({a} AS {t})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("CASE WHEN {a} THEN {b} ELSE {c} END")),
            inner.clone().prop_map(|a| format!("{a} IS NULL")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("ROW_NUMBER() OVER (PARTITION BY {a} ORDER BY {b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} IN ({b}, 1)")),
        ]
    })
}

fn view() -> impl Strategy<Value = String> {
    let from = prop::sample::select(vec![
        "t",
        "t JOIN u ON t.k = u.k",
        "t LEFT JOIN u ON t.k = u.k AND t.x > 1",
        "(SELECT * FROM t WHERE x > 0) q",
        "t, u",
        "t FULL JOIN u ON t.k = u.k",
    ]);
    let tail = prop::sample::select(vec![
        "",
        " GROUP BY k",
        " GROUP BY 1",
        " ORDER BY 1 LIMIT 3",
        " GROUP BY k HAVING COUNT(*) > 1",
        " UNION SELECT 1",
    ]);
    (
        prop::collection::vec(expr(), 1..4),
        from,
        prop::option::of(expr()),
        tail,
    )
        .prop_map(|(items, from, filter, tail)| {
            let items: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(i, e)| format!("{e} AS c{i}"))
                .collect();
            let filter = filter.map_or(String::new(), |f| format!(" WHERE {f}"));
            format!(
                "CREATE VIEW v AS SELECT {} FROM {from}{filter}{tail};",
                items.join(", ")
            )
        })
}

fn token_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "SELECT",
        "FROM",
        "WHERE",
        "t",
        "u",
        "id",
        "(",
        ")",
        ",",
        "GROUP",
        "BY",
        "ORDER",
        "LIMIT",
        "JOIN",
        "ON",
        "=",
        "1",
        "'x'",
        "OVER",
        "PARTITION",
        "AS",
        "*",
        "CREATE",
        "VIEW",
        "TABLE",
        ";",
        "NULL",
        "CAST",
        "\"Q\"",
        "\n",
        "WITH",
        "UNION",
    ]);
    prop::collection::vec(token, 0..25)
        .prop_map(|tokens| format!("CREATE VIEW v AS {}", tokens.join(" ")))
}

fn check(view: &str, seed: u64) -> Result<(), TestCaseError> {
    let sql = format!("{TABLES}{view}");
    let program = match Program::compile(&sql) {
        Err(errors) => {
            prop_assert!(!errors.0.is_empty(), "an error list without errors: {sql}");
            for e in &errors.0 {
                prop_assert!(e.line >= 1 && e.column >= 1, "{e:?} for {sql}");
                prop_assert!(!e.message.trim().is_empty(), "{e:?} for {sql}");
            }
            return Ok(());
        }
        Ok(p) => p,
    };
    let mut engine = Engine::start(program.clone(), EngineConfig::with_workers(1))
        .map_err(|e| TestCaseError::fail(format!("{e} for {sql}")))?;
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..3 {
        for t in &program.tables {
            let rows = (0..4)
                .map(|_| (random_row(&mut rng, &t.relation), 1))
                .collect();
            engine
                .push(&t.relation.name, rows)
                .map_err(|e| TestCaseError::fail(format!("{e} for {sql}")))?;
        }
        let deltas = engine
            .step()
            .map_err(|e| TestCaseError::fail(format!("{e} for {sql}")))?;
        for v in &program.views {
            for (row, _) in &deltas[&v.relation.name] {
                prop_assert_eq!(row.values().len(), v.relation.fields.len(), "{}", sql);
                for (f, value) in v.relation.fields.iter().zip(row.values()) {
                    prop_assert!(
                        f.nullable || !value.is_null(),
                        "NULL in NOT NULL column {} of {}: {}",
                        f.name,
                        sql,
                        row
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn grammar_programs_compile_to_an_error_or_a_running_view(view in view(), seed in any::<u64>()) {
        check(&view, seed)?;
    }

    #[test]
    fn token_soup_never_panics_the_compiler(view in token_soup()) {
        check(&view, 0)?;
    }
}
