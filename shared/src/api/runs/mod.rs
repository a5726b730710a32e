//! `/api/runs/…` bodies: creating and changing a run ([`requests`]), what a run looks like to
//! its participants, and the receipt for an upload.

mod contributors;
mod parts;
mod requests;
mod secure;

use serde::{Deserialize, Serialize};

pub use contributors::*;
pub use parts::*;
pub use requests::*;
pub use secure::*;

use crate::aggregate::metrics::RoundMetrics;
use crate::aggregate::Method;
use crate::meshnet::ModelConfig;
use crate::plan::TrainingPlan;
use crate::ApiError;

/// 409 for an upload to round `requested` while round `current` is open.
pub fn round_conflict(requested: u32, current: u32) -> ApiError {
    let when = if requested < current {
        "is closed"
    } else {
        "has not opened"
    };
    ApiError::new(
        crate::ErrorCode::Conflict,
        format!("Round {requested} {when}; the current round is {current}"),
    )
    .with_details(serde_json::json!({ "current_round": current }))
}

/// `POST /api/runs/{id}/activate`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    pub active: bool,
}

/// What every view of a run starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunHeader {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub classes: usize,
    pub creator: String,
    pub aggregation: Method,
    pub round_timeout_secs: u64,
    pub current_round: u32,
    pub created_at: String,
    /// Whether the server sees only each round's sum.
    #[serde(default)]
    pub secure_aggregation: bool,
}

/// A run in `GET /api/runs`: the header and how many take part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunSummary {
    #[serde(flatten)]
    pub run: RunHeader,
    pub participants: usize,
}

/// One participant as the run shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Participant {
    pub email: String,
    pub username: String,
    pub active: bool,
    pub creator: bool,
    /// Whether they have uploaded to the current round.
    pub uploaded: bool,
}

/// Whether a round takes weights or gradients (fixed by its first upload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UploadKind {
    Weights,
    Gradients,
}

impl UploadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadKind::Weights => "weights",
            UploadKind::Gradients => "gradients",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "weights" => Some(UploadKind::Weights),
            "gradients" => Some(UploadKind::Gradients),
            _ => None,
        }
    }
}

/// The current round. `state` is `open` before the deadline and `waiting` after it while
/// fewer than `min_participants` have uploaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoundStatus {
    pub round: u32,
    pub state: String,
    pub kind: Option<UploadKind>,
    pub opened_at: String,
    pub deadline_at: String,
    pub uploads: u32,
    pub active_participants: u32,
    /// Uploads that close the round once the deadline has passed.
    pub needed_at_deadline: u32,
}

/// A version of a run's plan: from which round it applies, and what it says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanVersion {
    pub version: u32,
    pub from_round: u32,
    /// The plan in one sentence, as the app and the CLI show it.
    pub summary: String,
    pub plan: TrainingPlan,
}

impl PlanVersion {
    pub fn new(version: u32, from_round: u32, plan: TrainingPlan) -> Self {
        Self {
            version,
            from_round,
            summary: plan.describe(),
            plan,
        }
    }

    /// The version `round` trains with among `versions`: the highest that has started.
    pub fn current(versions: &[PlanVersion], round: u32) -> Option<&PlanVersion> {
        versions
            .iter()
            .filter(|v| v.from_round <= round)
            .max_by_key(|v| v.version)
    }

    /// [`Self::current`]'s number (1, the first version, when none has started).
    pub fn of_round(versions: &[PlanVersion], round: u32) -> u32 {
        Self::current(versions, round).map_or(1, |v| v.version)
    }
}

/// A closed round in a run's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoundRecord {
    pub round: u32,
    /// The plan version the round trained with.
    pub plan_version: u32,
    pub kind: Option<UploadKind>,
    pub closed_at: String,
    /// `all_uploaded` or `deadline`.
    pub reason: String,
    pub metrics: RoundMetrics,
    pub aggregate_sha256: Option<String>,
    pub aggregate_bytes: Option<u64>,
}

