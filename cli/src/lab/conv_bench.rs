//! One MeshNet convolution layer, forward and backward, through burn's own Conv3d (im2col and
//! a matrix product on flex) beside Meshfed's direct kernels (`mesh_conv`), alternating in one
//! run so that both see the same machine load.

use std::time::Instant;

use meshfed_shared::burn::nn::conv::{Conv3d, Conv3dConfig};
use meshfed_shared::burn::nn::PaddingConfig3d;
use meshfed_shared::burn::tensor::{Device, Distribution, Tensor};
use meshfed_shared::meshnet::net::mesh_conv;

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
