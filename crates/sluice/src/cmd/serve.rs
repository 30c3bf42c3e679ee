//! `sluice serve`: the REST API server.
//!
//! With no flags it serves on 127.0.0.1:8080 without authentication, storing everything in SQLite under the
//! data directory. Binding to a non-loopback address without authentication is refused unless
//! `--allow-unauthenticated-public-bind` says it is meant, and then logged as a warning.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{bail, Context};
use sluice_server::AuthMode;
use sluice_server::{validate_origin, BrowserPolicy};
use sluice_server::{AppState, ServerConfig, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INGRESS_BYTES};
use sluice_server::{Db, DbLocation};
use sluice_server::{SecretKey, Secrets};
use sluice_types::secret::KafkaOptionPolicy;

/// Where the database is: shared by `serve` and `api-key`.
#[derive(clap::Args, Debug, Clone)]
pub struct DbArgs {
    /// Directory for the SQLite database (`sluice.db`), created on first start. Default:
    /// `$XDG_DATA_HOME/sluice`, else `$HOME/.local/share/sluice`, else `./.sluice`.
    #[arg(long, env = "SLUICE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use this database instead of the data directory: `postgres://user:pass@host:port/db` (or `sqlite:FILE`).
    #[arg(long, env = "SLUICE_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DbArgs {
    /// The database location these flags name.
    pub fn location(&self) -> DbLocation {
        match (&self.database_url, &self.data_dir) {
            (Some(url), _) => DbLocation::Url(url.clone()),
            (None, Some(dir)) => DbLocation::DataDir(dir.clone()),
            (None, None) => DbLocation::DataDir(default_data_dir()),
        }
    }

    /// Opens (creating and migrating) the database.
    pub async fn open(&self) -> anyhow::Result<Db> {
        let location = self.location();
        let db = Db::open(&location).await.with_context(|| match &location {
            DbLocation::DataDir(dir) => format!("opening the database in {}", dir.display()),
            DbLocation::Url(_) => "opening the database at --database-url".to_string(),
        })?;
        Ok(db)
    }
}

impl DbArgs {
    /// The data directory: `--data-dir` or the default, also when the database is elsewhere (the secret key and
    /// the secrets live there).
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(default_data_dir)
    }
}

fn default_data_dir() -> PathBuf {
    let non_empty = |v: std::ffi::OsString| (!v.is_empty()).then(|| PathBuf::from(v));
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").and_then(non_empty) {
        return xdg.join("sluice");
    }
    if let Some(home) = std::env::var_os("HOME").and_then(non_empty) {
        return home.join(".local/share/sluice");
    }
    PathBuf::from(".sluice")
}

/// How requests to `/v0` are authenticated.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum AuthArg {
    /// No authentication (the default); the server then binds to loopback only.
    None,
    /// Every /v0 request needs `Authorization: Bearer apikey:<key>`; create a first key with
    /// `sluice api-key create NAME`.
    ApiKey,
}

