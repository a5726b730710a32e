//! A run's training plan: how every participant trains each round (local steps, patches,
//! learning rate and its schedule, optimizer, augmentation, FixBN), how the server steps
//! after averaging, and how each participant holds out part of its labels for federated
//! validation. The run decides; participants follow it (`meshfed join`, the browser).
//!
//! The defaults are the lab's best non-IID recipe (`meshfed-lab federated`, docs/experiments.md): 5 local
//! steps of 48³ patches at batch 2, Adam kept by each site from round to round, lr 6e-3 with
//! a cosine decay to 5 % over 400 rounds, left-right flips, half the patches centred on tissue,
//! FixBN from round 200, plain FedAvg on the server. It ended level with centralised training
//! (mean gap −0.001 over three seeds).

mod fit;
mod holdout;
mod request;
mod server_step;
mod uploads;

use serde::{Deserialize, Serialize};

use crate::privacy::DifferentialPrivacy;

pub use holdout::{HeldOut, Validation, ValidationScore};
pub use request::PlanRequest;
pub use server_step::ServerStep;
pub use uploads::Uploads;

/// Every field is set: a plan as the run stores and serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingPlan {
    /// The rounds the plan is laid out for: the cosine schedule reaches its floor here.
    pub rounds: u32,
    pub local_steps: u32,
    /// Patch edge in voxels.
    pub patch: u32,
    /// Patches per local step.
    pub batch: u32,
    /// The learning rate of round 1 (and of every round when the schedule is constant).
    pub learning_rate: f64,
    pub schedule: Schedule,
    pub optimizer: LocalOptimizer,
    /// Mirror half the patches left-right (with their labels).
    pub flip: bool,
    /// Share of patches centred on a labelled voxel.
    pub tissue_fraction: f64,
    /// From this round on every participant normalises with the global model's BatchNorm
    /// statistics, fixed (FixBN); `None`: never.
    pub fix_batch_norm_from: Option<u32>,
    pub server: ServerStep,
    pub holdout: Holdout,
    /// Weights or gradients: what every round collects (see [`Uploads`]).
    #[serde(default = "Uploads::before_plans_said")]
    pub uploads: Uploads,
    /// The most examples one upload may weigh in FedAvg; `None`: 10× the round's median
    /// (see [`crate::aggregate::examples_cap`]).
    #[serde(default)]
    pub max_num_examples: Option<u64>,
    /// Each upload's update (against the round's global model; a gradient as it is) is
    /// clipped to this Euclidean norm before it counts; `None`: not clipped (see
    /// [`crate::aggregate::clip`]).
    #[serde(default)]
    pub clip_norm: Option<f64>,
    /// Differential privacy: participants clip and noise their updates, the server counts ε
    /// (see [`crate::privacy`]). Fixed at the run's creation; `None`: no DP.
    #[serde(default)]
    pub dp: Option<DifferentialPrivacy>,
}

/// The learning rate over rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    Constant,
    /// Half a cosine from the plan's rate at round 1 down to `floor` × that rate at round
    /// `rounds` + 1, sampled at each round's first step.
    Cosine {
        floor: f64,
    },
}

/// The optimizer each participant steps with; its state stays with the participant from
/// round to round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LocalOptimizer {
    Adam,
    Sgd { momentum: f64 },
}

/// Which part of its labelled volume a participant keeps out of training and scores the
/// received global model on every round: the last `fraction` of its (brain-cropped) volume
/// along `axis`. `fraction` 0 holds nothing out (no validation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Holdout {
    pub axis: Axis,
    pub fraction: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    X,
    Y,
    Z,
}

impl Axis {
    pub fn index(self) -> usize {
        match self {
            Axis::X => 0,
            Axis::Y => 1,
            Axis::Z => 2,
        }
    }
}

impl Default for TrainingPlan {
    fn default() -> Self {
        Self {
            rounds: 400,
            local_steps: 5,
            patch: 48,
            batch: 2,
            learning_rate: 6e-3,
            schedule: Schedule::Cosine { floor: 0.05 },
            optimizer: LocalOptimizer::Adam,
            flip: true,
            tissue_fraction: 0.5,
            fix_batch_norm_from: Some(200),
            server: ServerStep::Fedavg,
            // The lab's split: trained on one hemisphere (flips show it the other's anatomy),
            // scored on the other.
            holdout: Holdout {
                axis: Axis::X,
                fraction: 0.5,
            },
            uploads: Uploads::Weights,
            max_num_examples: None,
            clip_norm: None,
            dp: None,
        }
    }
}

/// Limits a plan is checked against.
pub const MAX_ROUNDS: u32 = 100_000;
pub const MAX_LOCAL_STEPS: u32 = 10_000;
pub const PATCH_RANGE: std::ops::RangeInclusive<u32> = 8..=128;
pub const MAX_BATCH: u32 = 32;

