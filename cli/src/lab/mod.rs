//! Learning experiments on brainchop's sample T1 and brainchop's own labels of it: the
//! volume is split into two hemispheres along x; training sees only the labels of the first
//! (x < split), Dice is measured on the second. Figures for the team's notes, not tests.

pub mod conv_bench;
pub mod distill;
pub mod federated;

use std::path::Path;

use meshfed_shared::burn::tensor::Device;
use meshfed_shared::meshnet::net::{predict, MeshNet, MeshNetConfig, TrainConfig, Trainer};
use meshfed_shared::meshnet::{he_weights, initial_weights, ModelConfig};
use meshfed_shared::volume::{dice_per_class, CropBox, Labels, Volume};

use crate::error::CliResult;
use crate::volume_io;

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

pub fn show(d: &[Option<f64>]) -> String {
    d.iter()
        .map(|x| x.map_or("-".into(), |x| format!("{x:.4}")))
        .collect::<Vec<_>>()
        .join("/")
}
