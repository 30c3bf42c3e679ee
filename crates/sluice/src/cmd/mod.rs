//! One module per subcommand.

pub mod api_key;
pub mod serve;
