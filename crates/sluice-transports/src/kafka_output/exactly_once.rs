//! Exactly-once delivery for `kafka_output`: what a connector keeps between runs and how it finds, after a
//! restart, what an earlier run already wrote, so that the pipeline's deterministic replay skips exactly that.
//!
//! Both modes rest on the same two facts. The pipeline replays the steps after its last checkpoint with the same
//! input, so each step gives the same messages in the same order, and each message gets the same number
//! (`seq`, its place within its step). And Sluice picks every message's partition itself, from the key (Kafka's
//! murmur2, as Java producers do) or, for a keyless message, from its step and number. So a message is known by
//! `(step, seq)` and always lands in the same partition.
//!
//! - **Transactions.** The output of the steps between two checkpoints is one Kafka transaction, committed at the
//!   checkpoint's barrier, before the checkpoint itself is committed. The same transaction commits an offset for
//!   the consumer group named like the transactional id, whose metadata names the step (the *marker*). At a
//!   restart, `init_transactions` aborts whatever an earlier run left open (and fences that run if it still
//!   lives), then the marker says which step the last committed transaction reached: the replay skips every
//!   message up to it and sends the rest in a new transaction.
//! - **Markers.** Every message carries a `sluice-progress` header: the writer's incarnation, its step and its
//!   number. The idempotent producer with the gapless guarantee writes each partition in order without holes, so
//!   the last message of a partition says that everything before it in that partition is there. At a restart the
//!   connector reads the last message of each partition and the replay skips, per partition, every message up to
//!   it. Output is visible at once, on any broker; the connector must be the topic's only writer.
//!
//! A connector's identity across runs (its *incarnation*, random, new whenever the pipeline's state is cleared)
//! and what it saw of the topic when it first started live in a small JSON file in the pipeline's state
//! directory: a marker or header of another incarnation is never mistaken for this one's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerGroupMetadata};
use rdkafka::message::{Headers, Message as _};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use sluice_types::{ExactlyOnceMode, KafkaOutputConfig};

use crate::kafka_common::client_config;

/// The header every message carries in markers mode.
pub const PROGRESS_HEADER: &str = "sluice-progress";

/// What a connector needs to deliver exactly once: who it is and where it keeps what survives a restart.
#[derive(Clone, Debug)]
pub struct ExactlyOnceSetup {
    /// Identifies the connector across restarts: the pipeline and the connector (`<pipeline>.<connector>`).
    /// The transactional id is the config's prefix followed by this.
    pub writer: String,
    /// The connector's file in the pipeline's state directory.
    pub state_file: PathBuf,
    /// The pipeline's checkpoint interval: a transaction stays open that long, and longer while a checkpoint
    /// waits.
    pub checkpoint_interval: Duration,
}

/// The mode a connector runs in, once `auto` is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Kafka transactions.
    Transactions,
    /// Progress headers.
    Markers,
}

impl Mode {
    /// The mode's name in configs and stats.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Transactions => ExactlyOnceMode::Transactions.name(),
            Mode::Markers => ExactlyOnceMode::Markers.name(),
        }
    }
}

/// What an exactly-once connector shows in its stats.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExactlyOnceStats {
    /// `transactions` or `markers`.
    pub mode: String,
    /// The connector's incarnation (in every marker and header it writes).
    pub incarnation: String,
    /// The transactional id (transactions mode).
    pub transactional_id: Option<String>,
    /// The last step whose messages are committed (transactions) or acknowledged at a checkpoint (markers).
    pub committed_step: u64,
    /// The first step of the open transaction, if one is open.
    pub open_transaction_first_step: Option<u64>,
    /// Transactions committed since start.
    pub transactions_committed: u64,
    /// At start: the earlier run's output reached this step (transactions) or, per partition, these positions
    /// (markers); the replay skips what they cover.
    pub resumed_after_step: u64,
    /// Messages the replay skipped because an earlier run had written them.
    pub skipped_messages: u64,
    /// The step being sent now.
    pub current_step: u64,
}

/// The connector's file: its identity and what it saw of the topic when it first started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WriterState {
    pub version: u32,
    pub incarnation: String,
    pub mode: Mode,
    pub topic: String,
    pub partitions: i32,
    /// Each partition's end offset when the connector first started: anything before is not its own.
    pub start_offsets: Vec<i64>,
}

