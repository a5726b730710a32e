//! Data-dependent initialisation (LSUV-style). A fresh model5-shaped MeshNet is a chain of
//! nine 5-channel ReLU blocks: with PyTorch's default initialisation its signal shrinks about
//! sixfold per block, so the output starts as a constant and learning crawls; with He
//! initialisation whole blocks die (all five units negative everywhere) and the network
//! predicts background for ever. Calibrating on a sample of real input fixes both: each
//! block's convolution is rescaled so its pre-activations have zero mean and unit variance
//! per channel, so every unit starts active on about half of the voxels.
//!
//! Also here: BatchNorm statistics measured afresh for the weights a network has now
//! ([`MeshNet::recompute_batch_norm`]). After federated averaging, the averaged running
//! statistics belong to no model: each site measured them on its own weights. And BatchNorm
//! that trains on fixed statistics ([`MeshNet::with_batch_norm_training`]), so that every
//! site of a federated round normalises alike.

use burn::module::{Param, RunningState};
use burn::nn::conv::Conv3d;
use burn::tensor::Tensor;

use super::{MeshNet, NetError};

impl MeshNet {
    /// The network with every block rescaled on `sample` `[batch, in_channels, D, H, W]`
    /// (a few training patches). Networks with BatchNorm are returned unchanged: BatchNorm
    /// already standardises their pre-activations.
    pub fn calibrate(mut self, sample: Tensor<5>) -> MeshNet {
        if self.blocks.iter().any(|b| b.norm.is_some()) {
            return self;
        }
        let mut x = sample;
        for i in 0..self.blocks.len() {
            standardise(&mut self.blocks[i].conv, x.clone());
            x = self.activate(self.blocks[i].conv.forward(x));
        }
        self
    }

    /// The network with every BatchNorm's running statistics replaced by the statistics of
    /// its input over all `samples` (each `[batch, in_channels, D, H, W]`, for instance one
    /// per site), block by block: block k is measured with blocks before it already on their
    /// new statistics, as inference will see it. Voxels are pooled, so a larger sample
    /// weighs more. Networks without BatchNorm, or no samples, return unchanged.
    pub fn recompute_batch_norm(mut self, samples: &[Tensor<5>]) -> Result<MeshNet, NetError> {
        if samples.is_empty() {
            return Ok(self);
        }
        let mut xs = samples.to_vec();
        for i in 0..self.blocks.len() {
            let block = &mut self.blocks[i];
            let ys: Vec<Tensor<5>> = xs
                .into_iter()
                .map(|x| super::mesh_conv::forward(&block.conv, x))
                .collect();
            if let Some(norm) = block.norm.as_mut() {
                let (mean, var) = pooled_channel_stats(&ys)?;
                let device = ys[0].device();
                norm.running_mean =
                    RunningState::new(Tensor::from_floats(mean.as_slice(), &device));
                norm.running_var = RunningState::new(Tensor::from_floats(var.as_slice(), &device));
            }
            let block = &self.blocks[i];
            xs = ys
                .into_iter()
                .map(|y| match &block.norm {
                    Some(norm) => self.activate(norm.forward(y)),
                    None => self.activate(y),
                })
                .collect();
        }
        Ok(self)
    }
}

impl MeshNet {
    /// The network with BatchNorm's training behaviour on (`true`, how every network starts:
    /// each training step normalises with its batch's statistics and moves the running ones)
    /// or off (`false`: training normalises with the running statistics, which stay fixed,
    /// while gamma and beta still learn). Off is FixBN's second phase in federated training:
    /// sites whose batches come from different parts of the brain then all train the one
    /// function the global model computes at inference, instead of each its own
    /// normalisation. Networks without BatchNorm are returned unchanged.
    pub fn with_batch_norm_training(mut self, on: bool) -> MeshNet {
        for norm in self.blocks.iter_mut().filter_map(|b| b.norm.as_mut()) {
            norm.training = norm.training.clone().with_value(on);
        }
        self
    }
}

/// Per-channel mean and (biased) variance over every voxel of every tensor in `ys`, pooled
/// in `f64`.
fn pooled_channel_stats(ys: &[Tensor<5>]) -> Result<(Vec<f32>, Vec<f32>), NetError> {
    let c = ys[0].dims()[1];
    let (mut count, mut sum, mut squares) = (0f64, vec![0f64; c], vec![0f64; c]);
    for y in ys {
        let per_channel: Tensor<2> = y.clone().permute([1, 0, 2, 3, 4]).flatten(1, 4);
        let n = per_channel.dims()[1] as f64;
        let mean = per_channel
            .clone()
            .mean_dim(1)
            .into_data()
            .try_to_vec::<f32>()?;
        let square = per_channel
            .square()
            .mean_dim(1)
            .into_data()
            .try_to_vec::<f32>()?;
        for (k, (m, q)) in mean.iter().zip(square).enumerate() {
            sum[k] += n * *m as f64;
            squares[k] += n * q as f64;
        }
        count += n;
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
    let var = squares
        .iter()
        .zip(&mean)
        .map(|(q, m)| ((q / count - m * m).max(0.0)) as f32)
        .collect();
    Ok((mean.into_iter().map(|m| m as f32).collect(), var))
}

/// Rescales `conv` so that `conv(x)` has zero mean and unit variance in every channel.
fn standardise(conv: &mut Conv3d, x: Tensor<5>) {
    let y = conv.forward(x);
    let c = y.dims()[1];
    let per_channel: Tensor<2> = y.permute([1, 0, 2, 3, 4]).flatten(1, 4); // [c, voxels]
    let mean = per_channel.clone().mean_dim(1); // [c, 1]
    let std = (per_channel - mean.clone())
        .square()
        .mean_dim(1)
        .add_scalar(1e-6)
        .sqrt(); // [c, 1]
    let scale = std.clone().recip();
    let weight = conv.weight.val() * scale.clone().reshape([c, 1, 1, 1, 1]);
    conv.weight = Param::from_tensor(weight);
    let bias = conv
        .bias
        .as_ref()
        .map(|b| b.val())
        .unwrap_or_else(|| mean.zeros_like().reshape([c]));
    conv.bias = Some(Param::from_tensor(
        (bias - mean.reshape([c])) * scale.reshape([c]),
    ));
}
