//! Test harness: a real server on an ephemeral port over a fresh database, SQLite or PostgreSQL.
//!
//! Every API test runs twice, once per backend ([`both_backends!`]). The PostgreSQL half needs
//! `SLUICE_TEST_DATABASE_URL` (set by `scripts/test.sh`, which starts a throwaway cluster); without it that half
//! fails, saying so, rather than being skipped. Each test gets its own database: a SQLite file in a temporary
//! directory, or `CREATE DATABASE test_<random>` on the PostgreSQL server.
#![allow(dead_code)]

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sluice_server::AuthMode;
use sluice_server::ProgramCompiler;
use sluice_server::{AppState, ServerConfig};
use sluice_server::{Db, DbLocation};
use sqlx::Connection;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `async fn $name(backend: Backend)` as two tests, `$name::sqlite` and `$name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await
            }
        }
    )*};
}

/// A fresh, empty database; the SQLite directory lives as long as this value.
pub struct TestDb {
    pub location: DbLocation,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// The admin URL and database name to drop when done (PostgreSQL).
    postgres: Option<(String, String)>,
}

impl Drop for TestDb {
    /// Drops the test's PostgreSQL database, so the shared test cluster does not fill up.
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop may run inside the test's runtime, which cannot block: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(&sql).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

fn random_suffix() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("data");
                TestDb {
                    url: format!("sqlite://{}/sluice.db", path.display()),
                    location: DbLocation::DataDir(path),
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let admin = std::env::var("SLUICE_TEST_DATABASE_URL").unwrap_or_else(|_| {
                    panic!(
                        "SLUICE_TEST_DATABASE_URL is not set, so the PostgreSQL half of this test cannot run. \
                         Run scripts/test.sh (it starts a throwaway PostgreSQL and sets it), or run \
                         `export SLUICE_TEST_DATABASE_URL=$(scripts/postgres.sh start)` first."
                    )
                });
                sqlx::any::install_default_drivers();
                let name = format!("test_{}", random_suffix());
                let mut conn = sqlx::AnyConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to {admin}: {e}"));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                let url = format!("{base}/{name}");
                TestDb {
                    location: DbLocation::Url(url.clone()),
                    url,
                    _dir: None,
                    postgres: Some((admin, name)),
                }
            }
        }
    }

    /// A raw connection for tests that must put the database in states the API cannot reach yet.
    pub async fn execute(&self, sql: &str) {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
}

/// A running server.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// The server's state, for tests that reach into the runtime (fault injection).
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
    /// Durable pipelines' state, this server's own.
    _state_dir: tempfile::TempDir,
}

/// How to start a test server.
pub struct Options {
    pub auth: AuthMode,
    pub max_body_bytes: usize,
    pub compiler: Option<Arc<dyn ProgramCompiler>>,
    /// Everything else of the server's config (secrets, browser policy, metrics auth).
    pub config: ServerConfig,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            auth: AuthMode::None,
            max_body_bytes: sluice_server::DEFAULT_MAX_BODY_BYTES,
            compiler: None,
            config: ServerConfig::default(),
        }
    }
}

impl TestServer {
    pub async fn start(db: &TestDb) -> TestServer {
        Self::start_with(db, Options::default()).await
    }

    pub async fn start_with(db: &TestDb, options: Options) -> TestServer {
        let handle = Db::open(&db.location).await.expect("open test database");
        let state_dir = tempfile::tempdir().expect("state dir");
        let config = ServerConfig {
            auth: options.auth,
            max_body_bytes: options.max_body_bytes,
            state_dir: state_dir.path().to_path_buf(),
            ..options.config
        };
        let state = match options.compiler {
            Some(c) => AppState::with_compiler(handle.clone(), config, c),
            None => AppState::new(handle.clone(), config),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(sluice_server::run(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        TestServer {
            base,
            client: reqwest::Client::new(),
            db: handle,
            state,
            shutdown: Some(tx),
            handle: Some(task),
            _state_dir: state_dir,
        }
    }

    /// Stops the server and closes its database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
        self.db.close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional JSON body; returns the status and the body as JSON (`null` if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(method, path, body, None).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        parse(req.send().await.unwrap()).await
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        parse(req.send().await.unwrap()).await
    }

    /// The body of `GET path` as text, whatever its status (for answers that are not one JSON document).
    pub async fn text(&self, path: &str) -> String {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.text().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::POST, path, None).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }
}

async fn parse(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"))
    };
    (status, value)
}

/// Asserts the error shape, the status and the code; returns the body.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: u16, code: &str) -> Value {
    let (s, body) = got;
    assert_eq!(s.as_u16(), status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert!(body["details"].is_object(), "{body}");
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    body.clone()
}

/// The seed document's connector body.
pub fn seed_connector() -> Value {
    json!({
      "description": "Kafka output connector for total sales from the book fair",
      "config": {
          "transport": {
              "name": "kafka_output",
              "config": {
                  "bootstrap.servers": "example.com:9092",
                  "auto.offset.reset": "earliest",
                  "topic": "total-sales"
              }
          },
          "format": {
              "name": "json",
              "config": {
                  "update_format": "insert_delete",
                  "array": false
              }
          }
      }
    })
}

/// Polls the program until its status is no longer Pending/CompilingSql.
pub async fn compiled(s: &TestServer, name: &str) -> Value {
    for _ in 0..200 {
        let (_, p) = s.get(&format!("/v0/programs/{name}")).await;
        if p["status"] != "Pending" && p["status"] != "CompilingSql" {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("program {name} did not compile");
}

/// Polls the pipeline until its current status is `want`; returns the pipeline.
pub async fn reaches(s: &TestServer, name: &str, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let (_, p) = s.get(&format!("/v0/pipelines/{name}")).await;
        if p["state"]["current_status"] == want {
            return p;
        }
        last = p;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("pipeline {name} did not reach {want}: {last}");
}

/// Posts a lifecycle action and checks it was accepted.
pub async fn action(s: &TestServer, name: &str, action: &str) {
    let (status, body) = s
        .post_empty(&format!("/v0/pipelines/{name}/{action}"))
        .await;
    assert_eq!(status, 202, "{action}: {body}");
}
