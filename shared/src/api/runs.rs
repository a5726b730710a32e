//! `/api/runs/…` bodies: creating a run, what a run looks like to its participants, and the
//! receipt for an upload.

use serde::{Deserialize, Serialize};

use crate::aggregate::metrics::RoundMetrics;
use crate::aggregate::{Method, DEFAULT_TRIM_FRACTION};
use crate::meshnet::ModelConfig;
use crate::plan::{PlanRequest, TrainingPlan};
use crate::tensor::nested_json::JsonTensors;
use crate::ApiError;

/// Rounds wait an hour for every participant unless the run says otherwise.
pub const DEFAULT_ROUND_TIMEOUT_SECS: u64 = 3600;
pub const MAX_ROUND_TIMEOUT_SECS: u64 = 30 * 24 * 3600;
pub const MAX_PARTICIPANTS: usize = 256;

/// `POST /api/runs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRunRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Emails of confirmed users; the creator joins whether listed or not.
    #[serde(default)]
    pub participants: Vec<String>,
    #[serde(default = "default_timeout")]
    pub round_timeout_secs: u64,
    /// Shorthand for `model5` with this many classes when `model` is absent.
    #[serde(default)]
    pub classes: Option<usize>,
    #[serde(default)]
    pub model: Option<ModelConfig>,
    #[serde(default)]
    pub aggregation: Method,
    #[serde(default)]
    pub trim_fraction: Option<f64>,
    /// Uploads that let a round close at its deadline; absent: every active participant.
    #[serde(default)]
    pub min_participants: Option<u32>,
    /// Initial global model in the nested-array JSON form.
    #[serde(default)]
    pub initial_weights: Option<JsonTensors>,
    /// Initial global model as base64 safetensors (F32 or F16).
    #[serde(default)]
    pub initial_weights_safetensors: Option<String>,
    /// How everyone trains; absent fields take [`TrainingPlan::default`] (the lab's recipe).
    #[serde(default)]
    pub plan: Option<PlanRequest>,
    /// Start from one of brainchop's pretrained models (its architecture and weights):
    /// `model5_gw_ae`, `model11_gw_ae` or `model20chan3cls`.
    #[serde(default)]
    pub preset: Option<String>,
}

/// A preset's architecture, without importing its weights.
fn preset_config(p: &crate::meshnet::brainchop::Preset) -> ModelConfig {
    ModelConfig::preset(p.name).unwrap_or_default()
}

fn default_timeout() -> u64 {
    DEFAULT_ROUND_TIMEOUT_SECS
}

/// A creation request with every rule checked and defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRun {
    pub name: String,
    pub description: String,
    pub participants: Vec<String>,
    pub round_timeout_secs: u64,
    pub model: ModelConfig,
    pub aggregation: Method,
    pub trim_fraction: f64,
    pub min_participants: Option<u32>,
    pub plan: TrainingPlan,
}

