//! Checking input rows against their table's schema before they enter the circuit.
//!
//! A row must have one value per column, each of the column's type (integers of another width are accepted
//! when the value fits), and NULL only in nullable columns. Decimals are rescaled to the column's declared
//! scale, which keeps every value of a column at one scale, as the row ordering requires (see `row.rs`).

use sluice_data::{Relation, Row, SqlType, Value};
use sluice_sql::TableDef;

use crate::error::EngineError;

/// Checks a change (`row` with `weight`, negative for a delete) against `table`: [`validate`]s the row and refuses
/// a delete on an append-only table.
pub fn validate_change(table: &TableDef, row: Row, weight: i64) -> Result<Row, EngineError> {
    if weight < 0 && table.append_only {
        return Err(EngineError::AppendOnly {
            table: table.relation.name.clone(),
            row: row.to_string(),
        });
    }
    validate(&table.relation, row)
}

/// Checks `row` against `table` and normalises it; the error names the table, the column and the value.
pub fn validate(table: &Relation, row: Row) -> Result<Row, EngineError> {
    if row.0.len() != table.fields.len() {
        return Err(EngineError::Arity {
            table: table.name.clone(),
            row: row.to_string(),
            found: row.0.len(),
            expected: table.fields.len(),
        });
    }
    // Nearly every row is already right: a tight loop finds that out without building any error context.
    let plain = table
        .fields
        .iter()
        .zip(&row.0)
        .all(|(field, value)| already_conforms(field.nullable, &field.sql_type, value));
    if plain {
        return Ok(row);
    }
    let mut row = row;
    for (field, value) in table.fields.iter().zip(row.0.iter_mut()) {
        let invalid = |value: &Value, message: String| EngineError::InvalidValue {
            table: table.name.clone(),
            column: field.name.clone(),
            value: Row(vec![value.clone()])
                .to_string()
                .trim_matches(|c| c == '(' || c == ')')
                .to_string(),
            message,
        };
        if value.is_null() {
            if !field.nullable {
                return Err(invalid(value, "NULL in a NOT NULL column".into()));
            }
            continue;
        }
        // Rows are checked in place: only values of another integer width or decimal scale are replaced.
        if let Some(converted) = conform(&field.sql_type, value).map_err(|m| invalid(value, m))? {
            *value = converted;
        }
    }
    Ok(row)
}

/// Whether `v` is stored as is in a column of type `t`: the common cases of [`conform`] returning `None`, and
/// NULL where it is allowed. `false` only means "look closer".
#[inline]
fn already_conforms(nullable: bool, t: &SqlType, v: &Value) -> bool {
    matches!(
        (t, v),
        (SqlType::BigInt, Value::BigInt(_))
            | (SqlType::Int, Value::Int(_))
            | (SqlType::Boolean, Value::Bool(_))
            | (SqlType::Double, Value::Double(_))
            | (SqlType::Real, Value::Real(_))
            | (SqlType::Date, Value::Date(_))
            | (SqlType::Timestamp, Value::Timestamp(_))
            | (
                SqlType::Varchar { length: None } | SqlType::Char { .. },
                Value::String(_)
            )
            | (
                SqlType::Varbinary { length: None } | SqlType::Binary { .. },
                Value::Bytes(_)
            )
    ) || (nullable && v.is_null())
}

