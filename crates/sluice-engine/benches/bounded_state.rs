//! State size and step time of windowed views over a long stream, with and without `LATENESS`, measured in the same
//! run. Not a test: `cargo bench -p sluice-engine --bench bounded_state`.
//!
//! The stream is `SLUICE_BENCH_EVENTS` events (default 10,000,000) into `events (k, ts, amount)`, 1,000 per minute of
//! event time in order, plus one label per key and minute into `labels (k, ts, label)`, stepped 10,000 events at a
//! time. The views are the two: an hourly TUMBLE aggregate per key, and a join of the two tables' hourly
//! windows on key and window. The first run declares `ts ... LATENESS INTERVAL '1' HOUR` on both tables, the second
//! does not; each runs in a process of its own, so that its resident memory is its own. Every 500,000 events it
//! prints the events so far, dbsp's state records (`state_records_count` summed over the circuit), the process's
//! resident memory and the mean step time since the last line. Rows of the views are consumed and dropped.
//!
//! A third run is the baseline again with dbsp's storage on (a fresh directory under the system's temporary one,
//! removed afterwards): trace batches of 10 MiB and more go to files, read back through dbsp's cache, so it
//! measures what spilling costs in step time and saves in resident memory when the state outgrows memory (its lines
//! add the bytes in the storage directory).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use sluice_data::{Row, Value};
use sluice_engine::{Engine, EngineConfig};
use sluice_sql::Program;

/// The allocator the `sluice` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PER_MINUTE: u64 = 1_000;
const STEP_EVENTS: u64 = 10_000;
const REPORT_EVERY: u64 = 500_000;
const KEYS: i64 = 100;
const MINUTE: i64 = 60_000_000;

fn program(lateness: bool) -> Program {
    let attr = if lateness {
        "LATENESS INTERVAL '1' HOUR"
    } else {
        ""
    };
    Program::compile(&format!(
        "CREATE TABLE events (k BIGINT NOT NULL, ts TIMESTAMP NOT NULL {attr}, amount BIGINT NOT NULL);
         CREATE TABLE labels (k BIGINT NOT NULL, ts TIMESTAMP NOT NULL {attr}, label VARCHAR NOT NULL);
         CREATE VIEW hourly AS
           SELECT k, window_start, COUNT(*) AS n, SUM(amount) AS total
           FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' HOUR))
           GROUP BY k, window_start;
         CREATE VIEW labelled AS
           SELECT e.k, e.window_start, e.amount, l.label
           FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' HOUR)) e
           JOIN TABLE(TUMBLE(TABLE labels, DESCRIPTOR(ts), INTERVAL '1' HOUR)) l
             ON e.k = l.k AND e.window_start = l.window_start;"
    ))
    .expect("the benchmark's program compiles")
}

/// Resident memory of this process, in MiB.
fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

