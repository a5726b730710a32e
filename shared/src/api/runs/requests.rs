//! `POST /api/runs` and `PATCH /api/runs/{id}`: creating a run and changing it, with every
//! rule checked before anything is written.

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Shorthand for brainchop's `model5` (no BatchNorm) with this many classes when `model`
    /// is absent. With neither, a run trains [`ModelConfig::lab_recipe`].
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
    /// Uploads any round needs before it closes; absent: 2 (see [`contributors_needed`]).
    #[serde(default)]
    pub min_contributors: Option<u32>,
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
    /// The server learns only the sum of each round's updates (see [`crate::secagg`]).
    #[serde(default)]
    pub secure_aggregation: bool,
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
    pub min_contributors: Option<u32>,
    pub plan: TrainingPlan,
    pub secure_aggregation: bool,
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
        let model = match (preset_model, &self.model, self.classes) {
            (Some(preset), _, _) => preset,
            (None, Some(m), Some(c)) if m.classes != c => {
                return Err(ApiError::invalid_field(
                    "classes",
                    "differs from model.classes",
                ))
            }
            (None, Some(m), _) => m.clone(),
            (None, None, Some(c)) => ModelConfig::model5(c),
            (None, None, None) => ModelConfig::lab_recipe(),
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
        if plan.dp.is_some() && self.aggregation != Method::Mean {
            let reason = "must be \"mean\" with plan.dp: DP-FedAvg counts every upload \
                alike, so one participant moves the average by at most the clip norm";
            return Err(ApiError::new(
                crate::ErrorCode::UnprocessableEntity,
                format!("Invalid aggregation: {reason}"),
            )
            .with_details(serde_json::json!({ "field": "aggregation", "reason": reason })));
        }
        if self.secure_aggregation && participants.len() + 1 > 255 {
            return Err(ApiError::invalid_field(
                "participants",
                "a securely aggregated run takes at most 255 members, its creator included",
            ));
        }
        if self.secure_aggregation && !self.aggregation.is_streaming() {
            let reason = format!(
                "{} needs every upload in the clear: secure aggregation gives the server only \
                 the sum, so it works with \"fedavg\" or \"mean\"",
                self.aggregation.as_str()
            );
            return Err(ApiError::new(
                crate::ErrorCode::UnprocessableEntity,
                format!("Invalid secure_aggregation: {reason}"),
            )
            .with_details(serde_json::json!({ "field": "secure_aggregation", "reason": reason })));
        }
        Ok(ValidRun {
            plan,
            secure_aggregation: self.secure_aggregation,
            name: name.to_string(),
            description: self.description.trim().to_string(),
            participants,
            round_timeout_secs: self.round_timeout_secs,
            model,
            aggregation: self.aggregation,
            trim_fraction,
            min_participants: self.min_participants,
            min_contributors: self.min_contributors,
        })
    }
}

/// `PATCH /api/runs/{id}` (creator only): fields left out stay as they are. A new timeout
/// applies from the next round, and so does a plan: its given fields laid over the run's
/// latest plan make a new plan version that starts at the next round.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
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
    pub min_contributors: Option<u32>,
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
        if let Some(k) = self.min_contributors {
            super::check_min_contributors(k, participants)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: serde_json::Value) -> CreateRunRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn defaults_are_the_lab_recipe_fedavg_one_hour() {
        let v = req(serde_json::json!({"name": " Run ", "participants": ["A@x.org", "a@x.org"]}))
            .validate()
            .unwrap();
        assert_eq!(v.name, "Run");
        assert_eq!(v.participants, vec!["a@x.org"]);
        assert_eq!(v.model, ModelConfig::lab_recipe());
        assert!(v.model.batch_norm && v.model.channels == 5);
        let plain = req(serde_json::json!({"name": "r", "classes": 3}))
            .validate()
            .unwrap();
        assert_eq!(
            plain.model,
            ModelConfig::model5(3),
            "classes alone: brainchop's model5"
        );
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
    fn secure_aggregation_refuses_the_robust_methods() {
        for method in ["median", "trimmed_mean"] {
            let e = req(serde_json::json!({"name": "r", "aggregation": method,
                "secure_aggregation": true}))
            .validate()
            .unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::UnprocessableEntity);
            assert!(e.message.contains(method), "{}", e.message);
        }
        let v = req(serde_json::json!({"name": "r", "secure_aggregation": true}))
            .validate()
            .unwrap();
        assert!(v.secure_aggregation);
    }

    #[test]
    fn dp_needs_the_unweighted_mean() {
        let dp = serde_json::json!({"noise_multiplier": 1.0, "clip_norm": 0.1, "delta": 1e-5});
        let e = req(serde_json::json!({"name": "r", "plan": {"dp": dp}}))
            .validate()
            .unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::UnprocessableEntity);
        assert_eq!(e.details.unwrap()["field"], "aggregation");
        let v = req(serde_json::json!({"name": "r", "aggregation": "mean", "plan": {"dp": dp}}))
            .validate()
            .unwrap();
        assert_eq!(v.plan.dp.unwrap().noise_multiplier, 1.0);
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
}
