//! A participant following a run's [`TrainingPlan`] round after round (the CLI's `join` and
//! the browser's training worker both drive one): each round it scores the received global
//! model on its held-out part, then trains it as the plan says, keeping its optimizer's state
//! from the last round (a fresh one when the plan switches optimizer).

use burn::tensor::{Device, Tensor, TensorData};

use super::{MeshNet, MeshNetConfig, NetError, Optimizer, TrainConfig, Trainer};
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::plan::{LocalOptimizer, TrainingPlan, Validation, ValidationScore};

impl TrainConfig {
    /// The plan's local recipe; patch sampling seeded by `seed`.
    pub fn following(plan: &TrainingPlan, round: u32, seed: u64) -> Self {
        Self {
            patch: plan.patch as usize,
            batch: plan.batch as usize,
            learning_rate: plan.learning_rate_of(round),
            seed,
            tissue_fraction: plan.tissue_fraction as f32,
            mirror_x: plan.flip,
            optimizer: match plan.optimizer {
                LocalOptimizer::Adam => Optimizer::Adam,
                LocalOptimizer::Sgd { momentum } => Optimizer::Sgd { momentum },
            },
            ..Self::default()
        }
    }
}

/// What a participant keeps between rounds.
#[derive(Default)]
pub struct Participant {
    trainer: Option<Trainer>,
}

impl Participant {
    /// The trainer for `round`, holding the global model `values` with BatchNorm's training
    /// behaviour as the plan says, on the autodiff device `ad`.
    pub fn start_round(
        &mut self,
        plan: &TrainingPlan,
        round: u32,
        model: &ModelConfig,
        values: &[f32],
        seed: u64,
        ad: &Device,
    ) -> Result<&mut Trainer, NetError> {
        let net = MeshNetConfig::from(model.clone())
            .load(values, ad)?
            .with_batch_norm_training(!plan.fixes_batch_norm(round));
        let config = TrainConfig::following(plan, round, seed ^ u64::from(round));
        let trainer = match self.trainer.take() {
            Some(mut t) if t.config().optimizer == config.optimizer => {
                t.replace_model(net);
                t.set_config(config);
                t
            }
            _ => Trainer::new(net, model.classes, config, ad),
        };
        Ok(self.trainer.insert(trainer))
    }
}

/// Scores `model` (inference, no autodiff) on a participant's held-out part.
pub fn validate(
    model: &MeshNet,
    validation: &Validation,
    device: &Device,
) -> Result<ValidationScore, NetError> {
    let logits = model.forward(input(validation, device));
    let classes = logits.dims()[1];
    let logits = logits.into_data();
    Ok(validation.score(&logits.try_to_vec::<f32>()?, classes))
}

/// [`validate`] with a non-blocking readback (WebGPU in a browser).
pub async fn validate_async(
    model: &MeshNet,
    validation: &Validation,
    device: &Device,
) -> Result<ValidationScore, NetError> {
    let logits = model.forward(input(validation, device));
    let classes = logits.dims()[1];
    let logits = logits
        .into_data_async()
        .await
        .map_err(|e| NetError::Device(format!("{e:?}")))?;
    Ok(validation.score(&logits.try_to_vec::<f32>()?, classes))
}

fn input(validation: &Validation, device: &Device) -> Tensor<5> {
    let [x, y, z] = validation.volume.dims;
    Tensor::from_data(
        TensorData::new(validation.volume.data.clone(), [1, 1, x, y, z]),
        device,
    )
}

