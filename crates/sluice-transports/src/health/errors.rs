//! The clock every stat uses, one error with its time, and the bounded list of the most recent errors: a stream of
//! bad input or a broker that keeps failing must not grow memory, while the count of all errors is kept elsewhere.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Milliseconds since the Unix epoch.
pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Milliseconds since the Unix epoch, now: `epoch_ms(SystemTime::now())`.
pub fn now_ms() -> u64 {
    epoch_ms(SystemTime::now())
}

/// One error, for the stats' recent-errors lists (of a transport, a table or a connector).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorRecord {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The error, naming where it happened (topic and cause; table, record and column; connector and offset).
    pub message: String,
}

/// The name transport stats use for an [`ErrorRecord`].
pub type TransportErrorRecord = ErrorRecord;

/// How many recent errors a list remembers.
const MAX_REMEMBERED_ERRORS: usize = 100;

/// The most recent errors, oldest first, at most [`MAX_REMEMBERED_ERRORS`].
#[derive(Default)]
pub struct RecentErrors(VecDeque<ErrorRecord>);

impl RecentErrors {
    /// Remembers `message` with the current time, forgetting the oldest beyond the limit.
    pub fn push(&mut self, message: String) {
        if self.0.len() == MAX_REMEMBERED_ERRORS {
            self.0.pop_front();
        }
        self.0.push_back(ErrorRecord {
            at_ms: now_ms(),
            message,
        });
    }

    /// The remembered errors, oldest first.
    pub fn to_vec(&self) -> Vec<ErrorRecord> {
        self.0.iter().cloned().collect()
    }

    /// The most recent error.
    pub fn last(&self) -> Option<&ErrorRecord> {
        self.0.back()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_keeps_the_newest_hundred_oldest_first() {
        let mut errors = RecentErrors::default();
        for i in 0..150 {
            errors.push(format!("e{i}"));
        }
        let list = errors.to_vec();
        assert_eq!(list.len(), 100);
        assert_eq!(list[0].message, "e50");
        assert_eq!(errors.last().map(|e| e.message.as_str()), Some("e149"));
    }
}
