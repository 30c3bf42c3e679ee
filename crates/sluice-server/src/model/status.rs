//! The pipeline lifecycle: the desired/current status model and which requests it allows.
//!
//! A client states what it wants (`start` → desired `Running`, `pause` → desired `Paused`, `shutdown` → desired
//! `Shutdown`); the runner (a later part of Sluice) moves the current status towards it. This module decides,
//! from the current and desired status alone, whether an action or a deletion is allowed, with the reference's
//! error texts; the HTTP layer adds the checks that need the program (compiled, relations present).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a pipeline is, or where a client wants it to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum PipelineStatus {
    /// Not running; no resources held.
    Shutdown,
    /// Resources are being allocated.
    Provisioning,
    /// The pipeline process is starting its connectors.
    Initializing,
    /// Running but not processing input.
    Paused,
    /// Processing input.
    Running,
    /// Stopping.
    ShuttingDown,
    /// Stopped by an error, kept until a `shutdown` clears it.
    Failed,
}

impl PipelineStatus {
    /// Every status.
    pub const ALL: [PipelineStatus; 7] = [
        PipelineStatus::Shutdown,
        PipelineStatus::Provisioning,
        PipelineStatus::Initializing,
        PipelineStatus::Paused,
        PipelineStatus::Running,
        PipelineStatus::ShuttingDown,
        PipelineStatus::Failed,
    ];

    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineStatus::Shutdown => "Shutdown",
            PipelineStatus::Provisioning => "Provisioning",
            PipelineStatus::Initializing => "Initializing",
            PipelineStatus::Paused => "Paused",
            PipelineStatus::Running => "Running",
            PipelineStatus::ShuttingDown => "ShuttingDown",
            PipelineStatus::Failed => "Failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A lifecycle request: `POST /v0/pipelines/{name}/{action}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipelineAction {
    /// Run (from `Shutdown`: deploy, then run).
    Start,
    /// Pause (from `Shutdown`: deploy, then stay paused).
    Pause,
    /// Stop and release everything; also clears a failure.
    Shutdown,
    /// Feldera's current name for `shutdown` (`/stop?force=...`): the same graceful stop.
    Stop,
    /// Run a deployed pipeline again (Feldera's `/resume`); unlike `start`, it does not deploy.
    Resume,
}

impl PipelineAction {
    /// Parses the path segment.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "start" => Some(PipelineAction::Start),
            "pause" => Some(PipelineAction::Pause),
            "shutdown" => Some(PipelineAction::Shutdown),
            "stop" => Some(PipelineAction::Stop),
            "resume" => Some(PipelineAction::Resume),
            _ => None,
        }
    }

    /// The status this action asks for.
    pub fn desired(self) -> PipelineStatus {
        match self {
            PipelineAction::Start | PipelineAction::Resume => PipelineStatus::Running,
            PipelineAction::Pause => PipelineStatus::Paused,
            PipelineAction::Shutdown | PipelineAction::Stop => PipelineStatus::Shutdown,
        }
    }
}

/// An allowed action: the new desired status, and whether it deploys the pipeline (leaves `Shutdown`), which
/// needs a compiled program whose schema has every attached relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The desired status to record.
    pub desired: PipelineStatus,
    /// Whether the pipeline leaves `Shutdown`, so that a runtime must deploy it.
    pub deploys: bool,
}

/// Message for starting or pausing while a shutdown is under way.
pub const WHILE_SHUTTING_DOWN: &str =
    "Cannot restart the pipeline while it is shutting down. Wait for the \
     shutdown to complete before starting a new instance of the pipeline.";
/// Message for starting or pausing a failed pipeline.
pub const FAILED: &str =
    "Cannot restart a failed pipeline. Clear the error state first by invoking the \
     '/shutdown' endpoint.";
/// Message for deleting a pipeline that is not shut down.
pub const DELETE_RUNNING: &str =
    "Cannot delete a running pipeline. Shutdown the pipeline first by invoking \
     the '/shutdown' endpoint.";

/// Message for resuming a pipeline that is not deployed.
pub const RESUME_NOT_DEPLOYED: &str =
    "Cannot resume a pipeline that is not deployed: start it with '/start' (?initial=running or paused).";