impl CreateRunRequest {
    /// Checks everything but the initial weights and who the participants are.
    pub fn validate(&self) -> Result<ValidRun, ApiError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(ApiError::invalid_field(
                "name",
                "must be 1 to 120 characters",
            ));
        }
        if self.description.chars().count() > 4000 {
            return Err(ApiError::invalid_field(
                "description",
                "must be at most 4000 characters",
            ));
        }
        if !(1..=MAX_ROUND_TIMEOUT_SECS).contains(&self.round_timeout_secs) {
            return Err(ApiError::invalid_field(
                "round_timeout_secs",
                format!("must be 1 to {MAX_ROUND_TIMEOUT_SECS} seconds"),
            ));
        }
        if let Some(name) = &self.preset {
            if crate::meshnet::brainchop::Preset::find(name).is_none() {
                let names: Vec<&str> = crate::meshnet::brainchop::PRESETS
                    .iter()
                    .map(|p| p.name)
                    .collect();
                return Err(ApiError::invalid_field(
                    "preset",
                    format!("must be one of {}", names.join(", ")),
                ));
            }
            let given = self.model.is_some()
                || self.initial_weights.is_some()
                || self.initial_weights_safetensors.is_some();
            if given || self.classes.is_some_and(|c| c != 3) {
                return Err(ApiError::invalid_field(
                    "preset",
                    "brings its own model and weights: leave out model, classes and initial_weights",
                ));
            }
        }
        let preset_model = self
            .preset
            .as_deref()
            .and_then(crate::meshnet::brainchop::Preset::find)
            .map(preset_config);
        let model = match (&self.model, self.classes) {
            _ if preset_model.is_some() => preset_model.clone().unwrap_or_default(),
            (Some(m), Some(c)) if m.classes != c => {
                return Err(ApiError::invalid_field(
                    "classes",
                    "differs from model.classes",
                ))
            }
            (Some(m), _) => m.clone(),
            (None, Some(c)) => ModelConfig::model5(c),
            (None, None) => ModelConfig::default(),
        };
        model
            .validate()
            .map_err(|e| ApiError::invalid_field("model", e.to_string()))?;
        let trim_fraction = self.trim_fraction.unwrap_or(DEFAULT_TRIM_FRACTION);
        if !(0.0..0.5).contains(&trim_fraction) {
            return Err(ApiError::invalid_field(
                "trim_fraction",
                "must be at least 0 and below 0.5",
            ));
        }
        let mut participants: Vec<String> = vec![];
        for email in &self.participants {
            let email = email.trim().to_lowercase();
            if !email.contains('@') {
                return Err(ApiError::invalid_field(
                    "participants",
                    "every entry must be an email",
                ));
            }
            if !participants.contains(&email) {
                participants.push(email);
            }
        }
        if participants.len() > MAX_PARTICIPANTS {
            return Err(ApiError::invalid_field(
                "participants",
                format!("at most {MAX_PARTICIPANTS} participants"),
            ));
        }
        if self.min_participants == Some(0) {
            return Err(ApiError::invalid_field(
                "min_participants",
                "must be at least 1",
            ));
        }
        if self.initial_weights.is_some() && self.initial_weights_safetensors.is_some() {
            return Err(ApiError::invalid_field(
                "initial_weights",
                "give initial_weights or initial_weights_safetensors, not both",
            ));
        }
        let plan = self
            .plan
            .clone()
            .unwrap_or_default()
            .resolve(&TrainingPlan::default())?;
        Ok(ValidRun {
            plan,
            name: name.to_string(),
            description: self.description.trim().to_string(),
            participants,
            round_timeout_secs: self.round_timeout_secs,
            model,
            aggregation: self.aggregation,
            trim_fraction,
            min_participants: self.min_participants,
        })
    }
}

/// `PATCH /api/runs/{id}` (creator only): fields left out stay as they are. A new timeout
/// applies from the next round, and so does a plan: its given fields laid over the run's
/// latest plan make a new plan version that starts at the next round.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRunRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub round_timeout_secs: Option<u64>,
    #[serde(default)]
    pub min_participants: Option<u32>,
    #[serde(default)]
    pub plan: Option<PlanRequest>,
}

impl UpdateRunRequest {
    pub fn validate(&self, participants: usize) -> Result<(), ApiError> {
        if self
            .name
            .as_ref()
            .is_some_and(|n| n.trim().is_empty() || n.trim().chars().count() > 120)
        {
            return Err(ApiError::invalid_field(
                "name",
                "must be 1 to 120 characters",
            ));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 4000)
        {
            return Err(ApiError::invalid_field(
                "description",
                "must be at most 4000 characters",
            ));
        }
        if self
            .round_timeout_secs
            .is_some_and(|t| !(1..=MAX_ROUND_TIMEOUT_SECS).contains(&t))
        {
            return Err(ApiError::invalid_field(
                "round_timeout_secs",
                format!("must be 1 to {MAX_ROUND_TIMEOUT_SECS} seconds"),
            ));
        }
        if self
            .min_participants
            .is_some_and(|k| k == 0 || k as usize > participants)
        {
            return Err(ApiError::invalid_field(
                "min_participants",
                format!("must be 1 to {participants}"),
            ));
        }
        Ok(())
    }
}

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
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    pub active: bool,
}

/// What every view of a run starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// A run in `GET /api/runs`: the header and how many take part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    #[serde(flatten)]
    pub run: RunHeader,
    pub participants: usize,
}