/// Flags of `sluice serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on. Anything but loopback needs `--auth api-key` (or
    /// `--allow-unauthenticated-public-bind`).
    #[arg(long, env = "SLUICE_BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// TCP port to listen on.
    #[arg(long, env = "SLUICE_PORT", default_value_t = 8080)]
    pub port: u16,
    #[command(flatten)]
    pub db: DbArgs,
    /// Authentication of /v0 requests.
    #[arg(long, env = "SLUICE_AUTH", value_enum, default_value = "none")]
    pub auth: AuthArg,
    /// Allow `--bind` to a non-loopback address with `--auth none` (anyone who can reach the port can then
    /// change everything); logged as a warning.
    #[arg(long, env = "SLUICE_ALLOW_UNAUTHENTICATED_PUBLIC_BIND")]
    pub allow_unauthenticated_public_bind: bool,
    /// How long stopping a pipeline (and the server, on SIGTERM or Ctrl-C) waits for output connectors to deliver
    /// what they hold, in seconds; the server exits at most a few seconds after that, whatever clients hold open.
    #[arg(long, env = "SLUICE_SHUTDOWN_TIMEOUT_SECS", default_value_t = 60)]
    pub shutdown_timeout_secs: u64,
    /// Largest request body accepted, in bytes, except ingress bodies; larger bodies get 413.
    #[arg(long, env = "SLUICE_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Largest ingress body accepted, in bytes; larger bodies get 413. Bodies are parsed as they arrive: a request
    /// holds its parsed records in memory until it is applied (all or nothing), not a copy of its text.
    #[arg(long, env = "SLUICE_MAX_INGRESS_BYTES", default_value_t = DEFAULT_MAX_INGRESS_BYTES)]
    pub max_ingress_bytes: u64,
    /// The key that seals secret option values in the database (64 hex digits; created, readable by the owner
    /// only, when missing). Default: `secret.key` in the data directory. Losing it makes stored secrets unreadable.
    #[arg(long, env = "SLUICE_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Where `${secret:NAME}` references are read from (file NAME; `${secret:kubernetes:N/K}` reads
    /// `kubernetes/N/K`, so a mounted Kubernetes secret works). Default: `secrets` in the data directory.
    #[arg(long, env = "SLUICE_SECRETS_DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// Allow `${env:NAME}` references to environment variables whose name starts with PREFIX ("" allows every
    /// variable, including the server's own settings). Without it, environment references are refused.
    #[arg(long, env = "SLUICE_ENV_SECRET_PREFIX")]
    pub env_secret_prefix: Option<String>,
    /// A directory under which Kafka file-path options (`ssl.ca.location`, `ssl.key.location`,
    /// `sasl.kerberos.keytab`, ...) may point; repeat for more. Default: /etc/ssl/certs and `tls` in the data
    /// directory.
    #[arg(
        long = "kafka-file-dir",
        env = "SLUICE_KAFKA_FILE_DIRS",
        value_delimiter = ','
    )]
    pub kafka_file_dirs: Vec<PathBuf>,
    /// Accept Kafka options that run commands or load libraries (`sasl.kerberos.kinit.cmd`,
    /// `plugin.library.paths`, `ssl.engine.location`, `ssl.providers`). Whoever may write a connector can then run
    /// code as this server's user.
    #[arg(long, env = "SLUICE_ALLOW_KAFKA_CODE_EXECUTION")]
    pub allow_kafka_code_execution: bool,
    /// With `--auth none`: a host name, besides loopback names, that requests may be addressed to (the `Host`
    /// header); repeat for more.
    #[arg(
        long = "allowed-host",
        env = "SLUICE_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// An origin (`https://console.example.com`) whose pages may call the API from a browser (CORS); repeat for
    /// more. Without it, other sites' pages are refused.
    #[arg(
        long = "cors-origin",
        env = "SLUICE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// The directory `file_output` connectors write under; their `path` is relative to it. Default: `files` in
    /// the data directory.
    #[arg(long, env = "SLUICE_FILE_OUTPUT_DIR")]
    pub file_output_dir: Option<PathBuf>,
    /// With `--auth api-key`: `/metrics` needs a key too (a read-only key will do).
    #[arg(long, env = "SLUICE_METRICS_NEED_KEY")]
    pub metrics_need_key: bool,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<()> {
    let auth = match args.auth {
        AuthArg::None => AuthMode::None,
        AuthArg::ApiKey => AuthMode::ApiKey,
    };
    if auth == AuthMode::None && !args.bind.is_loopback() {
        if !args.allow_unauthenticated_public_bind {
            bail!(
                "refusing to serve on {} without authentication: use --auth api-key, bind to 127.0.0.1, or pass \
                 --allow-unauthenticated-public-bind if every host that can reach this port may change everything",
                args.bind
            );
        }
        tracing::warn!(bind = %args.bind, "Serving without authentication on a non-loopback address.");
    }
    for origin in &args.cors_origins {
        validate_origin(origin).map_err(|e| anyhow::anyhow!("--cors-origin: {e}"))?;
    }
    if args.allow_kafka_code_execution {
        tracing::warn!(
            "Kafka options that run commands or load libraries are allowed: whoever may write a connector can run \
             code as this server's user."
        );
    }
    let data_dir = args.db.data_dir();
    let key_file = args
        .secret_key_file
        .clone()
        .unwrap_or_else(|| data_dir.join("secret.key"));
    let key = SecretKey::load_or_create(&key_file)?;
    let file_dirs = if args.kafka_file_dirs.is_empty() {
        vec![PathBuf::from("/etc/ssl/certs"), data_dir.join("tls")]
    } else {
        args.kafka_file_dirs.clone()
    };
    let secrets = Secrets {
        key,
        dir: args
            .secrets_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("secrets")),
        env_prefix: args.env_secret_prefix.clone(),
        policy: KafkaOptionPolicy {
            allow_code_execution: args.allow_kafka_code_execution,
            file_dirs,
        },
    };
    let mut allowed_hosts: Vec<String> = args
        .allowed_hosts
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if !args.bind.is_unspecified() && !args.bind.is_loopback() {
        // Requests to the address itself cannot come from a rebound name.
        allowed_hosts.push(args.bind.to_string());
    }
    let browser = BrowserPolicy {
        allowed_hosts,
        cors_origins: args.cors_origins.clone(),
    };
    let file_output_dir = args
        .file_output_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("files"));
    // Durable pipelines' journals and checkpoints, one directory per pipeline id.
    let state_dir = data_dir.join("pipelines");
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let db = args.db.open().await?;
        let addr = SocketAddr::new(args.bind, args.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        tracing::info!(address = %listener.local_addr()?, backend = ?db.backend(), auth = ?auth, "Serving the Sluice API.");
        let config = ServerConfig {
            auth,
            max_body_bytes: args.max_body_bytes,
            max_ingress_bytes: args.max_ingress_bytes,
            shutdown_timeout: std::time::Duration::from_secs(args.shutdown_timeout_secs),
            secrets,
            browser,
            metrics_need_key: args.metrics_need_key,
            file_output_dir,
            state_dir,
        };
        let state = AppState::new(db.clone(), config);
        sluice_server::run(listener, state, shutdown_signal()).await?;
        db.close().await;
        tracing::info!("Server stopped.");
        Ok(())
    })
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("Shutting down.");
}