/// Whether `action` is allowed on a pipeline at `current` that is heading for `desired`.
pub fn plan_action(
    current: PipelineStatus,
    desired: PipelineStatus,
    action: PipelineAction,
) -> Result<Transition, &'static str> {
    use PipelineStatus as S;
    if action.desired() == S::Shutdown {
        return Ok(Transition {
            desired: S::Shutdown,
            deploys: false,
        });
    }
    if desired == S::Shutdown && current != S::Shutdown {
        return Err(WHILE_SHUTTING_DOWN);
    }
    if matches!(current, S::Failed | S::ShuttingDown) {
        return Err(FAILED);
    }
    if action == PipelineAction::Resume && current == S::Shutdown && desired == S::Shutdown {
        return Err(RESUME_NOT_DEPLOYED);
    }
    Ok(Transition {
        desired: action.desired(),
        deploys: current == S::Shutdown && desired == S::Shutdown,
    })
}

/// Whether a pipeline may be deleted: only when it is shut down and meant to stay so.
pub fn check_delete(current: PipelineStatus, desired: PipelineStatus) -> Result<(), &'static str> {
    if current == PipelineStatus::Shutdown && desired == PipelineStatus::Shutdown {
        Ok(())
    } else {
        Err(DELETE_RUNNING)
    }
}

#[cfg(test)]
mod tests {
    use super::PipelineAction::{Pause, Start};
    use super::PipelineStatus::{Failed, Paused, Running, ShuttingDown};
    use super::*;

    const SHUTDOWN: PipelineAction = PipelineAction::Shutdown;

    /// The full table: every current status, every desired status, every action.
    #[test]
    fn transitions_table() {
        for current in PipelineStatus::ALL {
            for desired in PipelineStatus::ALL {
                assert_eq!(
                    plan_action(current, desired, SHUTDOWN),
                    Ok(Transition {
                        desired: PipelineStatus::Shutdown,
                        deploys: false
                    })
                );
                for action in [Start, Pause] {
                    let got = plan_action(current, desired, action);
                    let expected = if desired == PipelineStatus::Shutdown
                        && current != PipelineStatus::Shutdown
                    {
                        Err(WHILE_SHUTTING_DOWN)
                    } else if matches!(current, Failed | ShuttingDown) {
                        Err(FAILED)
                    } else {
                        Ok(Transition {
                            desired: action.desired(),
                            deploys: current == PipelineStatus::Shutdown
                                && desired == PipelineStatus::Shutdown,
                        })
                    };
                    assert_eq!(got, expected, "{current:?} -> {desired:?} by {action:?}");
                }
            }
        }
    }

    #[test]
    fn named_cases() {
        let shut = PipelineStatus::Shutdown;
        assert!(plan_action(shut, shut, Start).unwrap().deploys);
        assert!(plan_action(shut, shut, Pause).unwrap().deploys);
        assert!(!plan_action(Running, Running, Pause).unwrap().deploys);
        assert_eq!(plan_action(Paused, Paused, Start).unwrap().desired, Running);
        assert_eq!(plan_action(Running, shut, Start), Err(WHILE_SHUTTING_DOWN));
        assert_eq!(plan_action(Failed, Running, Start), Err(FAILED));
        assert_eq!(plan_action(Failed, Running, Pause), Err(FAILED));
        assert_eq!(
            plan_action(Failed, Running, SHUTDOWN).unwrap().desired,
            shut
        );
    }

    #[test]
    fn delete_only_when_shut_down() {
        for current in PipelineStatus::ALL {
            for desired in PipelineStatus::ALL {
                let allowed =
                    current == PipelineStatus::Shutdown && desired == PipelineStatus::Shutdown;
                assert_eq!(check_delete(current, desired).is_ok(), allowed);
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in PipelineStatus::ALL {
            assert_eq!(PipelineStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::json!(s), serde_json::json!(s.as_str()));
        }
        assert_eq!(PipelineAction::parse("deploy"), None);
        assert_eq!(PipelineAction::parse("stop"), Some(PipelineAction::Stop));
    }

    /// `stop` is `shutdown` by another name; `resume` is `start` for a deployed pipeline only.
    #[test]
    fn stop_and_resume() {
        use PipelineStatus::Shutdown as Shut;
        for current in PipelineStatus::ALL {
            for desired in PipelineStatus::ALL {
                assert_eq!(
                    plan_action(current, desired, PipelineAction::Stop),
                    plan_action(current, desired, SHUTDOWN)
                );
                let resume = plan_action(current, desired, PipelineAction::Resume);
                if current == Shut && desired == Shut {
                    assert_eq!(resume, Err(RESUME_NOT_DEPLOYED));
                } else {
                    assert_eq!(resume, plan_action(current, desired, Start));
                }
            }
        }
    }
}
