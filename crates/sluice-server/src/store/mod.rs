//! The second floor, durable storage: SQLite in the data directory by default, PostgreSQL when a `postgres://` URL is given.
//!
//! # Why one set of queries through `sqlx::Any`
//! The API needs the same behaviour on both backends, so every query and the migrations are written once in SQL
//! that both understand (TEXT, BIGINT, `$n` placeholders, which sqlx's SQLite driver binds by number) and run
//! through [`sqlx::AnyPool`]. Two query sets would double the code that must stay in step for no gain: the data
//! is small, and nothing here needs a backend-specific type. Ids are UUID v7 strings, JSON documents TEXT,
//! timestamps RFC 3339 TEXT, booleans BIGINT 0/1. Migrations are versioned files in `migrations/`, embedded
//! with `sqlx::migrate!` and applied at open, recorded in `_sqlx_migrations`.
//!
//! # Concurrency
//! SQLite gets a single pooled connection, which serialises writers (a control plane has few requests and this
//! rules out `SQLITE_BUSY` on lock upgrades). On PostgreSQL, create-or-replace may race with a concurrent
//! create of the same name; the unique constraint rejects the loser, which retries once it can see the winner's
//! row (`retry_on_conflict`), so concurrent PUTs neither duplicate nor fail.

pub mod api_keys;
pub mod connectors;
mod error;
pub mod pipelines;
pub mod programs;

use std::future::Future;
use std::path::{Path, PathBuf};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, FromRow, Transaction};

pub use error::{Entity, StoreError};

use crate::model::ListFilter;

/// Where the database lives.
#[derive(Clone, Debug)]
pub enum DbLocation {
    /// A SQLite file `sluice.db` in this directory (created with the directory when absent).
    DataDir(PathBuf),
    /// A `postgres://` (or `sqlite:`) URL.
    Url(String),
}

/// Which database the server talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Failure to open or migrate the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The URL names a database Sluice does not support.
    #[error("unsupported database URL '{0}': use postgres://... or sqlite:...")]
    UnsupportedUrl(String),
    /// Connecting failed.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// Applying migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The database handle, cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// The file name of the SQLite database inside the data directory.
pub const SQLITE_FILE: &str = "sluice.db";

impl Db {
    /// Opens (creating when needed) and migrates the database at `location`.
    pub async fn open(location: &DbLocation) -> Result<Db, OpenError> {
        let url = match location {
            DbLocation::DataDir(dir) => sqlite_url(dir)?,
            DbLocation::Url(url) => url.clone(),
        };
        Db::connect(&url).await
    }

    /// Connects to `url` and applies the migrations.
    pub async fn connect(url: &str) -> Result<Db, OpenError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(OpenError::UnsupportedUrl(url.to_string()));
        };
        let max_connections = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .connect(url)
            .await
            .map_err(OpenError::Connect)?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Db { pool, backend })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for queries.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The SQLite URL for `sluice.db` in `dir`, creating `dir` first.
fn sqlite_url(dir: &Path) -> Result<String, OpenError> {
    let data_dir_error = |source| OpenError::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(data_dir_error)?;
    let dir = dir.canonicalize().map_err(data_dir_error)?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        dir.join(SQLITE_FILE).display()
    ))
}

/// A new id: a UUID v7 (time-ordered) as a string.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The current time as RFC 3339 text with microseconds, UTC.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Runs `attempt` again while it fails on a unique constraint, at most a few times: the create-or-replace of a
/// name that a concurrent request created between our lookup and our insert then finds the row and replaces it.
pub(crate) async fn retry_on_conflict<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    const ATTEMPTS: usize = 5;
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(StoreError::DuplicateName) if tries < ATTEMPTS => continue,
            other => return other,
        }
    }
}

/// Decodes a JSON column written by this crate.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("corrupt JSON column: {e}")))
}

/// Encodes a value for a JSON column.
pub(crate) fn to_json_column<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("JSON encoding: {e}")))
}

