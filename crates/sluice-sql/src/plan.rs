//! Sluice's dataflow plan: the small set of relational operators the engine turns into a dbsp circuit.
//!
//! A [`Node`] tree is the lowered form of one view. Leaves are tables, earlier views (so views over views share
//! the circuit), a single empty row (`SELECT` without `FROM`) or nothing. Inner nodes carry compiled
//! [`Scalar`]s that compute over the input's row values. Every node's output is a Z-set of rows whose columns
//! are given by the view or sub-plan's schema.

use sluice_data::Row;

use crate::agg::AggCall;
use crate::expr::Scalar;
use crate::window::WindowCall;

/// `ORDER BY` keys live in `sort.rs`, below both this file and `window.rs`, which use them.
pub use crate::sort::SortKey;

/// One operator of a lowered view.
#[derive(Clone, Debug)]
pub enum Node {
    /// All rows of table number `.0` (its index in [`crate::Program::tables`]).
    Table(usize),
    /// All rows of view number `.0`, an earlier view of the same program.
    View(usize),
    /// A fixed bag of rows (`VALUES`, or one empty row for `SELECT` without `FROM`).
    Constant(Vec<Row>),
    /// The rows for which the predicate is true.
    Filter {
        /// The input.
        input: Box<Node>,
        /// Evaluated over the input row.
        predicate: Scalar,
    },
    /// One output row per input row, made of the expressions' values.
    Map {
        /// The input.
        input: Box<Node>,
        /// One expression per output column, over the input row.
        exprs: Vec<Scalar>,
    },
    /// A join of two inputs.
    Join(Box<JoinNode>),
    /// `GROUP BY keys` with aggregates; output rows are the key values followed by the aggregate values.
    Aggregate {
        /// The input.
        input: Box<Node>,
        /// Grouping expressions over the input row (empty for a global aggregate).
        keys: Vec<Scalar>,
        /// The values the aggregates read, evaluated once per input row; [`AggCall`] refers to them by index.
        args: Vec<Scalar>,
        /// The aggregates, in output order.
        aggs: Vec<AggCall>,
    },
    /// Each distinct row once.
    Distinct(Box<Node>),
    /// The sum of the inputs (`UNION ALL`).
    UnionAll(Vec<Node>),
    /// The first `fetch` rows after `skip` of each partition in `order` (`ORDER BY … LIMIT`).
    TopK {
        /// The input.
        input: Box<Node>,
        /// Partitioning expressions (empty: the whole input is one partition).
        partition: Vec<Scalar>,
        /// The sort order; ties are broken by the whole row so that the result is deterministic.
        order: Vec<SortKey>,
        /// Rows skipped (`OFFSET`).
        skip: usize,
        /// Rows kept after the skipped ones.
        fetch: usize,
    },
    /// Window functions: each input row followed by one value per function.
    Window {
        /// The input.
        input: Box<Node>,
        /// `PARTITION BY` expressions.
        partition: Vec<Scalar>,
        /// `ORDER BY` of the window.
        order: Vec<SortKey>,
        /// The functions, in output order.
        calls: Vec<WindowCall>,
        /// Only rows whose rank (the single ranking call's value) is at most this are output: set when the view
        /// filters on the rank (`WHERE rn <= k`), which turns the window into a per-partition top-k.
        rank_limit: Option<i64>,
    },
}

/// The kinds of join the engine implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    /// Matching pairs.
    Inner,
    /// Matching pairs, plus unmatched left rows padded with NULLs.
    Left,
    /// Matching pairs, plus unmatched right rows padded with NULLs.
    Right,
    /// Matching pairs, plus unmatched rows of both sides padded with NULLs.
    Full,
    /// Left rows that have a match (each once per its own multiplicity).
    LeftSemi,
    /// Left rows that have no match.
    LeftAnti,
    /// Right rows that have a match.
    RightSemi,
    /// Right rows that have no match.
    RightAnti,
}

/// An equi-join with an optional residual condition.
#[derive(Clone, Debug)]
pub struct JoinNode {
    /// Left input.
    pub left: Node,
    /// Right input.
    pub right: Node,
    /// The join kind.
    pub kind: JoinKind,
    /// Key expressions over the left row (empty for a cross join).
    pub left_keys: Vec<Scalar>,
    /// Key expressions over the right row, pairwise equal to `left_keys`.
    pub right_keys: Vec<Scalar>,
    /// Whether NULL keys match each other (set operations); otherwise a NULL key never matches.
    pub null_equal: bool,
    /// Extra condition over the concatenated row (left columns, then right).
    pub residual: Option<Scalar>,
    /// Number of left columns.
    pub left_width: usize,
    /// Number of right columns.
    pub right_width: usize,
}