impl TrainingPlan {
    /// The learning rate of `round` (1-based).
    pub fn learning_rate_of(&self, round: u32) -> f64 {
        match self.schedule {
            Schedule::Constant => self.learning_rate,
            Schedule::Cosine { floor } => {
                let progress = (round.max(1) - 1) as f64 / self.rounds as f64;
                let cos = 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos());
                self.learning_rate * (floor + (1.0 - floor) * cos)
            }
        }
    }

    /// Whether participants train on the global model's fixed BatchNorm statistics in `round`.
    pub fn fixes_batch_norm(&self, round: u32) -> bool {
        self.fix_batch_norm_from.is_some_and(|r| round >= r)
    }

    /// "5 local steps of 48³, batch 2, Adam, lr 6e-3 cosine to 5 % over 400 rounds, flips,
    /// FixBN from round 200, server FedAvg, validation on the last 50 % along x".
    pub fn describe(&self) -> String {
        let schedule = match self.schedule {
            Schedule::Constant => "constant".to_string(),
            Schedule::Cosine { floor } => format!(
                "cosine to {} % over {} rounds",
                trim(floor * 100.0),
                self.rounds
            ),
        };
        let optimizer = match self.optimizer {
            LocalOptimizer::Adam => "Adam".to_string(),
            LocalOptimizer::Sgd { momentum } => format!("SGD (momentum {})", trim(momentum)),
        };
        let fixbn = match self.fix_batch_norm_from {
            Some(r) => format!("FixBN from round {r}"),
            None => "BatchNorm on each batch (no FixBN)".to_string(),
        };
        let holdout = if self.holdout.fraction > 0.0 {
            format!(
                "validation on the last {} % along {}",
                trim(self.holdout.fraction * 100.0),
                ["x", "y", "z"][self.holdout.axis.index()]
            )
        } else {
            "no validation".to_string()
        };
        format!(
            "{} local step{} of {}³, batch {}, {optimizer}, lr {} {schedule}{}, {fixbn}, server {}, {holdout}{}",
            self.local_steps,
            if self.local_steps == 1 { "" } else { "s" },
            self.patch,
            self.batch,
            short(self.learning_rate),
            if self.flip { ", flips" } else { "" },
            self.server.describe(),
            self.uploads.describe(),
        )
    }
}

/// `6e-3`, `0.01`: a learning rate as people write it.
fn short(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-2 {
        let e = x.log10().floor();
        format!("{}e{}", trim(x / 10f64.powf(e)), e as i32)
    } else {
        trim(x)
    }
}

/// `0.9`, `5`, `12.5`: no trailing zeros.
fn trim(x: f64) -> String {
    let s = format!("{:.4}", x);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_labs_recipe_and_read_as_one_sentence() {
        let p = TrainingPlan::default();
        assert_eq!(
            p.describe(),
            "5 local steps of 48³, batch 2, Adam, lr 6e-3 cosine to 5 % over 400 rounds, flips, \
             FixBN from round 200, server FedAvg, validation on the last 50 % along x"
        );
        let one = TrainingPlan {
            local_steps: 1,
            ..p.clone()
        };
        assert!(one.describe().starts_with("1 local step of 48³, batch 2"));
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json["schedule"],
            serde_json::json!({"kind": "cosine", "floor": 0.05})
        );
        assert_eq!(json["server"], serde_json::json!({"kind": "fedavg"}));
        assert_eq!(serde_json::from_value::<TrainingPlan>(json).unwrap(), p);
    }

    /// The cosine schedule by hand: round 1 the full rate, the middle round halfway between
    /// it and the floor, after the last round the floor.
    #[test]
    fn cosine_goes_from_the_rate_to_its_floor() {
        let p = TrainingPlan {
            rounds: 4,
            learning_rate: 1.0,
            schedule: Schedule::Cosine { floor: 0.2 },
            ..TrainingPlan::default()
        };
        assert_eq!(p.learning_rate_of(1), 1.0);
        assert!((p.learning_rate_of(3) - 0.6).abs() < 1e-12);
        assert!((p.learning_rate_of(5) - 0.2).abs() < 1e-12);
        assert!(
            (p.learning_rate_of(50) - 0.2).abs() < 1e-12,
            "held at the floor"
        );
        let constant = TrainingPlan {
            schedule: Schedule::Constant,
            ..p
        };
        assert_eq!(constant.learning_rate_of(3), 1.0);
    }

    #[test]
    fn fixbn_starts_at_its_round() {
        let p = TrainingPlan {
            fix_batch_norm_from: Some(3),
            ..TrainingPlan::default()
        };
        assert!(!p.fixes_batch_norm(2));
        assert!(p.fixes_batch_norm(3) && p.fixes_batch_norm(9));
        let off = TrainingPlan {
            fix_batch_norm_from: None,
            ..p
        };
        assert!(!off.fixes_batch_norm(1_000));
    }

    #[test]
    fn numbers_read_as_written() {
        assert_eq!(short(6e-3), "6e-3");
        assert_eq!(short(0.01), "0.01");
        assert_eq!(short(2.5e-4), "2.5e-4");
        assert_eq!(trim(5.0), "5");
        assert_eq!(trim(0.9), "0.9");
    }
}
