//! Window table functions in Feldera's (Calcite's) syntax, `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset]))`
//! and `TABLE(HOP(TABLE t, DESCRIPTOR(ts), slide, size [, offset]))`, in the FROM clause of a view.
//!
//! DataFusion's parser knows neither the `TABLE t` argument nor the functions, and its planner has no table function
//! that reads another relation. So the text is made parseable without moving anything (`TABLE` inside such a call
//! becomes blanks, keeping every line and column of the statement), and each call is replaced in the parsed query by
//! an ordinary subquery: the table's rows with `window_start` and `window_end` (TIMESTAMPs) computed by `DATE_BIN`;
//! a HOP is the union of one such copy per window a row can fall in, keeping the copies whose window holds the row.
//! What comes out is plain SQL that the engine keeps incrementally like any other (and that the test oracle replays).
//! Rows whose time column is NULL belong to no window.

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Query, SetExpr, TableFactor,
    TableWithJoins,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::Unsupported;

/// The most windows of one HOP a row may fall in (`size / slide`, rounded up): each is a copy of the table.
const MAX_HOP_WINDOWS: i64 = 64;

/// `sql` with the keyword `TABLE` that opens the first argument of a `TUMBLE(` or `HOP(` call replaced by blanks,
/// so that DataFusion's parser reads the argument as a table name; byte offsets, lines and columns are unchanged.
pub(crate) fn blank_table_arguments(sql: &str) -> String {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
        return sql.to_string();
    };
    let words: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut out = sql.to_string();
    for w in words.windows(3) {
        let is_word = |t: &Token, word: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(word));
        let window_call = ["TUMBLE", "HOP", "SESSION"]
            .iter()
            .any(|name| is_word(&w[0].token, name));
        if window_call && w[1].token == Token::LParen && is_word(&w[2].token, "TABLE") {
            let start = crate::error::offset(sql, w[2].span.start.line, w[2].span.start.column);
            out.replace_range(start..start + "TABLE".len(), "     ");
        }
    }
    out
}

/// Replaces every `TABLE(TUMBLE(...))` and `TABLE(HOP(...))` in the FROM clauses of `query` (and of its CTEs,
/// subqueries in FROM, set operations and joins) by the subquery it stands for.
pub(crate) fn rewrite(query: &mut Query, ctx: &SessionContext) -> Result<(), Unsupported> {
    if let Some(with) = &mut query.with {
        for cte in &mut with.cte_tables {
            rewrite(&mut cte.query, ctx)?;
        }
    }
    set_expr(&mut query.body, ctx)
}

fn set_expr(body: &mut SetExpr, ctx: &SessionContext) -> Result<(), Unsupported> {
    match body {
        SetExpr::Select(select) => select
            .from
            .iter_mut()
            .try_for_each(|t| table_with_joins(t, ctx)),
        SetExpr::Query(q) => rewrite(q, ctx),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr(left, ctx)?;
            set_expr(right, ctx)
        }
        _ => Ok(()),
    }
}

fn table_with_joins(t: &mut TableWithJoins, ctx: &SessionContext) -> Result<(), Unsupported> {
    factor(&mut t.relation, ctx)?;
    t.joins
        .iter_mut()
        .try_for_each(|j| factor(&mut j.relation, ctx))
}

fn factor(f: &mut TableFactor, ctx: &SessionContext) -> Result<(), Unsupported> {
    match f {
        TableFactor::Derived { subquery, .. } => rewrite(subquery, ctx),
        TableFactor::NestedJoin {
            table_with_joins: t,
            ..
        } => table_with_joins(t, ctx),
        TableFactor::TableFunction {
            expr: Expr::Function(call),
            alias,
        } => {
            let name = call.name.to_string().to_ascii_uppercase();
            if name == "SESSION" {
                return Err(Unsupported::at_keyword(
                    "SESSION windows are not supported (a session's extent depends on the rows around it); \
                     TUMBLE and HOP are",
                    "SESSION",
                ));
            }
            if name != "TUMBLE" && name != "HOP" {
                return Ok(());
            }
            let args = arguments(&call.args, &name)?;
            let subquery = window_query(&name, &args, ctx)?;
            *f = TableFactor::Derived {
                lateral: false,
                subquery,
                alias: alias.clone(),
                sample: None,
            };
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The call's arguments, positional only.
fn arguments<'a>(args: &'a FunctionArguments, name: &str) -> Result<Vec<&'a Expr>, Unsupported> {
    let FunctionArguments::List(list) = args else {
        return Err(Unsupported::at_keyword(
            format!("{name} without arguments"),
            name,
        ));
    };
    list.args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
            _ => Err(Unsupported::at_keyword(
                format!("{name} with named arguments: write them in order"),
                name,
            )),
        })
        .collect()
}

