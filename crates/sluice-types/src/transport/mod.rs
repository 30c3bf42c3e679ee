//! Transport configs, one module per transport family.

pub mod file;
pub mod kafka;
pub mod kafka_input;