/// `None` when `v` already has the column's representation, else the converted value.
fn conform(t: &SqlType, v: &Value) -> Result<Option<Value>, String> {
    let expected = || format!("expected {}, found {}", t.sql_name(), v.kind());
    let int = sluice_sql::expr::as_int;
    let out_of_range = || format!("out of range for {}", t.sql_name());
    Ok(Some(match (t, v) {
        // SQL refuses a value longer than VARCHAR(n) rather than cut it; CHAR(n) is not checked (docs/sql.md).
        (SqlType::Varchar { length: Some(n) }, Value::String(s))
            if s.chars().count() > *n as usize =>
        {
            return Err(format!(
                "{} characters, longer than {}",
                s.chars().count(),
                t.sql_name()
            ))
        }
        (SqlType::Varbinary { length: Some(n) }, Value::Bytes(b)) if b.len() > *n as usize => {
            return Err(format!("{} bytes, longer than {}", b.len(), t.sql_name()))
        }
        (SqlType::Boolean, Value::Bool(_))
        | (SqlType::Real, Value::Real(_))
        | (SqlType::Double, Value::Double(_))
        | (SqlType::Char { .. } | SqlType::Varchar { .. }, Value::String(_))
        | (SqlType::Date, Value::Date(_))
        | (SqlType::Timestamp, Value::Timestamp(_))
        | (SqlType::Binary { .. } | SqlType::Varbinary { .. }, Value::Bytes(_))
        | (SqlType::BigInt, Value::BigInt(_))
        | (SqlType::Int, Value::Int(_)) => return Ok(None),
        (SqlType::Time, Value::Time(n)) if *n < 86_400_000_000_000 => return Ok(None),
        (SqlType::TinyInt, _) if int(v).is_some() => {
            Value::TinyInt(i8::try_from(int(v).unwrap_or_default()).map_err(|_| out_of_range())?)
        }
        (SqlType::SmallInt, _) if int(v).is_some() => {
            Value::SmallInt(i16::try_from(int(v).unwrap_or_default()).map_err(|_| out_of_range())?)
        }
        (SqlType::Int, _) if int(v).is_some() => {
            Value::Int(i32::try_from(int(v).unwrap_or_default()).map_err(|_| out_of_range())?)
        }
        (SqlType::BigInt, _) if int(v).is_some() => {
            Value::BigInt(i64::try_from(int(v).unwrap_or_default()).map_err(|_| out_of_range())?)
        }
        (SqlType::Decimal { precision, scale }, Value::Decimal(d)) => {
            let d = d.rescale(*scale).ok_or_else(out_of_range)?;
            if d.mantissa().unsigned_abs() >= 10u128.pow(u32::from(*precision)) {
                return Err(format!("does not fit in {}", t.sql_name()));
            }
            Value::Decimal(d)
        }
        _ => return Err(expected()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_data::Field;

    fn table() -> Relation {
        Relation::new(
            "t",
            vec![
                Field::new("id", SqlType::Int, false),
                Field::new(
                    "price",
                    SqlType::Decimal {
                        precision: 5,
                        scale: 2,
                    },
                    true,
                ),
            ],
        )
    }

    #[test]
    fn decimals_are_rescaled_to_the_column_scale() {
        let row = validate(
            &table(),
            Row(vec![
                Value::BigInt(1),
                Value::Decimal("1.5".parse().unwrap()),
            ]),
        )
        .unwrap();
        assert_eq!(row.0[0], Value::Int(1));
        assert_eq!(row.0[1], Value::Decimal("1.50".parse().unwrap()));
    }

    #[test]
    fn values_longer_than_varchar_or_varbinary_are_refused() {
        let t = Relation::new(
            "t",
            vec![
                Field::new("s", SqlType::Varchar { length: Some(3) }, true),
                Field::new("b", SqlType::Varbinary { length: Some(2) }, true),
            ],
        );
        assert!(validate(&t, Row(vec![Value::from("abc"), Value::Bytes(vec![1, 2])])).is_ok());
        // Characters, not bytes: three two-byte characters fit in VARCHAR(3).
        assert!(validate(&t, Row(vec![Value::from("äöü"), Value::Null])).is_ok());
        let err = validate(&t, Row(vec![Value::from("abcd"), Value::Null]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("column s") && err.contains("4 characters, longer than VARCHAR(3)"),
            "{err}"
        );
        let err = validate(&t, Row(vec![Value::Null, Value::Bytes(vec![1, 2, 3])]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("column b") && err.contains("3 bytes"), "{err}");
    }

    #[test]
    fn errors_name_table_column_and_value() {
        let err = validate(&table(), Row(vec![Value::Null, Value::Null]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("table t") && err.contains("column id") && err.contains("NULL"),
            "{err}"
        );
        let err = validate(&table(), Row(vec![Value::from("x"), Value::Null]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'x'") && err.contains("expected INT"), "{err}");
        let err = validate(
            &table(),
            Row(vec![Value::Int(1), Value::Decimal("1000".parse().unwrap())]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("column price") && err.contains("DECIMAL(5, 2)"),
            "{err}"
        );
    }

    /// The fast path may only accept what the full check leaves unchanged: every type against every kind of
    /// value, nullable or not.
    #[test]
    fn fast_path_accepts_only_what_the_full_check_keeps() {
        let types = [
            SqlType::Boolean,
            SqlType::TinyInt,
            SqlType::SmallInt,
            SqlType::Int,
            SqlType::BigInt,
            SqlType::Real,
            SqlType::Double,
            SqlType::Decimal {
                precision: 5,
                scale: 2,
            },
            SqlType::Char { length: Some(2) },
            SqlType::Varchar { length: None },
            SqlType::Varchar { length: Some(2) },
            SqlType::Date,
            SqlType::Time,
            SqlType::Timestamp,
            SqlType::Binary { length: Some(2) },
            SqlType::Varbinary { length: None },
            SqlType::Varbinary { length: Some(2) },
        ];
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::TinyInt(1),
            Value::SmallInt(1),
            Value::Int(1),
            Value::BigInt(1),
            Value::BigInt(i64::MAX),
            Value::Real(sluice_data::F32(1.5)),
            Value::Double(sluice_data::F64(1.5)),
            Value::Decimal("1.5".parse().unwrap()),
            Value::from("abc"),
            Value::Date(1),
            Value::Time(1),
            Value::Time(86_400_000_000_000),
            Value::Timestamp(1),
            Value::Bytes(vec![1, 2, 3]),
        ];
        let mut fast = 0;
        for t in &types {
            for v in &values {
                for nullable in [false, true] {
                    if already_conforms(nullable, t, v) {
                        fast += 1;
                        let full = validate(
                            &Relation::new("t", vec![Field::new("c", t.clone(), nullable)]),
                            Row(vec![v.clone()]),
                        );
                        assert_eq!(
                            full.ok(),
                            Some(Row(vec![v.clone()])),
                            "{t:?} {v:?} {nullable}"
                        );
                    }
                }
            }
        }
        // Not vacuous: the fast path does take the common cases.
        assert!(fast > 30, "{fast}");
    }
}