/// The subquery a window call stands for.
fn window_query(
    name: &str,
    args: &[&Expr],
    ctx: &SessionContext,
) -> Result<Box<Query>, Unsupported> {
    let usage = || {
        Unsupported::at_keyword(
            if name == "TUMBLE" {
                "TUMBLE takes (TABLE t, DESCRIPTOR(column), size [, offset])"
            } else {
                "HOP takes (TABLE t, DESCRIPTOR(column), slide, size [, offset])"
            },
            name,
        )
    };
    let table = match args.first() {
        Some(e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_))) => e.to_string(),
        _ => return Err(usage()),
    };
    let column = match args.get(1) {
        Some(Expr::Function(d)) if d.name.to_string().eq_ignore_ascii_case("DESCRIPTOR") => {
            match arguments(&d.args, "DESCRIPTOR")?.as_slice() {
                [c @ Expr::Identifier(_)] => c.to_string(),
                _ => return Err(usage()),
            }
        }
        _ => return Err(usage()),
    };
    let (slide, size, offset) = match (name, &args[2..]) {
        ("TUMBLE", [size]) => (*size, *size, None),
        ("TUMBLE", [size, offset]) => (*size, *size, Some(*offset)),
        ("HOP", [slide, size]) => (*slide, *size, None),
        ("HOP", [slide, size, offset]) => (*slide, *size, Some(*offset)),
        _ => return Err(usage()),
    };
    let micros = |e: &Expr, what: &str| {
        interval_micros(e, ctx).ok_or_else(|| {
            Unsupported::at_keyword(
                format!("{name}'s {what} must be a positive constant interval of days and time, got {e}"),
                name,
            )
        })
    };
    let (slide_us, size_us) = (micros(slide, "slide")?, micros(size, "size")?);
    let origin = match offset {
        None => "TIMESTAMP '1970-01-01 00:00:00'".to_string(),
        Some(o) => {
            interval_micros(o, ctx).ok_or_else(|| {
                Unsupported::at_keyword(
                    format!("{name}'s offset must be a constant interval of days and time"),
                    name,
                )
            })?;
            format!("TIMESTAMP '1970-01-01 00:00:00' + {o}")
        }
    };
    let windows = (size_us + slide_us - 1) / slide_us;
    if windows > MAX_HOP_WINDOWS {
        return Err(Unsupported::at_keyword(
            format!("HOP with {windows} windows per row (size / slide); at most {MAX_HOP_WINDOWS}"),
            name,
        ));
    }
    let copy = |back: i64| {
        let start = match back {
            0 => format!("DATE_BIN({slide}, {column}, {origin})"),
            n => format!(
                "DATE_BIN({slide}, {column}, {origin}) - INTERVAL '{} microseconds'",
                n * slide_us
            ),
        };
        format!(
            "SELECT *, {start} AS window_start, {start} + {size} AS window_end FROM {table} \
             WHERE {column} IS NOT NULL"
        )
    };
    let text = if name == "TUMBLE" {
        copy(0)
    } else {
        let copies: Vec<String> = (0..windows).map(copy).collect();
        format!(
            "SELECT * FROM ({}) AS hop_windows WHERE window_end > {column}",
            copies.join(" UNION ALL ")
        )
    };
    Parser::new(&GenericDialect {})
        .try_with_sql(&text)
        .and_then(|mut p| p.parse_query())
        .map_err(|e| Unsupported::at_keyword(format!("{name}: {e}"), name))
}

/// The length of a constant interval expression (`INTERVAL '1' HOUR`), in microseconds, when it has no months and
/// is positive.
fn interval_micros(e: &Expr, ctx: &SessionContext) -> Option<i64> {
    let value = crate::expr::fold_constant(&e.to_string(), ctx)?;
    crate::expr::interval_micros(&value).filter(|m| *m > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanking_keeps_every_position() {
        let sql = "SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' HOUR)) x, \
                   TABLE(hop(\n  table u, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)) y \
                   WHERE 'TUMBLE(TABLE' <> ''";
        let out = blank_table_arguments(sql);
        assert_eq!(out.len(), sql.len());
        assert!(out.contains("TUMBLE(      t,"), "{out}");
        assert!(out.contains("hop(\n        u,"), "{out}");
        // Not inside a string literal.
        assert!(out.contains("'TUMBLE(TABLE'"), "{out}");
    }
}