impl WriterState {
    /// Reads the file; `None` when there is none (a connector's first start with this state).
    pub fn load(path: &Path) -> Result<Option<WriterState>, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{} is damaged: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the file atomically and durably (temporary file, sync, rename, directory sync).
    pub fn store(&self, path: &Path) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, bytes).map_err(fail)?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(fail)?;
        std::fs::rename(&tmp, path).map_err(fail)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(fail)?;
        }
        Ok(())
    }

    /// A new identity: random, so that no two incarnations share one.
    pub fn new_incarnation() -> String {
        format!("{:016x}", rand::random::<u64>())
    }
}

/// Kafka's murmur2 hash, as the Java client's default partitioner computes it for a key.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        for (i, b) in rest.iter().enumerate().rev() {
            h ^= u32::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition of a message: the Java client's for a key; for a keyless message, a hash of its step and
/// number, so that a replay puts it where it went before.
pub fn partition_of(key: Option<&[u8]>, step: u64, seq: u32, partitions: i32) -> i32 {
    let n = partitions.max(1) as u64;
    let spread = match key {
        Some(key) => (murmur2(key) & 0x7fff_ffff) as u64,
        None => {
            // splitmix64's finaliser: neighbouring (step, seq) pairs land far apart.
            let mut z = (step << 32) ^ u64::from(seq);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    };
    (spread % n) as i32
}

/// A message's place in the output: its step and its number within the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    /// The pipeline step.
    pub step: u64,
    /// The message's number within the step (0-based, counting every message of the step).
    pub seq: u32,
}

/// The longest progress header value: a 16-digit incarnation, a 20-digit step, a 10-digit number, two colons.
pub const MAX_PROGRESS_VALUE_BYTES: usize = 16 + 20 + 10 + 2;

/// The progress header's value: `<incarnation>:<step>:<seq>`.
pub(crate) fn progress_value(incarnation: &str, place: Place) -> String {
    format!("{incarnation}:{}:{}", place.step, place.seq)
}

/// Reads a progress header: the incarnation and the place.
pub(crate) fn parse_progress(value: &[u8]) -> Option<(String, Place)> {
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.split(':');
    let incarnation = parts.next()?.to_string();
    let step = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    parts
        .next()
        .is_none()
        .then_some((incarnation, Place { step, seq }))
}

/// The transaction marker's offset metadata: `sluice:<incarnation>:<step>`.
pub(crate) fn marker_metadata(incarnation: &str, step: u64) -> String {
    format!("sluice:{incarnation}:{step}")
}

/// The offsets a transaction commits as its marker: partition 0 of `topic` at offset `step`, with the metadata
/// that names the incarnation and the step.
pub(crate) fn marker_offsets(
    topic: &str,
    incarnation: &str,
    step: u64,
) -> Result<TopicPartitionList, rdkafka::error::KafkaError> {
    let mut marker = TopicPartitionList::new();
    marker.add_partition_offset(topic, 0, Offset::Offset(step as i64))?;
    for mut e in marker.elements() {
        e.set_metadata(marker_metadata(incarnation, step));
    }
    Ok(marker)
}

fn parse_marker(metadata: &str) -> Option<(&str, u64)> {
    let rest = metadata.strip_prefix("sluice:")?;
    let (incarnation, step) = rest.rsplit_once(':')?;
    Some((incarnation, step.parse().ok()?))
}

/// Why a restart cannot tell what an earlier run wrote.
pub(crate) type ResumeError = String;

/// A consumer for looking at the topic and the marker group, from the producer's connection options and the
/// fault-tolerance consumer options.
pub(crate) fn resume_consumer(
    config: &KafkaOutputConfig,
    group: Option<&str>,
) -> Result<BaseConsumer, ResumeError> {
    let mut options: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &config.kafka_options {
        if is_connection_option(k) {
            options.insert(k.clone(), v.clone());
        }
    }
    if let Some(ft) = &config.fault_tolerance {
        options.extend(ft.consumer_options.clone());
    }
    options.insert("enable.auto.commit".into(), "false".into());
    options.insert("enable.partition.eof".into(), "true".into());
    options.insert("isolation.level".into(), "read_committed".into());
    options.insert(
        "group.id".into(),
        group.unwrap_or("sluice-resume-reader").into(),
    );
    client_config(&options, config.log_level)
        .create::<BaseConsumer>()
        .map_err(|e| format!("cannot create a Kafka consumer to find what was written: {e}"))
}

/// Options a consumer shares with the producer: where the brokers are and how to reach them.
fn is_connection_option(key: &str) -> bool {
    key == "bootstrap.servers"
        || key == "client.id"
        || key.starts_with("security.")
        || key.starts_with("sasl.")
        || key.starts_with("ssl.")
        || key.starts_with("ssl_")
        || key.starts_with("socket.")
        || key.starts_with("broker.")
        || key == "client.dns.lookup"
}

