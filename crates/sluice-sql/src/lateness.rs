//! `LATENESS`, Feldera's column attribute (`ts TIMESTAMP NOT NULL LATENESS INTERVAL '1' HOUR`): how far behind the
//! newest value of the column a record may still arrive.
//!
//! DataFusion's parser does not know the attribute, so, like the `TABLE` of a window function, it is taken out of
//! the text before parsing: [`take_lateness_clauses`] blanks `LATENESS <expr>` in `CREATE TABLE` column definitions
//! (every position in the statement stays where it was) and returns what it blanked. The table compiler then
//! checks each clause against its column ([`Lateness::resolve`]): a TIMESTAMP takes an interval of days and time,
//! a DATE an interval of whole days, an integer column an integer; never negative.
//!
//! What the engine does with it: a column's waterline is its largest value so far minus the lateness; a record
//! below the waterline is late, dropped and counted, and the state of operators whose groups (or join keys) lie
//! wholly below it is trimmed (`bounds.rs` finds which).

use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::Unsupported;

/// One `LATENESS <expr>` as written, before it is checked against its column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LatenessClause {
    /// Byte offset of the keyword in the program text (to find the statement it belongs to).
    pub offset: usize,
    /// The column it follows, normalised like every name (unquoted ones lower-cased).
    pub column: String,
    /// The expression's text.
    pub expr: String,
}

/// A column's declared lateness, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lateness {
    /// The column's index in its table.
    pub column: usize,
    /// How late a record may be, in the column's own unit: microseconds for TIMESTAMP, days for DATE, the number
    /// itself for integers.
    pub amount: i64,
    /// The expression as written (`INTERVAL '1' HOUR`), for the schema Feldera's API shows.
    pub text: String,
}

impl Lateness {
    /// Checks `clause` against the column it follows (`index`, of type `data_type`).
    pub(crate) fn resolve(
        clause: &LatenessClause,
        index: usize,
        data_type: &DataType,
        ctx: &SessionContext,
    ) -> Result<Lateness, Unsupported> {
        let col = &clause.column;
        let refuse =
            |why: String| Unsupported::at_keyword(format!("LATENESS of column {col}: {why}"), col);
        let value = crate::expr::fold_constant(&clause.expr, ctx)
            .ok_or_else(|| refuse(format!("'{}' is not a constant", clause.expr)))?;
        let amount = match data_type {
            DataType::Timestamp(_, None) => crate::expr::interval_micros(&value).ok_or_else(|| {
                refuse(format!(
                    "a TIMESTAMP column takes an interval of days and time (no months or years), got '{}'",
                    clause.expr
                ))
            })?,
            DataType::Date32 => {
                const DAY: i64 = 86_400_000_000;
                let micros = crate::expr::interval_micros(&value)
                    .filter(|m| m % DAY == 0)
                    .ok_or_else(|| {
                        refuse(format!(
                            "a DATE column takes an interval of whole days, got '{}'",
                            clause.expr
                        ))
                    })?;
                micros / DAY
            }
            t if crate::expr::is_integer(t) => integer(&value).ok_or_else(|| {
                refuse(format!(
                    "an integer column takes an integer, got '{}'",
                    clause.expr
                ))
            })?,
            other => {
                return Err(refuse(format!(
                    "only TIMESTAMP, DATE and integer columns can have a lateness, not {other}"
                )))
            }
        };
        if amount < 0 {
            return Err(refuse(format!(
                "'{}' is negative; a lateness is at least 0",
                clause.expr
            )));
        }
        Ok(Lateness {
            column: index,
            amount,
            text: clause.expr.clone(),
        })
    }
}

