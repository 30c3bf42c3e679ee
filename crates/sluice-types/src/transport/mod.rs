//! Transport configs, one module per transport family.

pub mod kafka;
pub mod kafka_input;
