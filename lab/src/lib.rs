//! Learning experiments on brainchop's sample T1 and brainchop's own labels of it: the
//! volume is split into two hemispheres along x; training sees only the labels of the first
//! (x < split), Dice is measured on the second. Figures for the team's notes, not tests.

pub mod distill;
pub mod federated;
pub mod options;

use std::path::Path;

use meshfed_meshnet::burn::tensor::Device;
use meshfed_meshnet::{predict, MeshNet, MeshNetConfig, TrainConfig, Trainer};
use meshfed_shared::meshnet::{he_weights, initial_weights, ModelConfig};
use meshfed_shared::volume::{dice_per_class, CropBox, Labels, Volume};

use meshfed_cli::error::CliResult;
use meshfed_cli::volume_io;

/// The data of an experiment, normalised and cropped to the brain.
pub struct Split {
    /// Training region: voxels with x below the split (inside the brain's box).
    pub train_volume: Volume,
    pub train_labels: Labels,
    /// Evaluation input: the test hemisphere plus enough context for the receptive field.
    pub eval_volume: Volume,
    /// Where the test hemisphere starts inside `eval_volume` along x.
    pub eval_from: usize,
    pub eval_labels: Labels,
}

impl Split {
    pub fn load(volume: &Path, labels: &Path, context: usize) -> CliResult<Self> {
        let scan = volume_io::read_volume(volume)?;
        let labels = volume_io::read_labels(labels)?;
        let mut v = scan.volume;
        v.min_max_normalise();
        let brain = CropBox::of_mask(&v, 0.0, 18).unwrap_or_else(|| CropBox::all(v.dims));
        let mid = (brain.lo[0] + brain.hi[0]) / 2;
        let train = CropBox {
            lo: brain.lo,
            hi: [mid, brain.hi[1], brain.hi[2]],
        };
        let eval_lo = mid.saturating_sub(context).max(brain.lo[0]);
        let eval = CropBox {
            lo: [eval_lo, brain.lo[1], brain.lo[2]],
            hi: brain.hi,
        };
        let test = CropBox {
            lo: [mid, brain.lo[1], brain.lo[2]],
            hi: brain.hi,
        };
        Ok(Self {
            train_volume: train.crop(&v),
            train_labels: train.crop(&labels),
            eval_volume: eval.crop(&v),
            eval_from: mid - eval_lo,
            eval_labels: test.crop(&labels),
        })
    }

    /// Dice per class on the test hemisphere.
    pub fn evaluate(&self, model: &MeshNet, device: &Device) -> CliResult<Vec<Option<f64>>> {
        let predicted = predict(model, &self.eval_volume, device)?;
        let d = predicted.dims;
        let test = CropBox {
            lo: [self.eval_from, 0, 0],
            hi: d,
        }
        .crop(&predicted);
        Ok(dice_per_class(&test.data, &self.eval_labels.data, 3))
    }
}

/// How a fresh network starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Init {
    /// PyTorch's default (uniform ±1/√fan_in): the signal fades through model5's nine blocks.
    Pytorch,
    /// He-normal: keeps the signal but can kill every unit of a 5-channel block.
    He,
    /// PyTorch's default, then rescaled on training patches (`MeshNet::calibrate`).
    Calibrated,
}

/// A trainer for a fresh `config` network; `Calibrated` calibrates it on `volume`.
pub fn fresh_trainer(
    config: &ModelConfig,
    init: Init,
    train: TrainConfig,
    data: (&Volume, &Labels),
    device: &Device,
) -> CliResult<Trainer> {
    let ad = device.clone().autodiff();
    let values = match init {
        Init::He => he_weights(config, train.seed),
        Init::Pytorch | Init::Calibrated => initial_weights(config, train.seed),
    };
    let net = MeshNetConfig::from(config.clone()).load(&values, &ad)?;
    let mut trainer = Trainer::new(net, config.classes, train, &ad);
    if init == Init::Calibrated {
        trainer.calibrate(data.0, data.1)?;
    }
    Ok(trainer)
}

/// The cosine schedule: `base` at `progress` 0, decaying to 5% of `base` at 1.
pub fn cosine_learning_rate(base: f64, progress: f64) -> f64 {
    base * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
}

/// Mean of the foreground classes' Dice (WM and GM for brainchop's tissue models).
pub fn mean_fg(d: &[Option<f64>]) -> f64 {
    let fg: Vec<f64> = d.iter().skip(1).flatten().copied().collect();
    fg.iter().sum::<f64>() / fg.len().max(1) as f64
}

/// The mean WM/GM Dice of each evaluation of a run, in order.
#[derive(Debug, Default)]
pub struct Scores(Vec<f64>);

/// How many evaluations a run's figure averages: neighbouring evaluations of one run move by
/// up to ±0.05–0.08, too much for a single one to be compared within 0.02.
pub const TAIL: usize = 4;

impl Scores {
    pub fn push(&mut self, dice: f64) {
        self.0.push(dice);
    }

    /// The last evaluation (0 before any).
    pub fn last(&self) -> f64 {
        self.0.last().copied().unwrap_or(0.0)
    }

    /// The mean of the last `n` evaluations (of all of them when there are fewer).
    pub fn tail_mean(&self, n: usize) -> f64 {
        let tail = &self.0[self.0.len().saturating_sub(n)..];
        tail.iter().sum::<f64>() / tail.len().max(1) as f64
    }

    /// "final 0.4916, mean of the last 4 evaluations 0.4890".
    pub fn summary(&self) -> String {
        let n = TAIL.min(self.0.len());
        format!(
            "final {:.4}, mean of the last {n} evaluations {:.4}",
            self.last(),
            self.tail_mean(TAIL)
        )
    }
}

pub fn show(d: &[Option<f64>]) -> String {
    d.iter()
        .map(|x| x.map_or("-".into(), |x| format!("{x:.4}")))
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_average_the_tail() {
        let mut scores = Scores::default();
        assert_eq!(scores.tail_mean(TAIL), 0.0);
        for d in [0.1, 0.5, 0.6, 0.7, 0.8] {
            scores.push(d);
        }
        assert_eq!(scores.last(), 0.8);
        assert!((scores.tail_mean(4) - 0.65).abs() < 1e-12);
        assert!((scores.tail_mean(9) - 0.54).abs() < 1e-12);
        assert_eq!(
            scores.summary(),
            "final 0.8000, mean of the last 4 evaluations 0.6500"
        );
    }
}