/// `sql` with every `LATENESS <expr>` of a `CREATE TABLE` column blanked (byte offsets, lines and columns
/// unchanged), and the clauses taken out, in text order.
///
/// A clause is the keyword `LATENESS` after a column's name and type, up to the next `,` or `)` that closes the
/// column, or the next `NOT`, `NULL`, `PRIMARY` or `DEFAULT` that starts another attribute. A column *named*
/// `lateness` (right after `(` or `,`) is left alone, and so is anything outside `CREATE TABLE`.
pub(crate) fn take_lateness_clauses(sql: &str) -> (String, Vec<LatenessClause>) {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
        // The parser reports the same tokenizer error with its position.
        return (sql.to_string(), Vec::new());
    };
    let at = |t: &datafusion::sql::sqlparser::tokenizer::TokenWithSpan| {
        crate::error::offset(sql, t.span.start.line, t.span.start.column)
    };
    let words: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let is_word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    let mut out = sql.to_string();
    let mut clauses = Vec::new();
    let mut in_table = false;
    let mut statement_start = true;
    let mut depth = 0usize;
    let mut column: Option<String> = None;
    let mut i = 0;
    while i < words.len() {
        let t = &words[i].token;
        if statement_start {
            in_table = is_word(t, "CREATE")
                && words.get(1 + i).is_some_and(|n| is_word(&n.token, "TABLE"));
            statement_start = false;
        }
        match t {
            Token::SemiColon => {
                statement_start = true;
                depth = 0;
            }
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(w) if in_table && depth == 1 => {
                let prev = &words[i - 1].token;
                if matches!(prev, Token::LParen | Token::Comma) {
                    column = Some(if w.quote_style.is_some() {
                        w.value.clone()
                    } else {
                        w.value.to_lowercase()
                    });
                } else if is_word(t, "LATENESS") {
                    let start = at(words[i]);
                    let mut j = i + 1;
                    let mut inner = 0usize;
                    while let Some(n) = words.get(j) {
                        let ends = match &n.token {
                            Token::LParen => {
                                inner += 1;
                                false
                            }
                            Token::RParen if inner > 0 => {
                                inner -= 1;
                                false
                            }
                            Token::RParen | Token::Comma | Token::SemiColon | Token::EOF => {
                                inner == 0
                            }
                            tok => {
                                inner == 0
                                    && ["NOT", "NULL", "PRIMARY", "DEFAULT"]
                                        .iter()
                                        .any(|k| is_word(tok, k))
                            }
                        };
                        if ends {
                            break;
                        }
                        j += 1;
                    }
                    let end = words.get(j).map_or(sql.len(), |n| at(n));
                    let expr = sql[start + "LATENESS".len()..end].trim().to_string();
                    let blank: String = sql[start..end]
                        .chars()
                        .map(|c| if c == '\n' { '\n' } else { ' ' })
                        .collect();
                    // Characters and blanks may differ in byte length; keep the byte length instead.
                    let blank = if blank.len() == end - start {
                        blank
                    } else {
                        " ".repeat(end - start)
                    };
                    out.replace_range(start..end, &blank);
                    clauses.push(LatenessClause {
                        offset: start,
                        column: column.clone().unwrap_or_default(),
                        expr,
                    });
                    i = j;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    (out, clauses)
}

fn integer(v: &datafusion::common::ScalarValue) -> Option<i64> {
    use datafusion::common::ScalarValue as S;
    match v {
        S::Int8(Some(x)) => Some(i64::from(*x)),
        S::Int16(Some(x)) => Some(i64::from(*x)),
        S::Int32(Some(x)) => Some(i64::from(*x)),
        S::Int64(Some(x)) => Some(*x),
        S::UInt8(Some(x)) => Some(i64::from(*x)),
        S::UInt16(Some(x)) => Some(i64::from(*x)),
        S::UInt32(Some(x)) => Some(i64::from(*x)),
        S::UInt64(Some(x)) => i64::try_from(*x).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_are_blanked_in_place_and_names_of_columns_called_lateness_are_kept() {
        let sql = "CREATE TABLE t (id INT, ts TIMESTAMP NOT NULL LATENESS INTERVAL '1' HOUR,\n\
                   \"Late\" BIGINT LATENESS 10 NOT NULL, lateness INT);\n\
                   CREATE VIEW v AS SELECT lateness FROM t";
        let (out, clauses) = take_lateness_clauses(sql);
        assert_eq!(out.len(), sql.len());
        assert_eq!(out.lines().count(), sql.lines().count());
        assert!(!out.contains("INTERVAL"), "{out}");
        // " LATENESS 10 " became 13 blanks.
        assert!(
            out.contains(&format!("BIGINT{}NOT NULL", " ".repeat(13))),
            "{out}"
        );
        assert!(out.contains("lateness INT"), "{out}");
        assert!(out.contains("SELECT lateness FROM"), "{out}");
        let got: Vec<(&str, &str)> = clauses
            .iter()
            .map(|c| (c.column.as_str(), c.expr.as_str()))
            .collect();
        assert_eq!(got, [("ts", "INTERVAL '1' HOUR"), ("Late", "10")]);
        assert_eq!(&sql[clauses[0].offset..clauses[0].offset + 8], "LATENESS");
    }

    #[test]
    fn each_column_type_takes_its_unit_and_the_rest_is_refused() {
        let ctx = SessionContext::new();
        let clause = |e: &str| LatenessClause {
            offset: 0,
            column: "c".into(),
            expr: e.into(),
        };
        let ts = DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None);
        let ok =
            |e: &str, t: &DataType| Lateness::resolve(&clause(e), 0, t, &ctx).map(|l| l.amount);
        assert_eq!(ok("INTERVAL '1' HOUR", &ts), Ok(3_600_000_000));
        assert_eq!(ok("INTERVAL '2' DAY", &DataType::Date32), Ok(2));
        assert_eq!(ok("10", &DataType::Int64), Ok(10));
        assert_eq!(ok("0", &DataType::Int32), Ok(0));
        let err = |e: &str, t: &DataType| {
            Lateness::resolve(&clause(e), 0, t, &ctx)
                .unwrap_err()
                .message
        };
        assert!(err("INTERVAL '1' MONTH", &ts).contains("no months"));
        assert!(err("INTERVAL '1' HOUR", &DataType::Date32).contains("whole days"));
        assert!(err("INTERVAL '1' HOUR", &DataType::Int64).contains("an integer"));
        assert!(err("-5", &DataType::Int64).contains("negative"));
        assert!(err("x + 1", &DataType::Int64).contains("not a constant"));
        assert!(err("1", &DataType::Utf8).contains("only TIMESTAMP, DATE and integer"));
    }
}
