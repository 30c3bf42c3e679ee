//! The runtime of one pipeline.
//!
//! What exists so far is the output side, [`output::OutputConnector`]: between the circuit's per-view deltas and a
//! transport endpoint it owns the queue, the encoding thread, the backpressure signal and the stats, so that
//! neither the encoder nor the transport has to know about either (the encoder stays a pure function of schema and
//! delta; the transport sees only bytes).
//!
//! A pipeline must run without the REST server: nothing here knows HTTP or the manager's database. This crate
//! depends on `sluice-formats` and `sluice-transports`, never the other way round.

pub mod output;
