//! A plan as `POST /api/runs` and `PATCH /api/runs/{id}` take it: every field optional, the
//! ones given laid over a base (the defaults at creation, the run's latest plan on PATCH),
//! and the result checked as a whole. Errors name the field as `plan.<field>`.

use serde::{Deserialize, Deserializer, Serialize};

use super::{
    Holdout, LocalOptimizer, Schedule, ServerStep, TrainingPlan, Uploads, MAX_BATCH,
    MAX_LOCAL_STEPS, MAX_ROUNDS, PATCH_RANGE,
};
use crate::privacy::DifferentialPrivacy;
use crate::{ApiError, ErrorCode};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_steps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<LocalOptimizer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tissue_fraction: Option<f64>,
    /// Absent: unchanged; `null`: off; a round number: FixBN from that round.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub fix_batch_norm_from: Option<Option<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<Holdout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploads: Option<Uploads>,
    /// Absent: unchanged; `null`: the median rule; a number: the cap.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_num_examples: Option<Option<u64>>,
    /// Absent: unchanged; `null`: no clipping; a number: the bound.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub clip_norm: Option<Option<f64>>,
    /// Absent: unchanged; `null`: none; an object: DP-FedAvg (only at the run's creation).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub dp: Option<Option<DifferentialPrivacy>>,
}

/// A field that is present deserialises to `Some` (even `null`, to `Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// 422: the plan is well-formed JSON but cannot be trained with.
fn bad(field: &str, reason: impl Into<String>) -> ApiError {
    let (field, reason) = (format!("plan.{field}"), reason.into());
    ApiError::new(
        ErrorCode::UnprocessableEntity,
        format!("Invalid {field}: {reason}"),
    )
    .with_details(serde_json::json!({ "field": field, "reason": reason }))
}

impl PlanRequest {
    /// `base` with the given fields replaced, checked.
    pub fn resolve(&self, base: &TrainingPlan) -> Result<TrainingPlan, ApiError> {
        let b = base.clone();
        let plan = TrainingPlan {
            rounds: self.rounds.unwrap_or(b.rounds),
            local_steps: self.local_steps.unwrap_or(b.local_steps),
            patch: self.patch.unwrap_or(b.patch),
            batch: self.batch.unwrap_or(b.batch),
            learning_rate: self.learning_rate.unwrap_or(b.learning_rate),
            schedule: self.schedule.unwrap_or(b.schedule),
            optimizer: self.optimizer.unwrap_or(b.optimizer),
            flip: self.flip.unwrap_or(b.flip),
            tissue_fraction: self.tissue_fraction.unwrap_or(b.tissue_fraction),
            fix_batch_norm_from: self.fix_batch_norm_from.unwrap_or(b.fix_batch_norm_from),
            server: self.server.unwrap_or(b.server),
            holdout: self.holdout.unwrap_or(b.holdout),
            uploads: self.uploads.unwrap_or(b.uploads),
            max_num_examples: self.max_num_examples.unwrap_or(b.max_num_examples),
            clip_norm: self.clip_norm.unwrap_or(b.clip_norm),
            dp: self.dp.unwrap_or(b.dp),
        };
        validate(&plan)?;
        Ok(plan)
    }

    /// The same for a running run (`PATCH`): its differential privacy cannot change, since ε
    /// counts every round since the first under one mechanism.
    pub fn resolve_update(&self, base: &TrainingPlan) -> Result<TrainingPlan, ApiError> {
        let plan = self.resolve(base)?;
        if plan.dp != base.dp {
            return Err(bad(
                "dp",
                "is fixed when the run is created: ε counts every round under one mechanism",
            ));
        }
        Ok(plan)
    }
}

