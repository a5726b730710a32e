use burn::nn::conv::Conv3dConfig;
use burn::nn::PaddingConfig3d;
use burn::tensor::{Device, Tensor, TensorData};

use super::forward;
use crate::volume::Rng;

fn random<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    let mut rng = Rng::new(seed);
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

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
    let device = Device::flex().autodiff();
    for (dilation, seed) in [(1, 1), (2, 2), (4, 3)] {
        let mut conv = Conv3dConfig::new([3, 4], [3, 3, 3])
            .with_dilation([dilation; 3])
            .with_padding(PaddingConfig3d::Explicit(dilation, dilation, dilation))
            .init(&device);
        conv.weight = burn::module::Param::from_tensor(random([4, 3, 3, 3, 3], seed, &device));
        let x = random([2, 3, 6, 7, 9], seed + 10, &device).require_grad();
        let r = random([2, 4, 6, 7, 9], seed + 20, &device);
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
    }
}

/// A convolution MeshNet's kernels do not cover (here a 1×1 head) goes through burn's own.
#[test]
fn other_convolutions_fall_back_to_burn() {
    let device = Device::flex();
    let conv = Conv3dConfig::new([3, 2], [1, 1, 1]).init(&device);
    let x = random([1, 3, 4, 4, 4], 5, &device);
    close(
        "1x1",
        &values(forward(&conv, x.clone())),
        &values(conv.forward(x)),
    );
}
