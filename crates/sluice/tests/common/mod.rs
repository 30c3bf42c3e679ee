//! What the end-to-end tests of the `sluice` binary share: the binary, a free port, and a `sluice serve` child
//! process that is killed when dropped.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `sluice` binary built for these tests.
pub fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

/// Creates an API key with `sluice api-key create NAME` on the SQLite database in `data_dir`, without a server (as
/// an operator creates the first key), and returns it.
pub fn create_api_key(data_dir: &Path, name: &str) -> String {
    let out = sluice()
        .args(["api-key", "create", name])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SLUICE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `sluice serve` child process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `sluice serve` on a free port with its data (SQLite) in `data_dir`, logging everything to `log`;
    /// returns once `/healthz` answers.
    pub fn start(data_dir: &Path, log: &Path) -> Server {
        let port = free_port();
        let mut cmd = sluice();
        cmd.args(["serve", "--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            // Everything librdkafka and Sluice can say.
            .env("SLUICE_LOG", "debug,librdkafka=debug")
            .env_remove("SLUICE_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        Server::spawn(cmd, port)
    }

    /// Spawns `cmd`, a `sluice serve` that listens on `port`, and returns once `/healthz` answers.
    pub fn spawn(mut cmd: Command, port: u16) -> Server {
        let server = Server {
            child: cmd.spawn().expect("start sluice serve"),
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if server.call("GET", "/healthz", None).0 == 200 {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("sluice serve did not become healthy on {}", server.base);
    }

    /// Sends a request with curl (the body through its standard input, so it may be large); returns the status
    /// and the raw body. Status 0: no answer (the server is down).
    pub fn raw(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-X", method, "-w", "\n%{http_code}"])
            .arg(format!("{}{path}", self.base))
            .stdout(Stdio::piped());
        if body.is_some() {
            cmd.args([
                "-H",
                "content-type: application/json",
                "--data-binary",
                "@-",
            ])
            .stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("run curl");
        if let Some(body) = body {
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), body.as_bytes())
                .expect("write the request body to curl");
        }
        let out = child.wait_with_output().expect("run curl");
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, status) = text.rsplit_once('\n').unwrap();
        (status.trim().parse().unwrap_or(0), body.to_string())
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, text) = self.raw(method, path, body.map(|b| b.to_string()).as_deref());
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("sluice serve did not stop on SIGTERM");
    }

    /// Creates program `name` with `code` and waits until it compiled.
    pub fn create_program(&self, name: &str, code: &str) {
        let path = format!("/v0/programs/{name}");
        let (status, body) = self.call(
            "PUT",
            &path,
            Some(serde_json::json!({"description": "", "code": code})),
        );
        assert_eq!(status, 201, "{body}");
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.call("GET", &path, None).1["status"] != "Success" {
            assert!(Instant::now() < deadline, "the program did not compile");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Polls until the pipeline's current status is `want`; returns the pipeline.
    pub fn reaches(&self, name: &str, want: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let (_, p) = self.call("GET", &format!("/v0/pipelines/{name}"), None);
            if p["state"]["current_status"] == want {
                return p;
            }
            last = p;
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("pipeline {name} did not reach {want}: {last}");
    }
}

/// A small deterministic generator (the tests' inputs must be reproducible from the seed printed on failure).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}
