//! Relation schemas: the column names, SQL types and nullability that encoders and parsers need.

use serde::{Deserialize, Serialize};

/// A SQL column type, as Sluice stores and encodes values of it.
///
/// The serialized form (`{"type": "DECIMAL", "precision": 10, "scale": 2}` and so on) is the one the REST API
/// shows in a program's schema.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "UPPERCASE")]
pub enum SqlType {
    /// `BOOLEAN`.
    Boolean,
    /// `TINYINT`: 8-bit signed integer.
    TinyInt,
    /// `SMALLINT`: 16-bit signed integer.
    SmallInt,
    /// `INT` / `INTEGER`: 32-bit signed integer.
    Int,
    /// `BIGINT`: 64-bit signed integer.
    BigInt,
    /// `REAL`: 32-bit IEEE float.
    Real,
    /// `DOUBLE`: 64-bit IEEE float.
    Double,
    /// `DECIMAL(precision, scale)`: exact decimal with at most 38 significant digits.
    Decimal {
        /// Total number of significant digits.
        precision: u8,
        /// Digits after the decimal point.
        scale: u8,
    },
    /// `CHAR(n)`: fixed-length string; `None` when no length was declared.
    Char {
        /// Declared length in characters.
        length: Option<u32>,
    },
    /// `VARCHAR(n)` / `TEXT` / `STRING`; `None` for unbounded.
    Varchar {
        /// Declared maximum length in characters.
        length: Option<u32>,
    },
    /// `DATE`: a calendar day.
    Date,
    /// `TIME`: a time of day with nanosecond precision.
    Time,
    /// `TIMESTAMP`: a date and time without zone, microsecond precision.
    Timestamp,
    /// `BINARY(n)`: fixed-length bytes.
    Binary {
        /// Declared length in bytes.
        length: Option<u32>,
    },
    /// `VARBINARY` / `BYTEA`: variable-length bytes.
    Varbinary {
        /// Declared maximum length in bytes.
        length: Option<u32>,
    },
    /// `T ARRAY`: a list of elements of one type.
    Array {
        /// The element type.
        element: Box<SqlType>,
        /// Whether elements may be NULL.
        element_nullable: bool,
    },
    /// `MAP<K, V>`.
    Map {
        /// The key type.
        key: Box<SqlType>,
        /// The value type.
        value: Box<SqlType>,
        /// Whether values may be NULL.
        value_nullable: bool,
    },
    /// The type of a bare `NULL` literal.
    Null,
}

impl SqlType {
    /// Unbounded `VARCHAR`, the type most string columns have.
    pub const fn varchar() -> Self {
        SqlType::Varchar { length: None }
    }

    /// The SQL spelling of the type, as a user would write it in `CREATE TABLE`.
    pub fn sql_name(&self) -> String {
        fn len(name: &str, length: &Option<u32>) -> String {
            match length {
                Some(n) => format!("{name}({n})"),
                None => name.to_string(),
            }
        }
        match self {
            SqlType::Boolean => "BOOLEAN".into(),
            SqlType::TinyInt => "TINYINT".into(),
            SqlType::SmallInt => "SMALLINT".into(),
            SqlType::Int => "INT".into(),
            SqlType::BigInt => "BIGINT".into(),
            SqlType::Real => "REAL".into(),
            SqlType::Double => "DOUBLE".into(),
            SqlType::Decimal { precision, scale } => format!("DECIMAL({precision}, {scale})"),
            SqlType::Char { length } => len("CHAR", length),
            SqlType::Varchar { length } => len("VARCHAR", length),
            SqlType::Date => "DATE".into(),
            SqlType::Time => "TIME".into(),
            SqlType::Timestamp => "TIMESTAMP".into(),
            SqlType::Binary { length } => len("BINARY", length),
            SqlType::Varbinary { length } => len("VARBINARY", length),
            SqlType::Array { element, .. } => format!("{} ARRAY", element.sql_name()),
            SqlType::Map { key, value, .. } => {
                format!("MAP<{}, {}>", key.sql_name(), value.sql_name())
            }
            SqlType::Null => "NULL".into(),
        }
    }
}

/// One column of a relation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Field {
    /// The column name as the schema spells it: lower-cased when it was unquoted in SQL, verbatim when quoted.
    /// Encoders write it unchanged.
    pub name: String,
    /// The column's type.
    #[serde(rename = "columntype")]
    pub sql_type: SqlType,
    /// Whether the column may hold NULL.
    pub nullable: bool,
}

impl Field {
    /// A column with the given name, type and nullability.
    pub fn new(name: impl Into<String>, sql_type: SqlType, nullable: bool) -> Self {
        Field {
            name: name.into(),
            sql_type,
            nullable,
        }
    }
}

/// A table or view: its name and columns in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Relation {
    /// The relation name, with the same case rules as [`Field::name`].
    pub name: String,
    /// The columns, in the order of the values in each [`crate::Row`].
    pub fields: Vec<Field>,
}

impl Relation {
    /// A relation with the given name and columns.
    pub fn new(name: impl Into<String>, fields: Vec<Field>) -> Self {
        Relation {
            name: name.into(),
            fields,
        }
    }

    /// The position of the column called `name`, compared exactly.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}
