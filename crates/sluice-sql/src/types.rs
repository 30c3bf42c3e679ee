//! Mapping between SQL types as written in `CREATE TABLE`, Sluice's [`SqlType`], and Arrow types (DataFusion's).
//!
//! Tables keep the declared type (`CHAR(3)`, `VARCHAR(10)`) in their schema; views get the type DataFusion
//! infers, mapped back with [`sql_type_of_arrow`]. Values follow one representation per type whatever the Arrow
//! unit: TIME is nanoseconds and TIMESTAMP microseconds (see `sluice_data::Value`).

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::sql::sqlparser::ast::{
    BinaryLength, CharacterLength, DataType as AstType, ExactNumberInfo, TimezoneInfo,
};
use sluice_data::SqlType;

use crate::error::{LowerResult, Unsupported};

/// DataFusion's default `DECIMAL` precision when none is written.
const DEFAULT_DECIMAL_PRECISION: u8 = 38;

/// The Sluice and Arrow types of a column type written in `CREATE TABLE`.
pub fn column_type(ast: &AstType) -> LowerResult<(SqlType, DataType)> {
    let char_len = |l: &Option<CharacterLength>| match l {
        Some(CharacterLength::IntegerLength { length, .. }) => Some(*length as u32),
        _ => None,
    };
    let sql = match ast {
        AstType::Boolean | AstType::Bool => SqlType::Boolean,
        AstType::TinyInt(_) => SqlType::TinyInt,
        AstType::SmallInt(_) | AstType::Int2(_) => SqlType::SmallInt,
        AstType::Int(_) | AstType::Integer(_) | AstType::Int4(_) => SqlType::Int,
        AstType::BigInt(_) | AstType::Int8(_) => SqlType::BigInt,
        AstType::Real | AstType::Float4 => SqlType::Real,
        AstType::Double(_) | AstType::DoublePrecision | AstType::Float8 => SqlType::Double,
        AstType::Decimal(info) | AstType::Numeric(info) | AstType::Dec(info) => {
            let (precision, scale) = match info {
                ExactNumberInfo::None => (DEFAULT_DECIMAL_PRECISION, 0),
                ExactNumberInfo::Precision(p) => (*p as u8, 0),
                ExactNumberInfo::PrecisionAndScale(p, s) => (*p as u8, *s as u8),
            };
            if precision == 0 || precision > 38 || scale > precision {
                return Err(Unsupported::at_keyword(
                    format!("DECIMAL({precision}, {scale}): precision must be 1..=38 and scale at most the precision"),
                    "DECIMAL",
                ));
            }
            SqlType::Decimal { precision, scale }
        }
        AstType::Char(l) | AstType::Character(l) => SqlType::Char {
            length: char_len(l),
        },
        AstType::Varchar(l) | AstType::CharacterVarying(l) => SqlType::Varchar {
            length: char_len(l),
        },
        AstType::Text | AstType::String(_) => SqlType::varchar(),
        AstType::Date => SqlType::Date,
        AstType::Time(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => SqlType::Time,
        AstType::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => {
            SqlType::Timestamp
        }
        AstType::Varbinary(l) => SqlType::Varbinary {
            length: match l {
                Some(BinaryLength::IntegerLength { length }) => Some(*length as u32),
                _ => None,
            },
        },
        AstType::Bytea => SqlType::Varbinary { length: None },
        AstType::Binary(l) => SqlType::Binary {
            length: l.map(|n| n as u32),
        },
        other => {
            return Err(Unsupported::at_keyword(
                format!("column type {other} is not supported"),
                other.to_string(),
            ))
        }
    };
    let arrow = arrow_type(&sql)?;
    Ok((sql, arrow))
}

/// The Arrow type Sluice registers for a column of `sql` type.
pub fn arrow_type(sql: &SqlType) -> LowerResult<DataType> {
    Ok(match sql {
        SqlType::Boolean => DataType::Boolean,
        SqlType::TinyInt => DataType::Int8,
        SqlType::SmallInt => DataType::Int16,
        SqlType::Int => DataType::Int32,
        SqlType::BigInt => DataType::Int64,
        SqlType::Real => DataType::Float32,
        SqlType::Double => DataType::Float64,
        SqlType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale as i8),
        SqlType::Char { .. } | SqlType::Varchar { .. } => DataType::Utf8,
        SqlType::Date => DataType::Date32,
        SqlType::Time => DataType::Time64(TimeUnit::Nanosecond),
        SqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        SqlType::Binary { .. } | SqlType::Varbinary { .. } => DataType::Binary,
        SqlType::Null => DataType::Null,
        other => {
            return Err(Unsupported::new(format!(
                "type {} is not supported",
                other.sql_name()
            )))
        }
    })
}

/// The Sluice type of a value DataFusion types as `arrow`, or an error naming the Arrow type.
pub fn sql_type_of_arrow(arrow: &DataType) -> LowerResult<SqlType> {
    Ok(match arrow {
        DataType::Boolean => SqlType::Boolean,
        DataType::Int8 => SqlType::TinyInt,
        DataType::Int16 => SqlType::SmallInt,
        DataType::Int32 => SqlType::Int,
        // Unsigned results (ROW_NUMBER, RANK) are BIGINT values; counts never exceed i64.
        DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => SqlType::BigInt,
        DataType::Float32 => SqlType::Real,
        DataType::Float64 => SqlType::Double,
        DataType::Decimal128(precision, scale) if *scale >= 0 => SqlType::Decimal {
            precision: *precision,
            scale: *scale as u8,
        },
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => SqlType::varchar(),
        DataType::Date32 => SqlType::Date,
        DataType::Time64(_) | DataType::Time32(_) => SqlType::Time,
        DataType::Timestamp(_, None) => SqlType::Timestamp,
        DataType::Binary | DataType::BinaryView | DataType::LargeBinary => {
            SqlType::Varbinary { length: None }
        }
        DataType::Null => SqlType::Null,
        DataType::Duration(_) => {
            return Err(Unsupported::new(
                "a TIMESTAMP − TIMESTAMP difference (a duration) cannot be a column: \
                 CAST(a - b AS BIGINT) gives it in microseconds (nanoseconds when a side is a TIMESTAMP literal), \
                 EXTRACT(EPOCH FROM a - b) in seconds",
            ))
        }
        other => {
            return Err(Unsupported::new(format!(
                "values of Arrow type {other} are not supported"
            )))
        }
    })
}
