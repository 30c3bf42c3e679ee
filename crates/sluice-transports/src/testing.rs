//! Helpers for tests that need a real broker (this crate's and the pipeline's): the shared broker's address,
//! throwaway topics, and private brokers that a test may stop and restart. Only with the `test-support` feature.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::kafka_tools;

/// The shared local broker started by `scripts/test.sh`.
pub fn brokers() -> String {
    std::env::var("SLUICE_KAFKA_BROKERS").expect(
        "SLUICE_KAFKA_BROKERS is not set: run these tests through scripts/test.sh, which starts the local broker",
    )
}

/// A topic with a unique name, deleted when dropped.
pub struct TestTopic {
    pub name: String,
    brokers: String,
}

impl TestTopic {
    pub fn new(brokers: &str, prefix: &str, partitions: i32) -> Self {
        let name = format!("{prefix}-{:08x}", rand::random::<u32>());
        kafka_tools::create_topic(brokers, &name, partitions).expect("create test topic");
        TestTopic {
            name,
            brokers: brokers.to_string(),
        }
    }
}

impl Drop for TestTopic {
    fn drop(&mut self) {
        let _ = kafka_tools::delete_topic(&self.brokers, &self.name);
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A broker of this test's own (the project's broker: Apache Kafka unless `SLUICE_BROKER` says tansu), on a free
/// loopback port with persistent storage, so that the test can crash it ([`PrivateBroker::down`] is a SIGKILL) and
/// restart it on the same log without losing the topic. Stopped when dropped.
pub struct PrivateBroker {
    pub port: u16,
    dir: tempfile::TempDir,
}

/// A port `P` such that `P` and `P + 1` (Apache Kafka's controller) are free, below Linux's ephemeral range
/// (32768 and up): a port the kernel handed out with `bind(0)` is followed by the next ones it hands to outgoing
/// connections, and the clients that keep reconnecting to a killed broker would take `P + 1` before it restarts.
fn free_port_pair() -> u16 {
    for _ in 0..1000 {
        let port = 20_000 + rand::random::<u16>() % 12_000;
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 1) {
            return port;
        }
    }
    panic!("no two free consecutive ports between 20000 and 32000");
}

impl PrivateBroker {
    pub fn start() -> Self {
        let port = free_port_pair();
        let broker = PrivateBroker {
            port,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        broker.up();
        broker
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn script(&self, action: &str) {
        let status = Command::new("bash")
            .arg(repo_root().join("scripts/broker.sh"))
            .args([
                action,
                "--port",
                &self.port.to_string(),
                "--storage",
                "sqlite",
                "--dir",
            ])
            .arg(self.dir.path())
            .status()
            .expect("run scripts/broker.sh");
        assert!(status.success(), "scripts/broker.sh {action} failed");
    }

    pub fn up(&self) {
        self.script("start");
        kafka_tools::wait_for_broker(&self.address(), Duration::from_secs(60))
            .expect("private broker answers");
    }

    /// Crashes the broker (SIGKILL, no controlled shutdown); [`PrivateBroker::up`] restarts it on the same log.
    pub fn down(&self) {
        self.script("kill");
    }

    /// Freezes the broker (SIGSTOP): its connections stay open and it answers nothing, like a broker that hangs.
    /// [`PrivateBroker::thaw`] lets it go on; dropping the broker thaws it first.
    pub fn freeze(&self) {
        self.signal("STOP").expect("freeze the broker");
    }

    /// Lets a frozen broker go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal("CONT").expect("thaw the broker");
    }

    /// Sends `signal` to the running broker's process.
    fn signal(&self, signal: &str) -> Result<(), String> {
        let pidfile = ["kafka.pid", "tansu.pid"]
            .iter()
            .map(|f| self.dir.path().join(f))
            .find(|p| p.exists())
            .ok_or("the broker is not running (no pid file)")?;
        let pid = std::fs::read_to_string(&pidfile).map_err(|e| e.to_string())?;
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.trim())
            .status()
            .map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kill -{signal} {} failed", pid.trim()))
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        // A frozen broker would ignore the stop; a killed one has nothing to thaw.
        let _ = self.signal("CONT");
        self.script("stop");
    }
}

/// Polls `condition` every 50 ms until it holds or `limit` passes; returns whether it held. Used to wait for
/// asynchronous state, never to assert how long something took.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}
