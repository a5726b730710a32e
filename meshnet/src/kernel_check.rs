//! A check of the GPU kernels on the device they will train on: one small MeshNet-shaped
//! convolution, forward and backward, through the direct kernels and through burn's own
//! Conv3d, compared value by value. The browser's training worker runs it when WebGPU starts
//! and falls back to burn's convolution where a driver computes something else.

use burn::module::Param;
use burn::nn::conv::Conv3dConfig;
use burn::nn::PaddingConfig3d;
use burn::tensor::{Device, Tensor};

use super::mesh_conv::forward;
use super::{seeded_tensor, NetError};

/// The largest relative difference the check accepts (f32 sums in another order).
pub const TOLERANCE: f32 = 1e-4;

/// The largest difference `|a − b| / (1 + |b|)` between the kernels' output and gradients
/// (input, weight, bias) and burn's, over dilations 1 and 2, on `device` (not autodiff).
pub async fn gpu_kernel_difference(device: &Device) -> Result<f32, NetError> {
    let ad = device.clone().autodiff();
    let mut worst = 0f32;
    for (dilation, seed) in [(1usize, 11u64), (2, 12)] {
        let mut conv = Conv3dConfig::new([3, 4], [3, 3, 3])
            .with_dilation([dilation; 3])
            .with_padding(PaddingConfig3d::Explicit(dilation, dilation, dilation))
            .init(&ad);
        conv.weight = Param::from_tensor(seeded_tensor([4, 3, 3, 3, 3], seed, &ad));
        conv.bias = Some(Param::from_tensor(seeded_tensor([4], seed + 1, &ad)));
        let x = seeded_tensor([1, 3, 5, 6, 7], seed + 2, &ad).require_grad();
        let r = seeded_tensor([1, 4, 5, 6, 7], seed + 3, &ad);
        let mut results = Vec::new();
        for kernels in [true, false] {
            let y = if kernels {
                forward(&conv, x.clone())
            } else {
                conv.forward(x.clone())
            };
            let grads = (y.clone() * r.clone()).sum().backward();
            let missing = || NetError::Device("a gradient of the kernel check is missing".into());
            let parts = [
                y.inner().reshape([-1]),
                x.grad(&grads).ok_or_else(missing)?.reshape([-1]),
                conv.weight
                    .val()
                    .grad(&grads)
                    .ok_or_else(missing)?
                    .reshape([-1]),
                conv.bias
                    .as_ref()
                    .and_then(|b| b.val().grad(&grads))
                    .ok_or_else(missing)?,
            ];
            let mut values = Vec::new();
            for part in parts {
                values.extend(read(part).await?);
            }
            results.push(values);
        }
        for (a, b) in results[0].iter().zip(&results[1]) {
            let d = (a - b).abs() / (1.0 + b.abs());
            // NaN counts as the worst.
            worst = if d.is_nan() {
                f32::INFINITY
            } else {
                worst.max(d)
            };
        }
    }
    Ok(worst)
}

async fn read(t: Tensor<1>) -> Result<Vec<f32>, NetError> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| NetError::Device(format!("{e:?}")))?;
    Ok(data.try_to_vec::<f32>()?)
}
