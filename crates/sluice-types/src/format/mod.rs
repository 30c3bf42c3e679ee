//! Format configs, one module per format.

pub mod csv;
pub mod json;
