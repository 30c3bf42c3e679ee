//! [`HealthTracker`]: the one state machine behind every endpoint's [`EndpointHealth`].
//!
//! Transient trouble makes an endpoint `stalled` (since the first trouble, with the latest reason) until it
//! recovers; a permanent error makes it `failed` for good, and the first such error is the one reported. Every
//! trouble and failure is counted and listed in the recent errors. Each transport decides what counts as trouble,
//! recovery and failure; this file only keeps the state, so that "stalled since" means the same for all of them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use serde::Serialize;

use super::errors::{epoch_ms, ErrorRecord, RecentErrors};

/// An endpoint's condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EndpointHealth {
    /// Moving data (or idle).
    Running,
    /// The destination or source is not answering: a producer's messages are kept unacknowledged, a consumer
    /// receives nothing. Both continue when it recovers.
    Stalled {
        /// The latest transport error, or why the queue is not draining.
        reason: String,
        /// When progress stopped, in milliseconds since the Unix epoch.
        since_ms: u64,
    },
    /// A permanent error: the endpoint moves no more data.
    Failed {
        /// The first permanent error, naming the destination or source and the cause.
        error: String,
        /// When it happened, in milliseconds since the Unix epoch.
        since_ms: u64,
    },
}

/// What a [`HealthTracker`] holds at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthSnapshot {
    /// Failed if a permanent error happened, else stalled while in trouble, else running.
    pub health: EndpointHealth,
    /// Troubles and failures seen.
    pub num_errors: u64,
    /// The most recent of them, oldest first.
    pub errors: Vec<ErrorRecord>,
}

#[derive(Default)]
struct State {
    failed: Option<(String, SystemTime)>,
    trouble: Option<(String, SystemTime)>,
    errors: RecentErrors,
}

/// Running → stalled (trouble) → running (recovered); anything → failed (sticky, the first error wins). Shared by
/// an endpoint's threads: every method takes `&self`, and the common calls take no lock while all is well.
#[derive(Default)]
pub struct HealthTracker {
    state: Mutex<State>,
    num_errors: AtomicU64,
    // Mirrors of `state`, set under its lock, so that progress takes no lock unless something is wrong.
    has_failed: AtomicBool,
    has_trouble: AtomicBool,
}

impl HealthTracker {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A transient problem: stalled (since the first one) until [`HealthTracker::recovered`].
    pub fn trouble(&self, reason: String) {
        self.num_errors.fetch_add(1, Relaxed);
        let mut s = self.state();
        s.errors.push(reason.clone());
        match &mut s.trouble {
            Some((r, _)) => *r = reason,
            None => s.trouble = Some((reason, SystemTime::now())),
        }
        self.has_trouble.store(true, Relaxed);
    }

    /// Progress again (a message arrived or was acknowledged, a broker answered): the trouble is over.
    pub fn recovered(&self) {
        if self.has_trouble.load(Relaxed) {
            let mut s = self.state();
            s.trouble = None;
            self.has_trouble.store(false, Relaxed);
        }
    }

    /// A permanent error; the first one is kept as the reason the endpoint failed, later ones are only listed.
    pub fn fail(&self, error: String) {
        self.num_errors.fetch_add(1, Relaxed);
        let mut s = self.state();
        s.errors.push(error.clone());
        s.failed.get_or_insert((error, SystemTime::now()));
        self.has_failed.store(true, Relaxed);
    }

    /// Whether there is trouble now (and no recovery since).
    pub fn in_trouble(&self) -> bool {
        self.has_trouble.load(Relaxed)
    }

    /// The latest transient problem, for error messages at startup.
    pub fn last_trouble(&self) -> Option<String> {
        self.state().trouble.as_ref().map(|(r, _)| r.clone())
    }

    /// The first permanent error, once there is one.
    pub fn failure(&self) -> Option<String> {
        if !self.has_failed.load(Relaxed) {
            return None;
        }
        self.state().failed.as_ref().map(|(e, _)| e.clone())
    }

    /// The state now: failed, else stalled while in trouble, else running; with the error count and list.
    pub fn snapshot(&self) -> HealthSnapshot {
        let s = self.state();
        let health = if let Some((error, since)) = &s.failed {
            EndpointHealth::Failed {
                error: error.clone(),
                since_ms: epoch_ms(*since),
            }
        } else if let Some((reason, since)) = &s.trouble {
            EndpointHealth::Stalled {
                reason: reason.clone(),
                since_ms: epoch_ms(*since),
            }
        } else {
            EndpointHealth::Running
        };
        HealthSnapshot {
            health,
            num_errors: self.num_errors.load(Relaxed),
            errors: s.errors.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trouble_stalls_since_the_first_time_with_the_latest_reason() {
        let h = HealthTracker::default();
        h.trouble("first".into());
        let EndpointHealth::Stalled { since_ms, .. } = h.snapshot().health else {
            panic!("not stalled");
        };
        h.trouble("second".into());
        assert_eq!(
            h.snapshot().health,
            EndpointHealth::Stalled {
                reason: "second".into(),
                since_ms
            }
        );
        assert!(h.in_trouble());
        h.recovered();
        let s = h.snapshot();
        assert_eq!(s.health, EndpointHealth::Running);
        assert_eq!(s.num_errors, 2);
        assert_eq!(s.errors.len(), 2);
        assert_eq!(h.last_trouble(), None);
    }

    #[test]
    fn failure_is_sticky_and_the_first_error_wins() {
        let h = HealthTracker::default();
        h.trouble("stall".into());
        h.fail("first".into());
        h.fail("second".into());
        h.recovered();
        assert!(
            matches!(h.snapshot().health, EndpointHealth::Failed { ref error, .. } if error == "first")
        );
        assert_eq!(h.failure().as_deref(), Some("first"));
        assert_eq!(h.snapshot().num_errors, 3);
    }
}
