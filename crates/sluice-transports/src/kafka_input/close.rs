//! [`ClosingConsumer`]: the endpoint's consumer, closed within a bound when the endpoint is dropped.
//!
//! rdkafka's `BaseConsumer` closes itself on drop by polling until librdkafka says the consumer group was left, with
//! no bound: when the group coordinator never answers (a broker gone for good, or one that came back and no longer
//! knows the member), dropping the consumer never returns, and neither does whatever dropped it (a pipeline's stop,
//! a server's shutdown, a test). Here the close gets [`CLOSE_TIMEOUT`]; a consumer still not closed then is handed
//! to a thread of its own that finishes the close whenever it can, so the caller goes on.

use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::context::InputContext;

/// How long dropping an endpoint waits for its consumer to leave the group. librdkafka's own close waits for at most
/// one request to the coordinator when the coordinator answers, so this only runs out when it does not.
pub(super) const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A `BaseConsumer` whose drop returns within [`CLOSE_TIMEOUT`].
pub(super) struct ClosingConsumer(Option<BaseConsumer<InputContext>>);

impl ClosingConsumer {
    pub(super) fn new(consumer: BaseConsumer<InputContext>) -> Self {
        ClosingConsumer(Some(consumer))
    }
}

impl Deref for ClosingConsumer {
    type Target = BaseConsumer<InputContext>;

    fn deref(&self) -> &Self::Target {
        self.0
            .as_ref()
            .expect("the consumer is there until the endpoint is dropped")
    }
}

impl Drop for ClosingConsumer {
    fn drop(&mut self) {
        let Some(consumer) = self.0.take() else {
            return;
        };
        if std::env::var("OLD_CLOSE").is_ok() {
            let t = std::time::Instant::now();
            drop(consumer);
            eprintln!("old close took {:?}", t.elapsed());
            return;
        }
        if consumer.close_queue().is_ok() {
            let deadline = Instant::now() + CLOSE_TIMEOUT;
            // Polling serves the close's last rebalance (the partitions revoked); messages still arriving are dropped
            // with the consumer.
            while !consumer.closed() && Instant::now() < deadline {
                let _ = consumer.poll(Duration::from_millis(100));
            }
        }
        if consumer.closed() {
            return;
        }
        let topics = consumer.context().topics.clone();
        tracing::warn!(
            topics = %topics,
            "the Kafka consumer did not leave its group within {} s; closing it in the background",
            CLOSE_TIMEOUT.as_secs()
        );
        // If no thread can be had, the consumer is leaked (ManuallyDrop) rather than closed here without a bound.
        let consumer = ManuallyDrop::new(consumer);
        let spawned = std::thread::Builder::new()
            .name("kafka-input-close".into())
            .spawn(move || drop(ManuallyDrop::into_inner(consumer)));
        if let Err(e) = spawned {
            tracing::error!(topics = %topics, "cannot start a thread to close the Kafka consumer, leaking it: {e}");
        }
    }
}