/// Every rule of a plan; the first one broken names its field.
pub fn validate(p: &TrainingPlan) -> Result<(), ApiError> {
    if !(1..=MAX_ROUNDS).contains(&p.rounds) {
        return Err(bad("rounds", format!("must be 1 to {MAX_ROUNDS}")));
    }
    if !(1..=MAX_LOCAL_STEPS).contains(&p.local_steps) {
        return Err(bad(
            "local_steps",
            format!("must be 1 to {MAX_LOCAL_STEPS}"),
        ));
    }
    if !PATCH_RANGE.contains(&p.patch) {
        return Err(bad(
            "patch",
            format!(
                "must be {} to {} voxels",
                PATCH_RANGE.start(),
                PATCH_RANGE.end()
            ),
        ));
    }
    if !(1..=MAX_BATCH).contains(&p.batch) {
        return Err(bad("batch", format!("must be 1 to {MAX_BATCH}")));
    }
    if !(p.learning_rate.is_finite() && p.learning_rate > 0.0 && p.learning_rate <= 1.0) {
        return Err(bad("learning_rate", "must be above 0 and at most 1"));
    }
    if let Schedule::Cosine { floor } = p.schedule {
        if !(0.0..=1.0).contains(&floor) {
            return Err(bad("schedule.floor", "must be 0 to 1"));
        }
    }
    if let LocalOptimizer::Sgd { momentum } = p.optimizer {
        if !(0.0..1.0).contains(&momentum) {
            return Err(bad("optimizer.momentum", "must be at least 0 and below 1"));
        }
    }
    if !(0.0..=1.0).contains(&p.tissue_fraction) {
        return Err(bad("tissue_fraction", "must be 0 to 1"));
    }
    if p.clip_norm.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
        return Err(bad("clip_norm", "must be above 0 (or left out)"));
    }
    if let Some(dp) = &p.dp {
        dp.check().map_err(|(field, reason)| bad(field, reason))?;
        if p.clip_norm.is_some() {
            return Err(bad(
                "clip_norm",
                "must be left out with dp: participants clip to dp.clip_norm before the noise",
            ));
        }
    }
    if p.max_num_examples == Some(0) {
        return Err(bad("max_num_examples", "must be at least 1 (or left out)"));
    }
    if p.fix_batch_norm_from == Some(0) {
        return Err(bad(
            "fix_batch_norm_from",
            "must be a round number from 1, or null for never",
        ));
    }
    p.server
        .check()
        .map_err(|(field, reason)| bad(field, reason))?;
    if !(0.0..=0.9).contains(&p.holdout.fraction) {
        return Err(bad("holdout.fraction", "must be 0 to 0.9"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(json: serde_json::Value) -> Result<TrainingPlan, String> {
        let req: PlanRequest = serde_json::from_value(json).map_err(|e| e.to_string())?;
        req.resolve(&TrainingPlan::default()).map_err(|e| {
            assert_eq!(e.code, ErrorCode::UnprocessableEntity);
            e.details.unwrap()["field"].as_str().unwrap().to_string()
        })
    }

    #[test]
    fn given_fields_replace_the_base_and_absent_ones_keep_it() {
        let p = resolve(
            serde_json::json!({"local_steps": 3, "server": {"kind": "fedadam",
            "learning_rate": 0.03, "beta1": 0.9, "beta2": 0.99, "tau": 0.001}}),
        )
        .unwrap();
        assert_eq!(p.local_steps, 3);
        assert_eq!(p.server.name(), "fedadam");
        assert_eq!(p.patch, TrainingPlan::default().patch);
        assert_eq!(
            resolve(serde_json::json!({})).unwrap(),
            TrainingPlan::default()
        );
    }

    #[test]
    fn null_turns_fixbn_off_and_absent_keeps_it() {
        let off = resolve(serde_json::json!({"fix_batch_norm_from": null})).unwrap();
        assert_eq!(off.fix_batch_norm_from, None);
        let kept = resolve(serde_json::json!({"flip": false})).unwrap();
        assert_eq!(kept.fix_batch_norm_from, Some(200));
        let one = resolve(serde_json::json!({"fix_batch_norm_from": 1})).unwrap();
        assert_eq!(one.fix_batch_norm_from, Some(1));
    }

    #[test]
    fn every_rule_names_its_field() {
        let field = |j| resolve(j).unwrap_err();
        use serde_json::json;
        assert_eq!(field(json!({"rounds": 0})), "plan.rounds");
        assert_eq!(field(json!({"local_steps": 0})), "plan.local_steps");
        assert_eq!(field(json!({"patch": 7})), "plan.patch");
        assert_eq!(field(json!({"patch": 129})), "plan.patch");
        assert_eq!(field(json!({"batch": 33})), "plan.batch");
        assert_eq!(field(json!({"learning_rate": 0.0})), "plan.learning_rate");
        assert_eq!(field(json!({"learning_rate": 2.0})), "plan.learning_rate");
        assert_eq!(
            field(json!({"schedule": {"kind": "cosine", "floor": 1.5}})),
            "plan.schedule.floor"
        );
        assert_eq!(
            field(json!({"optimizer": {"kind": "sgd", "momentum": 1.0}})),
            "plan.optimizer.momentum"
        );
        assert_eq!(
            field(json!({"tissue_fraction": -0.1})),
            "plan.tissue_fraction"
        );
        assert_eq!(
            field(json!({"fix_batch_norm_from": 0})),
            "plan.fix_batch_norm_from"
        );
        assert_eq!(
            field(json!({"max_num_examples": 0})),
            "plan.max_num_examples"
        );
        assert_eq!(field(json!({"clip_norm": -1.0})), "plan.clip_norm");
        assert_eq!(
            field(json!({"server": {"kind": "fedavgm", "learning_rate": 0.0, "momentum": 0.9}})),
            "plan.server.learning_rate"
        );
        assert_eq!(
            field(
                json!({"server": {"kind": "fedyogi", "learning_rate": 0.1, "beta1": 0.9,
                "beta2": 1.0, "tau": 0.001}})
            ),
            "plan.server.beta2"
        );
        assert_eq!(
            field(
                json!({"server": {"kind": "fedadam", "learning_rate": 0.1, "beta1": 0.9,
                "beta2": 0.99, "tau": 0.0}})
            ),
            "plan.server.tau"
        );
        assert_eq!(
            field(json!({"holdout": {"axis": "y", "fraction": 0.95}})),
            "plan.holdout.fraction"
        );
    }

    #[test]
    fn dp_is_checked_and_fixed_once_the_run_exists() {
        use serde_json::json;
        let dp = json!({"noise_multiplier": 1.0, "clip_norm": 0.1, "delta": 1e-5});
        let p = resolve(json!({ "dp": dp })).unwrap();
        assert_eq!(p.dp.unwrap().clip_norm, 0.1);
        assert_eq!(
            resolve(json!({"dp": {"noise_multiplier": 1.0, "clip_norm": 0.0, "delta": 1e-5}}))
                .unwrap_err(),
            "plan.dp.clip_norm"
        );
        assert_eq!(
            resolve(json!({"dp": dp, "clip_norm": 1.0})).unwrap_err(),
            "plan.clip_norm"
        );
        let change = |j| {
            let req: PlanRequest = serde_json::from_value(j).unwrap();
            req.resolve_update(&p)
        };
        assert!(
            change(json!({"local_steps": 2})).is_ok(),
            "other fields change"
        );
        assert!(change(json!({ "dp": dp })).is_ok(), "the same dp again");
        for j in [
            json!({"dp": null}),
            json!({"dp": {"noise_multiplier": 0.5,
            "clip_norm": 0.1, "delta": 1e-5}}),
        ] {
            let e = change(j).unwrap_err();
            assert_eq!(e.details.unwrap()["field"], "plan.dp");
        }
        let plain = TrainingPlan::default();
        let req: PlanRequest = serde_json::from_value(json!({ "dp": dp })).unwrap();
        assert!(
            req.resolve_update(&plain).is_err(),
            "no DP added to a running run"
        );
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        assert!(resolve(serde_json::json!({"steps": 3})).is_err());
        assert!(resolve(serde_json::json!({"server": {"kind": "fedprox"}})).is_err());
        assert!(resolve(serde_json::json!({"optimizer": {"kind": "sgd"}})).is_err());
    }
}