/// One participant as the run shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    pub email: String,
    pub username: String,
    pub active: bool,
    pub creator: bool,
    /// Whether they have uploaded to the current round.
    pub uploaded: bool,
}

/// Whether a round takes weights or gradients (fixed by its first upload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub fn of_round(versions: &[PlanVersion], round: u32) -> u32 {
        versions
            .iter()
            .filter(|v| v.from_round <= round)
            .map(|v| v.version)
            .max()
            .unwrap_or(1)
    }
}

/// A closed round in a run's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    /// The header only: `participants` here is the list, not the summary's count.
    #[serde(flatten)]
    pub run: RunHeader,
    pub model: ModelConfig,
    pub parameter_count: usize,
    pub trim_fraction: f64,
    pub min_participants: Option<u32>,
    pub participants: Vec<Participant>,
    pub round: RoundStatus,
    /// The plan the current round trains with.
    pub plan: PlanVersion,
    /// A newer plan that starts at a later round (after a PATCH), if any.
    #[serde(default)]
    pub next_plan: Option<PlanVersion>,
    pub history: Vec<RoundRecord>,
}

/// The answer to an accepted upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

    fn req(json: serde_json::Value) -> CreateRunRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn defaults_are_model5_fedavg_one_hour() {
        let v = req(serde_json::json!({"name": " Run ", "participants": ["A@x.org", "a@x.org"]}))
            .validate()
            .unwrap();
        assert_eq!(v.name, "Run");
        assert_eq!(v.participants, vec!["a@x.org"]);
        assert_eq!(v.model, ModelConfig::model5(3));
        assert_eq!(v.aggregation, Method::Fedavg);
        assert_eq!(v.round_timeout_secs, 3600);
        assert_eq!(v.min_participants, None);
        assert_eq!(v.plan, TrainingPlan::default());
        let v = req(serde_json::json!({"name": "r", "classes": 2, "aggregation": "trimmed_mean", "trim_fraction": 0.2}))
            .validate()
            .unwrap();
        assert_eq!(
            (v.model.classes, v.aggregation, v.trim_fraction),
            (2, Method::TrimmedMean, 0.2)
        );
    }

    #[test]
    fn every_rule_names_its_field() {
        let field = |j: serde_json::Value| {
            req(j).validate().unwrap_err().details.unwrap()["field"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(field(serde_json::json!({"name": " "})), "name");
        assert_eq!(
            field(serde_json::json!({"name": "r", "round_timeout_secs": 0})),
            "round_timeout_secs"
        );
        assert_eq!(
            field(serde_json::json!({"name": "r", "classes": 1})),
            "model"
        );
        assert_eq!(
            field(
                serde_json::json!({"name": "r", "classes": 2, "model": {"channels": 5, "dilations": [1], "classes": 3}})
            ),
            "classes"
        );
        assert_eq!(
            field(serde_json::json!({"name": "r", "trim_fraction": 0.5})),
            "trim_fraction"
        );
        assert_eq!(
            field(serde_json::json!({"name": "r", "participants": ["nobody"]})),
            "participants"
        );
        assert_eq!(
            field(serde_json::json!({"name": "r", "min_participants": 0})),
            "min_participants"
        );
        assert_eq!(
            field(serde_json::json!({"name": "r", "plan": {"batch": 0}})),
            "plan.batch"
        );
        assert_eq!(
            field(serde_json::json!({"name": "r", "preset": "model99"})),
            "preset"
        );
        assert_eq!(
            field(serde_json::json!({"name": "r", "preset": "model11_gw_ae", "classes": 4})),
            "preset"
        );
        let v = req(serde_json::json!({"name": "r", "preset": "model11_gw_ae"}))
            .validate()
            .unwrap();
        assert_eq!(v.model, ModelConfig::model11_gw_ae());
        assert!(serde_json::from_value::<CreateRunRequest>(
            serde_json::json!({"name": "r", "aggregation": "avg"})
        )
        .is_err());
    }

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
        };
        let detail = RunDetail {
            run: header.clone(),
            model: ModelConfig::model5_gw_ae(),
            parameter_count: ModelConfig::model5_gw_ae().parameter_count(),
            trim_fraction: 0.1,
            min_participants: None,
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