/// The step the last committed marker of `incarnation` names (0 when there is none), from `consumer`'s group.
pub(crate) fn read_marker(
    consumer: &BaseConsumer,
    topic: &str,
    incarnation: &str,
    timeout: Duration,
) -> Result<u64, ResumeError> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let committed = consumer.committed_offsets(tpl, timeout).map_err(|e| {
        format!("cannot read the transaction marker (committed offset of partition 0 of '{topic}'): {e}")
    })?;
    let step = committed
        .elements()
        .iter()
        .find_map(|e| match parse_marker(e.metadata()) {
            Some((i, step)) if i == incarnation => Some(step),
            _ => None,
        })
        .unwrap_or(0);
    Ok(step)
}

/// Each partition's end offset now (the connector's first start).
pub(crate) fn end_offsets(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<Vec<i64>, ResumeError> {
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, timeout)
                .map(|(_, high)| high)
                .map_err(|e| {
                    format!("cannot read the end offset of partition {p} of '{topic}': {e}")
                })
        })
        .collect()
}

/// Where the last message of each partition is, for markers mode: `None` where the connector wrote nothing since
/// it first started. Fails on a partition whose last message is not this incarnation's: someone else wrote there.
pub(crate) fn read_tails(
    consumer: &BaseConsumer,
    state: &WriterState,
    timeout: Duration,
) -> Result<Vec<Option<Place>>, ResumeError> {
    let topic = &state.topic;
    let mut tails = Vec::with_capacity(state.partitions as usize);
    for p in 0..state.partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .map_err(|e| format!("cannot read the offsets of partition {p} of '{topic}': {e}"))?;
        let floor = low.max(state.start_offsets.get(p as usize).copied().unwrap_or(0));
        let last = last_message(consumer, topic, p, floor, high, timeout)?;
        let tail = match last {
            None => None,
            Some((offset, header)) => match header.as_deref().and_then(parse_progress) {
                Some((incarnation, place)) if incarnation == state.incarnation => Some(place),
                _ => {
                    return Err(format!(
                        "partition {p} of topic '{topic}' ends with a message that this connector did not write \
                         (offset {offset}{}); markers mode needs Sluice to be the topic's only writer. Stop the \
                         other writer, or use mode \"transactions\", or clear the pipeline's state to start anew",
                        match header {
                            None => ", no sluice-progress header".to_string(),
                            Some(h) => format!(", written by {}", String::from_utf8_lossy(&h)),
                        }
                    ))
                }
            },
        };
        tails.push(tail);
    }
    Ok(tails)
}

/// A message's offset and its progress header's value, if it has one.
type Located = (i64, Option<Vec<u8>>);

/// The offset and progress header of the last message at or after `floor` in a partition ending at `high`.
/// Reads a little before the end, then further back when the end holds no message (transaction control records).
fn last_message(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    floor: i64,
    high: i64,
    timeout: Duration,
) -> Result<Option<Located>, ResumeError> {
    let mut span = 8i64;
    loop {
        if high <= floor {
            return Ok(None);
        }
        let from = (high - span).max(floor);
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Offset(from))
            .map_err(|e| e.to_string())?;
        consumer
            .assign(&tpl)
            .map_err(|e| format!("cannot read partition {partition} of '{topic}': {e}"))?;
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            match consumer.poll(Duration::from_millis(200)) {
                // Only this partition, from `from` on: nothing queued before this assignment counts.
                Some(Ok(m)) if m.partition() != partition || m.offset() < from => {}
                Some(Ok(m)) => {
                    let header = m.headers().and_then(|h| {
                        h.iter()
                            .find(|h| h.key == PROGRESS_HEADER)
                            .map(|h| h.value.unwrap_or_default().to_vec())
                    });
                    let offset = m.offset();
                    last = Some((offset, header));
                    if offset >= high - 1 {
                        break;
                    }
                }
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) if p == partition => break,
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => {}
                Some(Err(e)) => {
                    return Err(format!(
                        "cannot read partition {partition} of '{topic}': {e}"
                    ))
                }
                None if Instant::now() >= deadline => {
                    return Err(format!(
                        "reading the end of partition {partition} of '{topic}' took longer than {timeout:?}"
                    ))
                }
                None => {}
            }
        }
        if last.is_some() || from == floor {
            return Ok(last);
        }
        span *= 8;
    }
}

