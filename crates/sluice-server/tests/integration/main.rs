//! The integration tests of `sluice-server`, in one test binary: each module was its own binary once, and every
//! binary links the whole dependency tree again (about 150 MB and a link step each).

// First, so that its `both_backends!` macro is in scope for the modules below.
#[macro_use]
mod common;

mod api_connectors;
mod api_embedded;
mod api_pipelines;
mod api_service;
mod durability;
mod fuzz_api;
mod fuzz_connectors;
mod ingress_bodies;
mod pipeline_runtime;
mod security;
