//! Compile errors, shaped like Feldera's `SqlError` status so the API can show them unchanged.

use serde::Serialize;

/// One problem found while compiling a program.
///
/// `line` and `column` are 1-based and point at the construct when DataFusion's parser gives its position,
/// otherwise at the start of the statement that contains it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SqlError {
    /// 1-based line of the construct (or its statement).
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// What is wrong, naming the construct.
    pub message: String,
    /// `true` for a warning that does not stop compilation.
    pub warning: bool,
}

impl SqlError {
    /// An error at a position.
    pub fn at(pos: Pos, message: impl Into<String>) -> Self {
        SqlError {
            line: pos.line,
            column: pos.column,
            message: message.into(),
            warning: false,
        }
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.warning { "warning" } else { "error" };
        write!(
            f,
            "{kind} at line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// A 1-based source position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
}

/// All errors of a failed compilation (at least one of which is not a warning).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("program does not compile: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct CompileErrors(pub Vec<SqlError>);

/// Why an expression or a plan node could not be lowered: a message naming the construct.
///
/// The program compiler attaches the statement's position and, when it can find the construct's keyword in
/// the statement text, that keyword's position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// What is not supported, e.g. "window function NTILE".
    pub message: String,
    /// A word of the construct to look for in the statement text (e.g. "NTILE"), for a finer position.
    pub keyword: Option<String>,
}

impl Unsupported {
    /// An unsupported construct with no keyword to locate.
    pub fn new(message: impl Into<String>) -> Self {
        Unsupported {
            message: message.into(),
            keyword: None,
        }
    }

    /// An unsupported construct whose position is where `keyword` first appears in the statement.
    pub fn at_keyword(message: impl Into<String>, keyword: impl Into<String>) -> Self {
        Unsupported {
            message: message.into(),
            keyword: Some(keyword.into()),
        }
    }
}

/// Lowering result.
pub type LowerResult<T> = Result<T, Unsupported>;

/// The byte offset of a 1-based line and column (columns count characters).
pub(crate) fn offset(sql: &str, line: u64, column: u64) -> usize {
    let mut off = 0;
    for (i, l) in sql.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            return off
                + l.char_indices()
                    .nth(column.saturating_sub(1) as usize)
                    .map_or(l.len(), |(b, _)| b);
        }
        off += l.len();
    }
    sql.len()
}
