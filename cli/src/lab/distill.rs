//! (a) Distillation: a fresh model5-shaped MeshNet learns brainchop's labels of one
//! hemisphere and is scored on the other.

use std::time::Instant;

use meshfed_shared::burn::tensor::Device;
use meshfed_shared::meshnet::net::{MeshNetConfig, TrainConfig, Trainer};
use meshfed_shared::meshnet::{he_weights, initial_weights, ModelConfig};

use super::{mean_fg, show, Split};
use crate::error::CliResult;

pub struct DistillPlan {
    pub model: ModelConfig,
    pub steps: usize,
    pub eval_every: usize,
    pub train: TrainConfig,
    pub he_init: bool,
}

/// Trains and prints Dice every `eval_every` steps; returns the final mean WM/GM Dice.
pub fn run(split: &Split, plan: &DistillPlan, device: &Device) -> CliResult<f64> {
    let config = plan.model.clone();
    let ad = device.clone().autodiff();
    let net = MeshNetConfig::from(config.clone()).load(
        &if plan.he_init {
            he_weights(&config, plan.train.seed)
        } else {
            initial_weights(&config, plan.train.seed)
        },
        &ad,
    )?;
    let mut trainer = Trainer::new(net, config.classes, plan.train.clone(), &ad);
    let start = Instant::now();
    let mut losses = vec![];
    let mut last = 0.0;
    for step in 1..=plan.steps {
        losses.push(trainer.step(&split.train_volume, &split.train_labels)?);
        if step % plan.eval_every == 0 || step == plan.steps {
            let d = split.evaluate(&trainer.inference_model(), device)?;
            last = mean_fg(&d);
            let loss = losses.iter().sum::<f32>() / losses.len() as f32;
            losses.clear();
            println!(
                "distill step {step:>5} loss {loss:.4} test-hemisphere Dice bg/WM/GM {} mean WM/GM {last:.4} ({:.0}s)",
                show(&d),
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(last)
}
