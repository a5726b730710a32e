//! A whole MeshNet training step and a whole-volume inference, timed on a phantom
//! (`bench-step`).

use std::time::Instant;

use meshfed_meshnet::burn::tensor::Device;
use meshfed_meshnet::{predict, MeshNetConfig, TrainConfig, Trainer};
use meshfed_shared::meshnet::{initial_weights, ModelConfig};
use meshfed_shared::volume::phantom;

use clap::Args;
use meshfed_cli::backend::{device, Backend};
use meshfed_cli::error::CliResult;

use meshfed_lab::options::positive;

/// `bench-step`: training-step and inference time of model5 and the 21-channel
/// MeshNet on a phantom.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[arg(long, default_value_t = 64)]
    pub patch: usize,
    #[arg(long, default_value_t = 5, value_parser = positive)]
    pub steps: usize,
    /// Patches per step.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

impl BenchArgs {
    /// Times both models and prints a line each (on wgpu, also against burn's conv3d).
    pub fn run(&self) -> CliResult<()> {
        let Self {
            patch,
            steps,
            batch,
            backend,
        } = self.clone();
        let dev = device(backend)?;
        for config in [ModelConfig::model5_gw_ae(), ModelConfig::classic21(3)] {
            let t = measure(&config, patch, batch, steps, &dev)?;
            println!(
                "bench {} ch {} layers: training step on {patch}³ batch {batch} {:.4}s ({backend:?}); inference {:.4}s",
                config.channels,
                config.dilations.len(),
                t.step,
                t.inference
            );
            #[cfg(feature = "wgpu")]
            if backend == Backend::Wgpu {
                use meshfed_meshnet::mesh_conv::use_gpu_kernels;
                use_gpu_kernels(false);
                let burn = measure(&config, patch, batch, steps, &dev);
                use_gpu_kernels(true);
                let burn = burn?;
                println!(
                    "    with burn's conv3d instead of the direct kernels: step {:.4}s \
                     (kernels {:.2}x faster), inference {:.4}s ({:.2}x)",
                    burn.step,
                    burn.step / t.step,
                    burn.inference,
                    burn.inference / t.inference
                );
            }
        }
        Ok(())
    }
}

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
