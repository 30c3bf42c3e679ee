//! Format configs, one module per format, and the key and header settings they share (`message`).

pub mod avro;
pub mod csv;
pub mod json;
pub mod message;