/// `GET /api/runs/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunDetail {
    /// The header only: `participants` here is the list, not the summary's count.
    #[serde(flatten)]
    pub run: RunHeader,
    pub model: ModelConfig,
    pub parameter_count: usize,
    pub trim_fraction: f64,
    pub min_participants: Option<u32>,
    /// Uploads every round needs before it closes (never 1 unless the run has one participant).
    pub min_contributors: u32,
    pub participants: Vec<Participant>,
    pub round: RoundStatus,
    /// The plan the current round trains with.
    pub plan: PlanVersion,
    /// A newer plan that starts at a later round (after a PATCH), if any.
    #[serde(default)]
    pub next_plan: Option<PlanVersion>,
    pub history: Vec<RoundRecord>,
    /// What the run has spent of its differential privacy; `None`: a run without DP.
    #[serde(default)]
    pub privacy: Option<crate::privacy::PrivacySpent>,
}

/// The answer to an accepted upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UploadReceipt {
    pub run_id: i64,
    pub round: u32,
    pub kind: UploadKind,
    /// True when this upload replaced the caller's earlier one in the same round.
    pub replaced: bool,
    pub bytes: u64,
    pub sha256: String,
    pub num_examples: u64,
    pub uploads: u32,
    /// Set when this upload closed the round.
    pub closed: bool,
    pub current_round: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// v2 and v3 were both made during round 4 (both from round 5): round 5 on takes v3.
    #[test]
    fn a_round_takes_the_newest_started_version() {
        let p = TrainingPlan::default();
        let versions = [
            PlanVersion::new(1, 1, p.clone()),
            PlanVersion::new(2, 5, p.clone()),
            PlanVersion::new(3, 5, p.clone()),
            PlanVersion::new(4, 9, p),
        ];
        assert_eq!(PlanVersion::of_round(&versions, 4), 1);
        assert_eq!(PlanVersion::of_round(&versions, 5), 3);
        assert_eq!(PlanVersion::of_round(&versions, 8), 3);
        assert_eq!(PlanVersion::of_round(&versions, 9), 4);
        assert_eq!(PlanVersion::of_round(&[], 9), 1);
    }

    #[test]
    fn run_detail_has_one_participants_key_and_round_trips() {
        let header = RunHeader {
            id: 7,
            name: "tissue".into(),
            description: String::new(),
            classes: 3,
            creator: "a@clinic.example".into(),
            aggregation: Method::Fedavg,
            round_timeout_secs: 600,
            current_round: 2,
            created_at: "2026-11-22T20:00:00Z".into(),
            secure_aggregation: false,
        };
        let detail = RunDetail {
            run: header.clone(),
            model: ModelConfig::model5_gw_ae(),
            parameter_count: ModelConfig::model5_gw_ae().parameter_count(),
            trim_fraction: 0.1,
            min_participants: None,
            min_contributors: 2,
            participants: vec![Participant {
                email: "a@clinic.example".into(),
                username: "a".into(),
                active: true,
                creator: true,
                uploaded: false,
            }],
            round: RoundStatus {
                round: 2,
                state: "open".into(),
                kind: None,
                opened_at: String::new(),
                deadline_at: String::new(),
                uploads: 0,
                active_participants: 1,
                needed_at_deadline: 1,
            },
            plan: PlanVersion::new(1, 1, TrainingPlan::default()),
            next_plan: None,
            history: vec![],
            privacy: None,
        };
        let text = serde_json::to_string(&detail).unwrap();
        assert_eq!(text.matches("\"participants\"").count(), 1, "{text}");
        assert_eq!(serde_json::from_str::<RunDetail>(&text).unwrap(), detail);
        let summary = RunSummary {
            run: header,
            participants: 1,
        };
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["participants"], 1);
        assert_eq!(json["name"], "tissue");
        assert_eq!(serde_json::from_value::<RunSummary>(json).unwrap(), summary);
    }
}