/// The exactly-once state of a running endpoint.
pub(crate) struct Delivery {
    pub mode: Mode,
    pub state: WriterState,
    /// Transactions: the consumer group the marker is committed for, and the transactional id.
    pub group: Option<(ConsumerGroupMetadata, String)>,
    /// Transactions: every message of a step up to this one is already committed.
    pub resume_step: u64,
    /// Markers: per partition, the last message already written.
    pub tails: Vec<Option<Place>>,
    pub cursor: Mutex<Cursor>,
    pub skipped: AtomicU64,
    pub committed_step: AtomicU64,
    pub transactions: AtomicU64,
}

/// Where the sender is: the step and the next message's number; and the open transaction's first step.
#[derive(Default)]
pub(crate) struct Cursor {
    pub step: u64,
    pub seq: u32,
    pub open_since: Option<u64>,
}

impl Delivery {
    /// What to do with the next message: its partition and place, and whether an earlier run already wrote it.
    pub fn next(&self, key: Option<&[u8]>) -> (i32, Place, bool) {
        let mut c = self.cursor.lock().unwrap_or_else(|p| p.into_inner());
        let place = Place {
            step: c.step,
            seq: c.seq,
        };
        c.seq += 1;
        drop(c);
        let partition = partition_of(key, place.step, place.seq, self.state.partitions);
        let written = match self.mode {
            Mode::Transactions => place.step <= self.resume_step,
            Mode::Markers => self
                .tails
                .get(partition as usize)
                .copied()
                .flatten()
                .is_some_and(|tail| place <= tail),
        };
        if written {
            self.skipped.fetch_add(1, Relaxed);
        }
        (partition, place, written)
    }

    /// The replay position shown in stats: the highest step an earlier run's output covered.
    pub fn resumed_after(&self) -> u64 {
        match self.mode {
            Mode::Transactions => self.resume_step,
            Mode::Markers => self
                .tails
                .iter()
                .flatten()
                .map(|t| t.step)
                .max()
                .unwrap_or(0),
        }
    }

    pub fn stats(&self) -> ExactlyOnceStats {
        let c = self.cursor.lock().unwrap_or_else(|p| p.into_inner());
        ExactlyOnceStats {
            mode: self.mode.name().to_string(),
            incarnation: self.state.incarnation.clone(),
            transactional_id: self.group.as_ref().map(|(_, id)| id.clone()),
            committed_step: self.committed_step.load(Relaxed),
            open_transaction_first_step: c.open_since,
            transactions_committed: self.transactions.load(Relaxed),
            resumed_after_step: self.resumed_after(),
            skipped_messages: self.skipped.load(Relaxed),
            current_step: c.step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values the Java client computes.
    #[test]
    fn murmur2_matches_the_java_client() {
        assert_eq!(murmur2(b"kafka") as u32, 0xd067_cf64);
        assert_eq!(murmur2(b"") as u32, 0x106e_08d9);
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn keyless_partitions_depend_only_on_place_and_spread() {
        let a = partition_of(None, 7, 3, 6);
        assert_eq!(a, partition_of(None, 7, 3, 6));
        let mut seen = [0u32; 6];
        for step in 1..50 {
            for seq in 0..20 {
                seen[partition_of(None, step, seq, 6) as usize] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n > 100), "{seen:?}");
    }

    #[test]
    fn progress_and_marker_round_trip() {
        let place = Place { step: 12, seq: 4 };
        let v = progress_value("00ab", place);
        assert_eq!(parse_progress(v.as_bytes()), Some(("00ab".into(), place)));
        assert_eq!(parse_progress(b"00ab:12"), None);
        assert_eq!(parse_progress(b"x:1:2:3"), None);
        assert_eq!(parse_marker(&marker_metadata("00ab", 9)), Some(("00ab", 9)));
        assert_eq!(parse_marker("something else"), None);
    }

    #[test]
    fn writer_state_survives_a_round_trip_and_incarnations_differ() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outputs").join("c.json");
        assert_eq!(WriterState::load(&path), Ok(None));
        let state = WriterState {
            version: 1,
            incarnation: WriterState::new_incarnation(),
            mode: Mode::Markers,
            topic: "t".into(),
            partitions: 2,
            start_offsets: vec![5, 0],
        };
        state.store(&path).unwrap();
        assert_eq!(WriterState::load(&path), Ok(Some(state.clone())));
        assert_ne!(state.incarnation, WriterState::new_incarnation());
    }
}