/// The voxels of context a validation input needs before its held-out part: MeshNet's
/// receptive radius (one voxel per unit of dilation of each 3×3×3 block).
pub fn context_of(model: &ModelConfig) -> usize {
    model.dilations.iter().map(|&d| d as usize).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshfed_shared::meshnet::initial_weights;
    use meshfed_shared::plan::{Axis, Holdout};
    use meshfed_shared::volume::phantom;

    fn tiny() -> ModelConfig {
        ModelConfig {
            channels: 2,
            dilations: vec![1, 2],
            batch_norm: true,
            ..ModelConfig::model5(3)
        }
    }

    fn plan(fix_from: Option<u32>) -> TrainingPlan {
        TrainingPlan {
            patch: 8,
            batch: 2,
            fix_batch_norm_from: fix_from,
            ..TrainingPlan::default()
        }
    }

    /// One round of two local steps from `values`; the trained values.
    fn round(p: &TrainingPlan, r: u32, who: &mut Participant, values: &[f32]) -> Vec<f32> {
        let ad = Device::flex().autodiff();
        let (mut volume, labels) = phantom([16, 16, 16], 3);
        volume.min_max_normalise();
        let t = who.start_round(p, r, &tiny(), values, 7, &ad).unwrap();
        for _ in 0..2 {
            t.step(&volume, &labels).unwrap();
        }
        t.inference_model().values().unwrap()
    }

    /// FixBN: every running statistic stays the global model's, bit for bit, while the
    /// convolutions move; without it the statistics move too.
    #[test]
    fn fixbn_keeps_the_global_statistics_exactly() {
        let config = tiny();
        let global = initial_weights(&config, 1);
        let trainable = config.trainable_mask();
        let fixed = round(&plan(Some(1)), 1, &mut Participant::default(), &global);
        let stats = |v: &[f32]| -> Vec<u32> {
            v.iter()
                .zip(&trainable)
                .filter(|(_, &t)| !t)
                .map(|(x, _)| x.to_bits())
                .collect()
        };
        assert!(!stats(&global).is_empty());
        assert_eq!(stats(&fixed), stats(&global));
        let moved = fixed
            .iter()
            .zip(&global)
            .zip(&trainable)
            .filter(|((a, b), &t)| t && a != b)
            .count();
        assert!(moved > 0, "the convolutions trained");
        let free = round(&plan(None), 1, &mut Participant::default(), &global);
        assert_ne!(stats(&free), stats(&global));
    }

    /// The optimizer's state carries into the next round: Adam's second step from the same
    /// start differs from a fresh Adam's first.
    #[test]
    fn the_optimizer_state_is_kept_between_rounds() {
        let global = initial_weights(&tiny(), 1);
        let p = plan(Some(1));
        let mut kept = Participant::default();
        round(&p, 1, &mut kept, &global);
        let again = round(&p, 2, &mut kept, &global);
        let fresh = round(&p, 2, &mut Participant::default(), &global);
        assert_ne!(again, fresh);
    }

    #[test]
    fn the_config_follows_the_plan_and_its_schedule() {
        let p = TrainingPlan {
            optimizer: LocalOptimizer::Sgd { momentum: 0.9 },
            ..TrainingPlan::default()
        };
        let c = TrainConfig::following(&p, 201, 3);
        assert_eq!((c.patch, c.batch, c.mirror_x), (48, 2, true));
        assert_eq!(c.optimizer, Optimizer::Sgd { momentum: 0.9 });
        assert!((c.learning_rate - p.learning_rate_of(201)).abs() < 1e-15);
        assert!(c.learning_rate < p.learning_rate);
    }

    #[test]
    fn validation_scores_the_held_out_part() {
        let config = tiny();
        let (mut volume, labels) = phantom([16, 16, 16], 3);
        volume.min_max_normalise();
        let split = Holdout {
            axis: Axis::Y,
            fraction: 0.25,
        }
        .split(&volume, &labels, context_of(&config));
        let val = split.validation.unwrap();
        let net = MeshNetConfig::from(config.clone())
            .load(&initial_weights(&config, 1), &Device::flex())
            .unwrap();
        let s = validate(&net, &val, &Device::flex()).unwrap();
        assert_eq!(s.dice.len(), 3);
        assert!(s.loss.is_finite() && s.loss > 0.0);
        assert_eq!(context_of(&config), 3);
    }
}
