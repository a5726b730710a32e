//! Data-dependent initialisation (LSUV-style). A fresh model5-shaped MeshNet is a chain of
//! nine 5-channel ReLU blocks: with PyTorch's default initialisation its signal shrinks about
//! sixfold per block, so the output starts as a constant and learning crawls; with He
//! initialisation whole blocks die (all five units negative everywhere) and the network
//! predicts background for ever. Calibrating on a sample of real input fixes both: each
//! block's convolution is rescaled so its pre-activations have zero mean and unit variance
//! per channel, so every unit starts active on about half of the voxels.

use burn::module::Param;
use burn::nn::conv::Conv3d;
use burn::tensor::activation::{elu, relu};
use burn::tensor::Tensor;

use super::MeshNet;
use crate::meshnet::Activation;

impl MeshNet {
    /// The network with every block rescaled on `sample` `[batch, in_channels, D, H, W]`
    /// (a few training patches). Networks with BatchNorm are returned unchanged: BatchNorm
    /// already standardises their pre-activations.
    pub fn calibrate(mut self, sample: Tensor<5>) -> MeshNet {
        if self.blocks.iter().any(|b| b.norm.is_some()) {
            return self;
        }
        let mut x = sample;
        for block in &mut self.blocks {
            standardise(&mut block.conv, x.clone());
            let y = block.conv.forward(x);
            x = match self.activation {
                Activation::Relu => relu(y),
                Activation::Elu => elu(y, 1.0),
            };
        }
        self
    }
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
