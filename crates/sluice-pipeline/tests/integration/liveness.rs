//! Liveness of the controller's locks: stats, watches and steps running at once never block each other for good.
//! No broker needed (no connectors).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_data::{Row, Value};
use sluice_pipeline::{ControllerConfig, Pipeline, PipelineSpec, WatchEvent};
use sluice_sql::Program;

const RECORDS: u64 = 3_000;

/// Regression: `stats()` once held the watchers lock while taking the outputs lock, the reverse of a step's
/// order, and a server polling `/stats` during steps could hang forever. Here one thread polls `stats()` without
/// pause while another ingests one record at a time (a step each) and a watcher is attached; every record must
/// be stepped. A deadlock shows as no progress for 30 s (a liveness bound, not a timing assertion).
#[test]
fn stats_polled_during_steps_never_deadlocks() {
    let sql = "CREATE TABLE sales (book_id BIGINT NOT NULL, copies BIGINT NOT NULL);
               CREATE VIEW v AS SELECT book_id, SUM(copies) AS c FROM sales GROUP BY book_id;";
    let spec = PipelineSpec {
        name: "liveness".into(),
        program: Program::compile(sql).unwrap(),
        // A small buffer: the ingester can only move on while the controller steps.
        config: ControllerConfig {
            max_buffered_records: 10,
            ..ControllerConfig::default()
        },
        inputs: Vec::new(),
        durable: None,
        outputs: Vec::new(),
    };
    let p = Arc::new(Pipeline::start(spec, false).unwrap());
    let watch = p.watch("v").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(AtomicU64::new(0));
    let poller = {
        let (p, done, polls) = (p.clone(), done.clone(), polls.clone());
        std::thread::spawn(move || {
            while !done.load(Relaxed) {
                let _ = p.stats();
                polls.fetch_add(1, Relaxed);
            }
        })
    };
    let reader = std::thread::spawn(move || {
        let mut steps = 0u64;
        while let Ok(WatchEvent::Changes { .. }) = watch.recv() {
            steps += 1;
        }
        steps
    });
    let ingested = Arc::new(AtomicU64::new(0));
    let ingester = {
        let (p, ingested) = (p.clone(), ingested.clone());
        std::thread::spawn(move || {
            for i in 0..RECORDS as i64 {
                let row = Row::new(vec![Value::BigInt(i % 100), Value::BigInt(1)]);
                p.ingest("sales", vec![(row, 1)], 0, Duration::from_secs(600))
                    .unwrap();
                ingested.fetch_add(1, Relaxed);
            }
        })
    };
    // Only atomics here: a call into the pipeline would hang with it instead of failing.
    let (mut last, mut since) = ((0, 0), Instant::now());
    while ingested.load(Relaxed) < RECORDS {
        std::thread::sleep(Duration::from_millis(100));
        let now = (polls.load(Relaxed), ingested.load(Relaxed));
        if now != last {
            (last, since) = (now, Instant::now());
        }
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "no progress in 30 s ({now:?} polls, records): stats() and the controller are deadlocked"
        );
    }
    done.store(true, Relaxed);
    ingester.join().unwrap();
    poller.join().unwrap();
    assert!(polls.load(Relaxed) > 0);
    let stats = Arc::try_unwrap(p)
        .ok()
        .expect("every other user has stopped")
        .shutdown(Duration::from_secs(10))
        .unwrap();
    assert_eq!(stats.global_metrics.total_processed_records, RECORDS);
    assert!(reader.join().unwrap() > 0);
}
