//! `sluice api-key`: manage API keys directly in the database, without a running server, so that a server
//! started with `--auth api-key` can be reached at all.

use anyhow::Context;
use sluice_server::create_api_key;
use sluice_server::ApiPermission;

use super::serve::DbArgs;

/// API key subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Create a key called NAME and print it (it is shown once; only its SHA-256 hash is stored).
    Create {
        /// The key's name (letters, digits, '_' and '-').
        name: String,
        /// A read-only key: it may send GET requests and read egress streams, nothing else.
        #[arg(long)]
        read_only: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs an `api-key` subcommand.
pub fn run(command: Command) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match command {
        Command::Create {
            name,
            read_only,
            db,
        } => runtime.block_on(async move {
            let db = db.open().await?;
            let scopes = if read_only {
                vec![ApiPermission::Read]
            } else {
                vec![ApiPermission::Read, ApiPermission::Write]
            };
            let key = create_api_key(&db, &name, &scopes)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            db.close().await;
            eprintln!(
                "Created API key '{}' (id {}). It is shown only now; send it as 'Authorization: Bearer <key>'.",
                key.name, key.api_key_id
            );
            println!("{}", key.api_key);
            Ok(())
        }),
    }
}
