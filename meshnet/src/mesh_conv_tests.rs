use burn::nn::conv::Conv3dConfig;
use burn::nn::PaddingConfig3d;
use burn::tensor::{Device, Tensor};

use super::forward;
use crate::seeded_tensor;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

/// On flex with autodiff, the extension's output and its gradients for input, weight and
/// bias equal burn's own Conv3d (im2col) on the same data, for several dilations.
#[test]
fn the_kernels_match_burns_convolution_and_its_gradients() {
    matches_burn(&Device::flex().autodiff(), [2, 3, 4], [6, 7, 9]);
}

/// The same on burn's wgpu backend (the GPU kernels; lavapipe on a machine without a GPU),
/// and the GPU kernels' values equal the CPU kernels'.
#[cfg(feature = "wgpu")]
#[test]
fn the_gpu_kernels_match_burns_convolution_and_the_cpu_kernels() {
    let gpu = Device::wgpu(Default::default()).autodiff();
    // The second shape splits each depth slice's 23 rows into chunks of 6, 6, 6 and 5 for
    // the weight gradient's partial sums.
    for (sizes, dims) in [([2, 3, 4], [6, 7, 9]), ([1, 2, 2], [4, 23, 10])] {
        let on_gpu = matches_burn(&gpu, sizes, dims);
        let on_cpu = matches_burn(&Device::flex().autodiff(), sizes, dims);
        for (case, (g, c)) in on_gpu.iter().zip(&on_cpu).enumerate() {
            for (what, (a, b)) in ["output", "input grad", "weight grad", "bias grad"]
                .iter()
                .zip(g.iter().zip(c))
            {
                close(&format!("{dims:?} case {case} {what}, GPU vs CPU"), a, b);
            }
        }
    }
}

/// The check the browser runs when WebGPU starts passes on wgpu.
#[cfg(feature = "wgpu")]
#[test]
fn the_start_up_check_passes_on_wgpu() {
    use crate::kernel_check::{gpu_kernel_difference, TOLERANCE};
    use burn_cubecl::cubecl::future::block_on;
    let gpu = Device::wgpu(Default::default());
    let worst = block_on(gpu_kernel_difference(&gpu)).unwrap();
    assert!(worst < TOLERANCE, "difference {worst}");
}

/// Checks the extension against burn's Conv3d on `device` for dilations 1, 2 and 4 and
/// returns the extension's output and gradients for each. `[batch, cin, cout]`, `[D, H, W]`.
fn matches_burn(device: &Device, sizes: [usize; 3], dims: [usize; 3]) -> Vec<[Vec<f32>; 4]> {
    let device = device.clone();
    let [batch, cin, cout] = sizes;
    let [depth, height, width] = dims;
    let mut results = Vec::new();
    for (dilation, seed) in [(1, 1), (2, 2), (4, 3)] {
        let mut conv = Conv3dConfig::new([cin, cout], [3, 3, 3])
            .with_dilation([dilation; 3])
            .with_padding(PaddingConfig3d::Explicit(dilation, dilation, dilation))
            .init(&device);
        let weight = seeded_tensor([cout, cin, 3, 3, 3], seed, &device);
        conv.weight = burn::module::Param::from_tensor(weight);
        let bias = seeded_tensor([cout], seed + 30, &device);
        conv.bias = Some(burn::module::Param::from_tensor(bias));
        let x =
            seeded_tensor([batch, cin, depth, height, width], seed + 10, &device).require_grad();
        let r = seeded_tensor([batch, cout, depth, height, width], seed + 20, &device);
        let run = |mine: bool| {
            let y = if mine {
                forward(&conv, x.clone())
            } else {
                conv.forward(x.clone())
            };
            let grads = (y.clone() * r.clone()).sum().backward();
            let weight = conv.weight.val().grad(&grads).unwrap();
            let bias = conv.bias.as_ref().unwrap().val().grad(&grads).unwrap();
            let input = x.grad(&grads).unwrap();
            [
                values(y.inner()),
                values(input),
                values(weight),
                values(bias),
            ]
        };
        let (mine, burns) = (run(true), run(false));
        for (what, (a, b)) in ["output", "input grad", "weight grad", "bias grad"]
            .iter()
            .zip(mine.iter().zip(&burns))
        {
            close(&format!("dilation {dilation} {what}"), a, b);
        }
        results.push(mine);
    }
    results
}

/// A convolution MeshNet's kernels do not cover (here a 1×1 head) goes through burn's own.
#[test]
fn other_convolutions_fall_back_to_burn() {
    let device = Device::flex();
    let conv = Conv3dConfig::new([3, 2], [1, 1, 1]).init(&device);
    let x = seeded_tensor([1, 3, 4, 4, 4], 5, &device);
    close(
        "1x1",
        &values(forward(&conv, x.clone())),
        &values(conv.forward(x)),
    );
}
