//! A whole MeshNet training step and a whole-volume inference, timed on a phantom
//! (`meshfed-lab bench`).

use std::time::Instant;

use meshfed_shared::burn::tensor::Device;
use meshfed_shared::meshnet::net::{predict, MeshNetConfig, TrainConfig, Trainer};
use meshfed_shared::meshnet::{initial_weights, ModelConfig};
use meshfed_shared::volume::phantom;

use crate::error::CliResult;

/// Mean seconds per call.
#[derive(Debug, Clone, Copy)]
pub struct StepTimes {
    /// One training step on `batch` patches of `patch`³.
    pub step: f64,
    /// One inference over the whole `patch`³ phantom.
    pub inference: f64,
}

/// Times `steps` training steps and `steps` inferences of a fresh `config` network on a
/// normalised `patch`³ phantom, after three warm-up steps and one warm-up inference (and a
/// GPU's kernel autotuning).
pub fn measure(
    config: &ModelConfig,
    patch: usize,
    batch: usize,
    steps: usize,
    device: &Device,
) -> CliResult<StepTimes> {
    let (mut volume, labels) = phantom([patch; 3], 1);
    volume.min_max_normalise();
    let ad = device.clone().autodiff();
    let net = MeshNetConfig::from(config.clone()).load(&initial_weights(config, 1), &ad)?;
    let train = TrainConfig {
        patch,
        batch,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(net, 3, train, &ad);
    for _ in 0..3 {
        trainer.step(&volume, &labels)?;
    }
    let start = Instant::now();
    for _ in 0..steps {
        trainer.step(&volume, &labels)?;
    }
    let step = start.elapsed().as_secs_f64() / steps as f64;
    let model = trainer.inference_model();
    predict(&model, &volume, device)?;
    let start = Instant::now();
    for _ in 0..steps {
        predict(&model, &volume, device)?;
    }
    let inference = start.elapsed().as_secs_f64() / steps as f64;
    Ok(StepTimes { step, inference })
}