/// The tables whose rows have a unique `name` and a text `id`.
impl Entity {
    fn table(self) -> &'static str {
        match self {
            Entity::Connector => "connector",
            Entity::Program => "program",
            Entity::Pipeline => "pipeline",
            Entity::ApiKey => "api_key",
        }
    }

    /// The error for an unknown `name`.
    pub(crate) fn unknown_name(self, name: &str) -> StoreError {
        StoreError::UnknownName {
            entity: self,
            name: name.to_string(),
        }
    }

    /// The error for an unknown `id`.
    pub(crate) fn unknown_id(self, id: &str) -> StoreError {
        StoreError::UnknownId {
            entity: self,
            id: id.to_string(),
        }
    }

    /// The id of the row called `name`, if any.
    pub(crate) async fn find_id(
        self,
        tx: &mut Transaction<'static, Any>,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        let sql = format!("SELECT id FROM {} WHERE name = $1", self.table());
        let id: Option<(String,)> = sqlx::query_as(&sql)
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(id.map(|(id,)| id))
    }

    /// The id of the row called `name`, or the 404.
    pub(crate) async fn id_of(
        self,
        tx: &mut Transaction<'static, Any>,
        name: &str,
    ) -> Result<String, StoreError> {
        self.find_id(tx, name)
            .await?
            .ok_or_else(|| self.unknown_name(name))
    }

    /// Deletes the row called `name`, or answers the 404.
    pub(crate) async fn delete(
        self,
        tx: &mut Transaction<'static, Any>,
        name: &str,
    ) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {} WHERE name = $1", self.table());
        let done = sqlx::query(&sql).bind(name).execute(&mut **tx).await?;
        if done.rows_affected() == 0 {
            return Err(self.unknown_name(name));
        }
        Ok(())
    }

    /// Renames the row `id`; a clash is `DuplicateName`.
    pub(crate) async fn rename(
        self,
        tx: &mut Transaction<'static, Any>,
        id: &str,
        new_name: &str,
    ) -> Result<(), StoreError> {
        let sql = format!("UPDATE {} SET name = $1 WHERE id = $2", self.table());
        sqlx::query(&sql)
            .bind(new_name)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Sets the `description` of row `id`.
    pub(crate) async fn set_description(
        self,
        tx: &mut Transaction<'static, Any>,
        id: &str,
        description: &str,
    ) -> Result<(), StoreError> {
        let sql = format!("UPDATE {} SET description = $1 WHERE id = $2", self.table());
        sqlx::query(&sql)
            .bind(description)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// How many rows the table has (for metrics).
    pub(crate) async fn count(self, db: &Db) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", self.table());
        let (n,): (i64,) = sqlx::query_as(&sql).fetch_one(db.pool()).await?;
        Ok(n)
    }
}

/// The SQL condition of `filter` and its bound value for a table aliased `alias`, and the error to answer when it
/// matches nothing.
fn condition(
    filter: &ListFilter,
    alias: &str,
    named: Entity,
) -> Result<Option<(String, String, StoreError)>, StoreError> {
    match (&filter.id, &filter.name) {
        (Some(id), _) => {
            uuid::Uuid::parse_str(id).map_err(|_| StoreError::InvalidId(id.clone()))?;
            Ok(Some((
                format!("{alias}.id = $1"),
                id.clone(),
                named.unknown_id(id),
            )))
        }
        (None, Some(name)) => Ok(Some((
            format!("{alias}.name = $1"),
            name.clone(),
            named.unknown_name(name),
        ))),
        (None, None) => Ok(None),
    }
}

/// The rows of `select` (a query over a table aliased `alias`): all of them ordered by id (creation order), or
/// the one `filter` names, answering its 404 when there is none.
pub(crate) async fn fetch_listed<'c, R, E>(
    executor: E,
    select: &str,
    alias: &str,
    named: Entity,
    filter: &ListFilter,
) -> Result<Vec<R>, StoreError>
where
    R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    E: Executor<'c, Database = Any>,
{
    match condition(filter, alias, named)? {
        None => Ok(sqlx::query_as(&format!("{select} ORDER BY {alias}.id"))
            .fetch_all(executor)
            .await?),
        Some((cond, value, not_found)) => {
            let rows: Vec<R> = sqlx::query_as(&format!("{select} WHERE {cond}"))
                .bind(value)
                .fetch_all(executor)
                .await?;
            if rows.is_empty() {
                return Err(not_found);
            }
            Ok(rows)
        }
    }
}
