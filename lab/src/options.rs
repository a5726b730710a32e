//! The options every `meshfed-lab` learning experiment shares: data, the local recipe and
//! the model's variant, turned into a [`ModelConfig`] and a [`TrainConfig`].

use std::path::PathBuf;

use clap::Args;
use meshfed_meshnet::{Optimizer, TrainConfig};
use meshfed_shared::meshnet::{Activation, ModelConfig};

use super::Init;
use meshfed_cli::backend::Backend;

/// Data, recipe and model variant of `distill` and `federated`.
#[derive(Debug, Clone, Args)]
pub struct Common {
    #[arg(long)]
    pub volume: PathBuf,
    /// brainchop's labels of the volume (tests/brainchop/reference.mjs writes them).
    #[arg(long)]
    pub labels: PathBuf,
    #[arg(long, default_value_t = 48)]
    pub patch: usize,
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 1.0)]
    pub dice_weight: f32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// Train with BatchNorm after each convolution (folded away when exported to brainchop,
    /// so the result is still model5-shaped there).
    #[arg(long)]
    pub batch_norm: bool,
    /// Cosine decay of the learning rate to 5% of --lr over the run (distill).
    #[arg(long)]
    pub cosine: bool,
    /// ELU instead of model5's ReLU.
    #[arg(long)]
    pub elu: bool,
    /// How the fresh network starts.
    #[arg(long, value_enum, default_value_t = Init::Calibrated)]
    pub init: Init,
    /// Share of patches centred on a brain voxel.
    #[arg(long, default_value_t = 0.5)]
    pub tissue_fraction: f32,
    /// Mirror half of the patches left-right (along x): the test hemisphere is the mirror
    /// image of the training one.
    #[arg(long)]
    pub flip: bool,
    /// Score each evaluation with BatchNorm statistics measured afresh on this many training
    /// patches instead of the running averages (printed beside). In `federated` with
    /// `--recompute-bn`, both arms are scored on N patches (the federated ones pooled over the
    /// sites); without N, on sites × batch, as many as each round's statistics are measured on.
    #[arg(long, default_value_t = 0)]
    pub precise_bn: usize,
    /// The optimizer of every step (a site's local steps in `federated`).
    #[arg(long, value_enum, default_value_t = OptimizerArg::Adam)]
    pub optimizer: OptimizerArg,
    /// SGD's momentum (heavy ball, no dampening); 0 is plain SGD.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerArg {
    Adam,
    Sgd,
}

impl Common {
    pub fn model(&self) -> ModelConfig {
        ModelConfig {
            batch_norm: self.batch_norm,
            activation: if self.elu {
                Activation::Elu
            } else {
                Activation::Relu
            },
            ..ModelConfig::model5_gw_ae()
        }
    }

    pub fn train(&self) -> TrainConfig {
        TrainConfig {
            patch: self.patch,
            batch: self.batch,
            learning_rate: self.lr,
            dice_weight: self.dice_weight,
            seed: self.seed,
            tissue_fraction: self.tissue_fraction,
            mirror_x: self.flip,
            optimizer: match self.optimizer {
                OptimizerArg::Adam => Optimizer::Adam,
                OptimizerArg::Sgd => Optimizer::Sgd {
                    momentum: self.momentum,
                },
            },
        }
    }
}

/// A count that must be at least 1 (`--steps 0` would report a Dice of an untrained model).
pub fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, got {s:?}")),
    }
}
