//! The integration tests of `sluice-engine`, in one test binary: each module was its own binary once, and every
//! binary links the whole dependency tree again (about 150 MB and a link step each).

mod common;
mod compile_fuzz;
mod differential;
mod engine;
mod lateness;
mod random_programs;
mod snapshot;
mod tpch;
