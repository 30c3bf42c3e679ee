//! One module per subcommand.

pub mod api_key;
pub mod kafka;
pub mod serve;

/// The broker address used when none is given: the local broker that `scripts/broker.sh` starts.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:19092";
