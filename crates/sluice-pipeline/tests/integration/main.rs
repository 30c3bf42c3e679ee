//! The integration tests of `sluice-pipeline`, in one test binary: each module was its own binary once, and every
//! binary links the whole dependency tree again (about 150 MB and a link step each).

mod avro;
mod durable;
mod endpoints;
mod keyed;
mod liveness;
mod output;
mod pipeline;
mod snapshot;
