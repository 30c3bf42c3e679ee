//! The `sluice` command: thin argument parsing and logging set-up in front of the library crates.
//!
//! Each subcommand lives in its own module under `cmd/`. Only this crate reads argv and the environment. It must not
//! depend on the engine (`sluice-engine`, dbsp): it reaches pipelines only through `sluice-server`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// The engine allocates a row (a `Vec` of values) for most rows that flow through a step; with glibc's
/// allocator that was about a tenth of the engine's time in the throughput benchmark (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sluice: a streaming SQL engine that keeps views up to date and streams their changes to Kafka.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Log filter, in `tracing` env-filter syntax (e.g. `info`, `sluice=debug,librdkafka=warn`).
    #[arg(long, global = true, env = "SLUICE_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API (/v0): connectors, programs, pipelines and API keys, stored durably.
    Serve(cmd::serve::Args),
    /// Manage API keys without a running server.
    #[command(subcommand)]
    ApiKey(cmd::api_key::Command),
    /// Kafka tools: wait for a broker, create or delete a topic, write lines to a topic, read a topic.
    #[command(subcommand)]
    Kafka(cmd::kafka::Command),
}

/// Standard error, with every secret value the process knows replaced by the mask
/// (`sluice_types::secret::redact`): a librdkafka log line or an error may quote one. The formatter writes each
/// event in one call, so a secret is never split across two writes.
struct ScrubbedStderr;

impl std::io::Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let scrubbed = sluice_types::secret::redact::scrub(&text);
        std::io::stderr().write_all(scrubbed.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cli.log))
        .with_writer(|| ScrubbedStderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::ApiKey(command) => cmd::api_key::run(command),
        Command::Kafka(command) => cmd::kafka::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
