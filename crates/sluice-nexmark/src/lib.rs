//! The Nexmark benchmark for Sluice: an online auction's event stream (people register, open auctions, bid) and the
//! standard queries over it, so that Sluice's speed can be set beside the figures Feldera, Flink and RisingWave
//! publish for the same queries.
//!
//! `generator` makes the events (our own code from the model's specification); `queries` holds the tables and the
//! queries in Sluice's SQL, and which queries Sluice cannot run. The benchmark that runs them is
//! `benches/nexmark.rs`; the tests check the stream's shape and that every query runs.
//!
//! Only rows and SQL text live here: it must not depend on the engine or any runtime crate (dbsp, datafusion,
//! rdkafka, axum, tokio, sqlx), so the same stream can feed the engine, a pipeline or a server.

mod generator;
mod queries;

pub use generator::{Config, Events, Generator};
pub use queries::{program, Query, NOT_SUPPORTED, QUERIES, TABLES};
