//! SIGTERM ends `sluice serve` within its bound however many clients watch a view: the pipelines stop (all at once),
//! which ends their egress watches with the stream's last chunk, and the process exits. Before, graceful shutdown
//! waited for every connection to close and a watch only ended when its pipeline stopped, which came after: the
//! server never exited while anyone watched.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

mod common;
use common::Server;

/// Starts `curl` on the change stream of view `view` of pipeline `p`, writing what it receives to `out`.
fn watch(server: &Server, pipeline: &str, view: &str, out: &std::path::Path) -> Child {
    Command::new("curl")
        .args(["-s", "-N", "-X", "POST"])
        .arg(format!(
            "{}/v0/pipelines/{pipeline}/egress/{view}?format=json&array=false",
            server.base
        ))
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("run curl")
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_with_open_egress_watches_ends_them_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut cmd = common::sluice();
    cmd.args([
        "serve",
        "--port",
        &port.to_string(),
        "--shutdown-timeout-secs",
        "20",
        "--data-dir",
    ])
    .arg(dir.path().join("data"))
    .env("SLUICE_LOG", "debug")
    .env_remove("SLUICE_DATABASE_URL")
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(dir.path().join("server.log")).unwrap());
    let server = Server::spawn(cmd, port);
    for name in ["a", "b"] {
        let (status, body) = server.call(
            "PUT",
            &format!("/v0/pipelines/{name}"),
            Some(json!({
                "name": name,
                "program_code": "CREATE TABLE t (x INT);\nCREATE VIEW v AS SELECT x, x * 2 AS y FROM t;",
                "runtime_config": {"workers": 1},
            })),
        );
        assert_eq!(status, 201, "{body}");
        let (status, body) = server.call("POST", &format!("/v0/pipelines/{name}/start"), None);
        assert_eq!(status, 202, "{body}");
        wait_for(
            &format!("pipeline {name} runs"),
            Duration::from_secs(60),
            || {
                server
                    .call(
                        "GET",
                        &format!("/v0/pipelines/{name}?selector=status"),
                        None,
                    )
                    .1["deployment_status"]
                    == "Running"
            },
        );
    }
    // Three watchers on two pipelines, each having seen a change.
    let outs: Vec<_> = (0..3)
        .map(|i| dir.path().join(format!("watch-{i}.out")))
        .collect();
    let mut watchers: Vec<Child> = ["a", "a", "b"]
        .iter()
        .zip(&outs)
        .map(|(p, out)| watch(&server, p, "v", out))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for p in ["a", "b"] {
        let (status, body) = server.raw(
            "POST",
            &format!("/v0/pipelines/{p}/ingress/t?format=json&array=true&update_format=raw"),
            Some(r#"[{"x": 1}, {"x": 2}]"#),
        );
        assert_eq!(status, 200, "{body}");
    }
    wait_for(
        "every watcher saw the changes",
        Duration::from_secs(30),
        || {
            outs.iter().all(|o| {
                std::fs::read_to_string(o)
                    .unwrap_or_default()
                    .contains("json_data")
            })
        },
    );

    let mut server = server;
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    // The pipelines have nothing to flush: the server's own bound (20 s for the pipelines, as configured, and 5 s
    // more for connections) is far above what this takes; 90 s only tells an exit from a hang.
    wait_for(
        "sluice serve exits on SIGTERM with watches open",
        Duration::from_secs(90),
        || server.child.try_wait().unwrap().is_some(),
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "sluice serve exited with {status}");
    // Each watch ended as a complete response (curl exits 0), not cut off (curl's 18, partial transfer).
    for (w, out) in watchers.iter_mut().zip(&outs) {
        wait_for("curl ends", Duration::from_secs(10), || {
            w.try_wait().unwrap().is_some()
        });
        let code = w.wait().unwrap();
        assert!(
            code.success(),
            "the watch ended with curl {code}: {}",
            std::fs::read_to_string(out).unwrap_or_default()
        );
    }
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    assert!(log.contains("Server stopped."), "{log}");
}
