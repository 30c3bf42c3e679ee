//! The integration tests of `sluice-formats`, in one test binary: each module was its own binary once, and every
//! binary links the whole dependency tree again (about 150 MB and a link step each).

mod avro;
mod common;
mod csv;
mod decode_csv;
mod decode_json;
mod decode_json_values;
mod decode_pieces;
mod decode_roundtrip;
mod json_errors;
mod json_vectors;
mod keys;
mod roundtrip;
