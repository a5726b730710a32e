//! (a) Distillation: a fresh model5-shaped MeshNet learns brainchop's labels of one
//! hemisphere and is scored on the other.

use std::time::Instant;

use meshfed_meshnet::burn::tensor::Device;

use super::{cosine_learning_rate, fresh_trainer, mean_fg, show, Scores, Split};
use crate::options::{positive, Common};
use clap::Args;
use meshfed_cli::error::CliResult;

/// (a) A distillation's recipe, read straight from `meshfed-lab distill`'s flags.
#[derive(Debug, Clone, Args)]
pub struct DistillPlan {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value_t = 2000, value_parser = positive)]
    pub steps: usize,
    /// Score the model every this many steps (and after the last).
    #[arg(long, default_value_t = 250, value_parser = positive)]
    pub eval_every: usize,
}

/// What a distillation run ends with.
pub struct Outcome {
    /// Every evaluation's mean WM/GM Dice.
    pub scores: Scores,
    /// The model as the last evaluation scored it (with the precise statistics when the plan
    /// measures them).
    pub model: Vec<f32>,
}

/// Trains and prints Dice every `eval_every` steps.
pub fn run(split: &Split, plan: &DistillPlan, device: &Device) -> CliResult<Outcome> {
    let mut trainer = fresh_trainer(
        &plan.common.model(),
        plan.common.init,
        plan.common.train(),
        (&split.train_volume, &split.train_labels),
        device,
    )?;
    let start = Instant::now();
    let mut losses = vec![];
    let mut scores = Scores::default();
    let mut last = None;
    for step in 1..=plan.steps {
        if plan.common.cosine {
            let progress = (step - 1) as f64 / plan.steps as f64;
            trainer.set_learning_rate(cosine_learning_rate(plan.common.lr, progress));
        }
        losses.push(trainer.step(&split.train_volume, &split.train_labels)?);
        if step % plan.eval_every == 0 || step == plan.steps {
            let inference = trainer.inference_model();
            let running = split.evaluate(&inference, device)?;
            let loss = losses.iter().sum::<f32>() / losses.len() as f32;
            losses.clear();
            let (d, note, model) = if plan.common.precise_bn > 0 {
                let model = trainer.precise_inference_model(
                    &split.train_volume,
                    &split.train_labels,
                    plan.common.precise_bn,
                )?;
                let d = split.evaluate(&model, device)?;
                let note = format!(" (running statistics: {:.4})", mean_fg(&running));
                (d, note, model)
            } else {
                (running, String::new(), inference)
            };
            last = Some(model);
            scores.push(mean_fg(&d));
            println!(
                "distill step {step:>5} loss {loss:.4} test-hemisphere Dice bg/WM/GM {} mean WM/GM {:.4}{note} ({:.0}s)",
                show(&d),
                scores.last(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    // The last step is always scored, and `plan.steps` is at least 1.
    let model = last.map(|m| m.values()).transpose()?.unwrap_or_default();
    Ok(Outcome { scores, model })
}