/// Events between two lines of figures (`SLUICE_BENCH_REPORT`, default 500,000).
fn report_every() -> u64 {
    std::env::var("SLUICE_BENCH_REPORT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(REPORT_EVERY)
}

fn events() -> u64 {
    std::env::var("SLUICE_BENCH_EVENTS")
        .ok()
        .map(|n| n.parse().expect("SLUICE_BENCH_EVENTS: a number of events"))
        .unwrap_or(10_000_000)
}

/// One variant, in this process: prints one line per `REPORT_EVERY` events and a summary line.
fn run(lateness: bool, storage: Option<std::path::PathBuf>) {
    let mut config = EngineConfig::with_workers(2);
    config.storage = storage.clone();
    let disk = || {
        storage
            .as_deref()
            .map_or(0.0, |d| dir_bytes(d) as f64 / (1024.0 * 1024.0))
    };
    let mut engine = Engine::start(program(lateness), config).expect("engine starts");
    let total = events();
    let mut sent = 0u64;
    let mut since = Instant::now();
    let mut steps_since = 0u32;
    println!(
        "{:>9} {:>12} {:>9} {:>10} {:>9}",
        "events", "state recs", "RSS MiB", "ms/step", "disk MiB"
    );
    while sent < total {
        let mut batch = Vec::with_capacity(STEP_EVENTS as usize);
        let mut labels = Vec::new();
        for i in sent..(sent + STEP_EVENTS).min(total) {
            let minute = (i / PER_MINUTE) as i64;
            // Every event its own row: a distinct amount (a multiplicative hash of its number).
            let amount = ((i as i64).wrapping_mul(2_654_435_761) % 1_000_000).abs();
            batch.push((
                Row(vec![
                    Value::BigInt(i as i64 % KEYS),
                    Value::Timestamp(minute * MINUTE + (i % PER_MINUTE) as i64),
                    Value::BigInt(amount),
                ]),
                1,
            ));
            if i.is_multiple_of(PER_MINUTE) {
                labels.extend((0..KEYS).map(|k| {
                    (
                        Row(vec![
                            Value::BigInt(k),
                            Value::Timestamp(minute * MINUTE),
                            Value::String(format!("label-{k}")),
                        ]),
                        1,
                    )
                }));
            }
        }
        sent += batch.len() as u64;
        engine.push("events", batch).expect("push events");
        engine.push("labels", labels).expect("push labels");
        std::hint::black_box(engine.step().expect("step"));
        steps_since += 1;
        if sent.is_multiple_of(report_every()) || sent == total {
            let ms = since.elapsed().as_secs_f64() * 1000.0 / f64::from(steps_since);
            let state = engine.state_records().expect("profile");
            println!(
                "{sent:>9} {state:>12} {:>9.0} {ms:>10.1} {:>9.0}",
                rss_mib(),
                disk()
            );
            since = Instant::now();
            steps_since = 0;
        }
    }
    let late: u64 = engine.late_records().iter().map(|(_, n)| n).sum();
    println!("late records dropped: {late}");
    println!(
        "final {} {:.0}",
        engine.state_records().expect("profile"),
        rss_mib()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a variant runs when the parent asks for it.
    match std::env::var("SLUICE_BENCH_VARIANT").as_deref() {
        Ok("lateness") => return run(true, None),
        Ok("none") => return run(false, None),
        Ok("spill") => {
            let dir =
                std::env::temp_dir().join(format!("sluice-bench-spill-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a storage directory");
            run(false, Some(dir.clone()));
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        _ => {}
    }
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let mut finals = Vec::new();
    for (variant, title) in [
        ("lateness", "with LATENESS INTERVAL '1' HOUR"),
        ("none", "without LATENESS (the baseline)"),
        (
            "spill",
            "without LATENESS, dbsp storage on (spills batches of 10 MiB and more)",
        ),
    ] {
        println!("\n== {title}: {} events, 2 workers ==", events());
        let mut child = Command::new(&exe)
            .env("SLUICE_BENCH_VARIANT", variant)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run a variant");
        let out = BufReader::new(child.stdout.take().expect("piped"));
        for line in out.lines() {
            let line = line.expect("the variant's output");
            match line.strip_prefix("final ") {
                Some(last) => {
                    let mut it = last.split(' ').map(|x| x.parse::<f64>().expect("numbers"));
                    finals.push((it.next().unwrap_or(0.0), it.next().unwrap_or(0.0)));
                }
                None => println!("{line}"),
            }
        }
        let status = child.wait().expect("the variant ends");
        assert!(status.success(), "variant {variant} failed: {status}");
    }
    if let [(with_state, with_rss), (without_state, without_rss), (spill_state, spill_rss)] =
        finals[..]
    {
        println!(
            "\nat the end: state records {:.4}x of the baseline, resident memory {:.3}x",
            with_state / without_state.max(1.0),
            with_rss / without_rss.max(1.0)
        );
        println!(
            "with storage: state records {:.4}x of the baseline, resident memory {:.3}x",
            spill_state / without_state.max(1.0),
            spill_rss / without_rss.max(1.0)
        );
    }
}

/// Bytes in the files under `dir`, recursively.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
