//! What the pipeline benches share: the book fair program and its generated rows, and the machine's load.
#![allow(dead_code)] // each bench uses part of it

use sluice_data::{Decimal, Row, Value};

/// The book fair: copies and revenue per title, a join and a GROUP BY.
pub const BOOK_FAIR: &str = include_str!("../../../../examples/book-fair.sql");

/// Books preloaded before the timed part.
pub const BOOKS: u64 = 10_000;

/// Book `id` of the `books` table.
pub fn book(id: u64) -> Row {
    Row::new(vec![
        Value::BigInt(id as i64),
        Value::from(format!("Collected Works, Volume {id:05}")),
        Value::Decimal(Decimal::new(i128::from(500 + id * 37 % 5_000), 2).unwrap()),
    ])
}

/// Sale number `i` of the `sales` table: for book `i % BOOKS`.
pub fn sale(i: u64) -> (Row, i64) {
    let row = Row::new(vec![
        Value::BigInt((i % BOOKS) as i64),
        Value::BigInt(1 + (i % 3) as i64),
    ]);
    (row, 1)
}

/// The 1, 5 and 15 minute load averages, to print beside figures.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
