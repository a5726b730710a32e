//! One MeshNet convolution layer, forward and backward, through burn's own Conv3d (im2col and
//! a matrix product on flex) beside Meshfed's direct kernels (`mesh_conv`), alternating in one
//! run so that both see the same machine load.

use std::time::Instant;

use clap::Args;
use meshfed_cli::backend::{device, Backend};
use meshfed_cli::error::CliResult;
use meshfed_meshnet::burn::nn::conv::{Conv3d, Conv3dConfig};
use meshfed_meshnet::burn::nn::PaddingConfig3d;
use meshfed_meshnet::burn::tensor::{Device, Distribution, Tensor};
use meshfed_meshnet::mesh_conv;

use meshfed_lab::options::positive;

/// `bench-conv`: one MeshNet layer, forward and backward, burn's Conv3d beside
/// Meshfed's kernels, alternating, with ratios. On wgpu, the CPU kernels are timed too.
#[derive(Debug, Clone, Args)]
pub struct ConvArgs {
    #[arg(long, default_value_t = 64)]
    pub patch: usize,
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    #[arg(long, default_value_t = 3, value_parser = positive)]
    pub rounds: usize,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

impl ConvArgs {
    /// Compares four layer shapes and prints a line each.
    pub fn run(&self) -> CliResult<()> {
        let Self {
            patch,
            batch,
            rounds,
            backend,
        } = self.clone();
        let dev = device(backend)?;
        let cpu = device(Backend::Cpu)?;
        for (channels, dilation) in [(5, 1), (5, 8), (21, 1), (21, 8)] {
            let [burn, ours] = compare(channels, dilation, batch, patch, rounds, &dev);
            println!(
                "conv {channels}->{channels} ch dilation {dilation} on {patch}³ batch {batch} \
                 ({backend:?}): forward burn {:.1} ms, kernels {:.1} ms ({:.2}x); \
                 backward burn {:.1} ms, kernels {:.1} ms ({:.2}x)",
                burn.forward * 1e3,
                ours.forward * 1e3,
                burn.forward / ours.forward,
                burn.backward * 1e3,
                ours.backward * 1e3,
                burn.backward / ours.backward,
            );
            if backend != Backend::Cpu {
                let [_, on_cpu] = compare(channels, dilation, batch, patch, rounds, &cpu);
                println!(
                    "    CPU kernels: forward {:.1} ms, backward {:.1} ms; \
                     {backend:?} kernels against them: forward {:.2}x, backward {:.2}x",
                    on_cpu.forward * 1e3,
                    on_cpu.backward * 1e3,
                    on_cpu.forward / ours.forward,
                    on_cpu.backward / ours.backward,
                );
            }
        }
        Ok(())
    }
}

/// Best-of-`rounds` seconds for one way of running a layer.
#[derive(Debug, Clone, Copy)]
pub struct LayerTimes {
    pub forward: f64,
    pub backward: f64,
}

impl LayerTimes {
    fn best(self, other: LayerTimes) -> LayerTimes {
        LayerTimes {
            forward: self.forward.min(other.forward),
            backward: self.backward.min(other.backward),
        }
    }
}

/// `[burn's, the kernels']` best times for a `channels`→`channels` layer at `dilation` on
/// `batch` patches of `patch`³.
pub fn compare(
    channels: usize,
    dilation: usize,
    batch: usize,
    patch: usize,
    rounds: usize,
    device: &Device,
) -> [LayerTimes; 2] {
    let ad = device.clone().autodiff();
    let conv = Conv3dConfig::new([channels, channels], [3, 3, 3])
        .with_dilation([dilation; 3])
        .with_padding(PaddingConfig3d::Explicit(dilation, dilation, dilation))
        .init(&ad);
    let shape = [batch, channels, patch, patch, patch];
    let x = Tensor::<5>::random(shape, Distribution::Default, &ad).require_grad();
    let r = Tensor::<5>::random(shape, Distribution::Default, &ad);
    let slow = LayerTimes {
        forward: f64::MAX,
        backward: f64::MAX,
    };
    let mut best = [slow, slow];
    for _ in 0..rounds {
        for (i, kernels) in [false, true].into_iter().enumerate() {
            best[i] = best[i].best(time(&conv, &x, &r, kernels));
        }
    }
    best
}

fn time(conv: &Conv3d, x: &Tensor<5>, r: &Tensor<5>, kernels: bool) -> LayerTimes {
    let start = Instant::now();
    let y = if kernels {
        mesh_conv::forward(conv, x.clone())
    } else {
        conv.forward(x.clone())
    };
    let _: f32 = y.clone().inner().sum().into_scalar(); // flex is eager; this only waits for it
    let forward = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let grads = (y * r.clone()).sum().backward();
    let weight_grad = conv.weight.val().grad(&grads);
    let _: Option<f32> = weight_grad.map(|g| g.sum().into_scalar());
    LayerTimes {
        forward,
        backward: start.elapsed().as_secs_f64(),
    }
}
