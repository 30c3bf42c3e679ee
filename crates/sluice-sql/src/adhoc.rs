//! Ad-hoc queries: one `SELECT` run by DataFusion over rows given here (a running pipeline's view contents).
//!
//! The incremental engine answers only the views a program declares; a user exploring a pipeline wants to ask
//! anything of what those views hold now. DataFusion, already the front end, executes such a query once over the
//! rows read from the engine, registered as in-memory tables under the relations' names.

use std::sync::Arc;

use datafusion::arrow::array::{new_empty_array, ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field as ArrowField, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::{ScalarValue, TableReference};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::Statement;
use sluice_data::{Field, Relation, Row, Value};

use crate::expr::scalar_value;
use crate::types::{arrow_type, sql_type_of_arrow};

/// The answer of an ad-hoc query.
#[derive(Debug)]
pub struct QueryOutput {
    /// The result's columns (named `result` when the query has no name for them).
    pub relation: Relation,
    /// The result's rows, in the query's order.
    pub rows: Vec<Row>,
    /// The result as a text table, as a terminal shows it.
    pub text: String,
}

/// The tables and views `sql` reads (names normalised as the program's are: unquoted ones lower-cased). Refuses
/// anything but one query.
pub fn referenced_relations(sql: &str) -> Result<Vec<String>, String> {
    let statement = parse(sql)?;
    let state = SessionContext::new().state();
    let refs = state
        .resolve_table_references(&statement)
        .map_err(|e| e.to_string())?;
    let mut names: Vec<String> = Vec::new();
    for r in refs {
        if r.schema().is_some() {
            return Err(format!(
                "{r}: relations are named without a schema or catalog"
            ));
        }
        let name = r.table().to_string();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

fn parse(sql: &str) -> Result<DFStatement, String> {
    let mut statements = DFParser::parse_sql(sql).map_err(|e| e.to_string())?;
    if statements.len() != 1 {
        return Err(format!(
            "an ad-hoc query is one SELECT statement, found {}",
            statements.len()
        ));
    }
    let statement = statements.pop_front().expect("one statement");
    match &statement {
        DFStatement::Statement(s) if matches!(**s, Statement::Query(_)) => Ok(statement),
        _ => Err("an ad-hoc query is a SELECT (or WITH ... SELECT, VALUES): it reads views, it does not change them".into()),
    }
}

/// Runs `sql` over `inputs` (each relation with its rows and their multiplicities).
pub fn run_query(sql: &str, inputs: &[(Relation, Vec<(Row, i64)>)]) -> Result<QueryOutput, String> {
    let statement = parse(sql)?;
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    for (relation, rows) in inputs {
        let batch = to_batch(relation, rows)?;
        let table =
            MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(|e| e.to_string())?;
        ctx.register_table(TableReference::bare(relation.name.clone()), Arc::new(table))
            .map_err(|e| e.to_string())?;
    }
    let state = ctx.state();
    let batches = futures::executor::block_on(async {
        let plan = state.statement_to_plan(statement).await?;
        ctx.execute_logical_plan(plan).await?.collect().await
    })
    .map_err(|e| e.to_string())?;
    let schema = match batches.first() {
        Some(b) => b.schema(),
        None => Arc::new(Schema::empty()),
    };
    let mut fields = Vec::new();
    for f in schema.fields() {
        let t = sql_type_of_arrow(f.data_type())
            .map_err(|u| format!("column {}: {}", f.name(), u.message))?;
        fields.push(Field::new(f.name().clone(), t, f.is_nullable()));
    }
    let mut rows = Vec::new();
    for b in &batches {
        for i in 0..b.num_rows() {
            let row = b
                .columns()
                .iter()
                .map(|c| {
                    let s = ScalarValue::try_from_array(c, i).map_err(|e| e.to_string())?;
                    scalar_value(&s).map_err(|u| u.message)
                })
                .collect::<Result<Vec<Value>, String>>()?;
            rows.push(Row(row));
        }
    }
    let text = pretty_format_batches(&batches)
        .map_err(|e| e.to_string())?
        .to_string();
    Ok(QueryOutput {
        relation: Relation::new("result", fields),
        rows,
        text,
    })
}

/// `rows` (each repeated by its multiplicity) as one Arrow batch of `relation`'s schema.
pub fn to_batch(relation: &Relation, rows: &[(Row, i64)]) -> Result<RecordBatch, String> {
    let mut arrow_fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, f) in relation.fields.iter().enumerate() {
        let t = arrow_type(&f.sql_type)
            .map_err(|u| format!("{}.{}: {}", relation.name, f.name, u.message))?;
        let values = rows
            .iter()
            .flat_map(|(row, n)| std::iter::repeat_n(&row.0[i], (*n).max(0) as usize))
            .map(|v| to_scalar(v, &t))
            .collect::<Result<Vec<_>, String>>()?;
        let column = if values.is_empty() {
            new_empty_array(&t)
        } else {
            ScalarValue::iter_to_array(values).map_err(|e| e.to_string())?
        };
        arrow_fields.push(ArrowField::new(f.name.clone(), t, f.nullable));
        columns.push(column);
    }
    RecordBatch::try_new(Arc::new(Schema::new(arrow_fields)), columns).map_err(|e| e.to_string())
}

/// A value as the Arrow scalar of a column of type `t`.
pub fn to_scalar(v: &Value, t: &DataType) -> Result<ScalarValue, String> {
    Ok(match (v, t) {
        (Value::Null, t) => ScalarValue::try_from(t).map_err(|e| e.to_string())?,
        (Value::Bool(b), _) => ScalarValue::Boolean(Some(*b)),
        (Value::TinyInt(x), _) => ScalarValue::Int8(Some(*x)),
        (Value::SmallInt(x), _) => ScalarValue::Int16(Some(*x)),
        (Value::Int(x), _) => ScalarValue::Int32(Some(*x)),
        (Value::BigInt(x), _) => ScalarValue::Int64(Some(*x)),
        (Value::Real(x), _) => ScalarValue::Float32(Some(x.0)),
        (Value::Double(x), _) => ScalarValue::Float64(Some(x.0)),
        (Value::Decimal(d), DataType::Decimal128(p, s)) => {
            ScalarValue::Decimal128(Some(d.mantissa()), *p, *s)
        }
        (Value::String(s), _) => ScalarValue::Utf8(Some(s.to_string())),
        (Value::Date(d), _) => ScalarValue::Date32(Some(*d)),
        (Value::Time(n), _) => ScalarValue::Time64Nanosecond(Some(*n as i64)),
        (Value::Timestamp(t), _) => ScalarValue::TimestampMicrosecond(Some(*t), None),
        (Value::Bytes(b), _) => ScalarValue::Binary(Some(b.to_vec())),
        (v, t) => return Err(format!("cannot convert {v:?} to {t}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_data::SqlType;

    fn totals() -> (Relation, Vec<(Row, i64)>) {
        let r = Relation::new(
            "totals",
            vec![
                Field::new("customer", SqlType::varchar(), false),
                Field::new("total", SqlType::BigInt, false),
            ],
        );
        let rows = vec![
            (Row(vec![Value::from("bob"), Value::BigInt(25)]), 1),
            (Row(vec![Value::from("alice"), Value::BigInt(17)]), 2),
        ];
        (r, rows)
    }

    /// A query runs over the given rows, each as many times as its multiplicity, and reports its columns.
    #[test]
    fn runs_a_select_over_given_rows() {
        let out = run_query(
            "SELECT customer, SUM(total) AS s FROM Totals GROUP BY customer ORDER BY customer",
            &[totals()],
        )
        .unwrap();
        assert_eq!(
            out.rows,
            vec![
                Row(vec![Value::from("alice"), Value::BigInt(34)]),
                Row(vec![Value::from("bob"), Value::BigInt(25)]),
            ]
        );
        assert_eq!(out.relation.fields[1].name, "s");
        assert!(out.text.contains("| alice"), "{}", out.text);
    }

    #[test]
    fn names_what_it_reads_and_refuses_changes() {
        let mut names =
            referenced_relations("SELECT * FROM a JOIN \"B\" ON a.x = \"B\".x").unwrap();
        names.sort();
        assert_eq!(names, vec!["B".to_string(), "a".to_string()]);
        assert!(referenced_relations("INSERT INTO a VALUES (1)")
            .unwrap_err()
            .contains("SELECT"));
        assert!(referenced_relations("SELECT 1; SELECT 2").is_err());
    }
}
