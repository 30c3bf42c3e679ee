//! When to ask dbsp to compact the state of a program with waterlines.
//!
//! dbsp drops the rows a retention policy rejects only when it merges a trace's batches, and it merges a level of
//! its spine only once enough batches gathered there: rows below the waterlines wait in unmerged batches, up to
//! several times the live state (measured: without requests the state swings between 1x and 3.5x the rows the
//! waterlines keep). A compaction request merges every trace whole, in the background, which brings each trace
//! back to its live rows. It costs a pass over the state, so requests are spaced by the input they follow: at
//! least [`MIN_STEPS`] steps and [`MIN_CHANGES`] input changes apart, and at least half the state measured at the
//! previous request, which keeps the merging a compaction adds to at most about two rows per input change however
//! large the live state is and however small the steps.

/// Steps between two requests, at least: tiny steps do not each pay for a pass over the state.
pub const MIN_STEPS: u64 = 8;

/// Input changes between two requests, at least.
pub const MIN_CHANGES: u64 = 65_536;

/// Counts steps and input changes since the last compaction request.
#[derive(Debug)]
pub struct CompactionPolicy {
    steps: u64,
    changes: u64,
    /// Changes the next request waits for, besides [`MIN_STEPS`].
    due_after: u64,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        CompactionPolicy {
            steps: 0,
            changes: 0,
            due_after: MIN_CHANGES,
        }
    }
}

impl CompactionPolicy {
    /// Counts a step that pushed `changes` input changes; `true` when a compaction is due now.
    pub fn step(&mut self, changes: usize) -> bool {
        self.steps += 1;
        self.changes += changes as u64;
        self.steps >= MIN_STEPS && self.changes >= self.due_after
    }

    /// A compaction was requested while the state held `state_records` records: the count starts again, and the
    /// next request waits for half that state in input changes (or [`MIN_CHANGES`], the larger).
    pub fn requested(&mut self, state_records: u64) {
        self.steps = 0;
        self.changes = 0;
        self.due_after = MIN_CHANGES.max(state_records / 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compaction_is_due_only_after_enough_steps_and_enough_changes() {
        let mut policy = CompactionPolicy::default();
        // Large steps: the step count decides.
        for _ in 1..MIN_STEPS {
            assert!(!policy.step(100_000));
        }
        assert!(policy.step(100_000));
        policy.requested(0);
        // Tiny steps: the change count decides, however many steps.
        let mut steps = 1;
        while !policy.step(10) {
            steps += 1;
        }
        assert_eq!(
            steps,
            MIN_CHANGES.div_ceil(10),
            "due at the step that reaches MIN_CHANGES"
        );
    }

    #[test]
    fn a_large_state_spaces_requests_by_half_its_size() {
        let mut policy = CompactionPolicy::default();
        policy.requested(10_000_000);
        let mut changes = 0u64;
        while !policy.step(50_000) {
            changes += 50_000;
        }
        assert_eq!(changes + 50_000, 5_000_000);
        // A state below twice the floor leaves the floor in force.
        policy.requested(1_000);
        for _ in 1..MIN_STEPS {
            assert!(!policy.step(MIN_CHANGES as usize));
        }
        assert!(policy.step(0));
    }
}
