//! MeshNet in burn against a plain-Rust reference convolution, brainchop's weights, and
//! training on the phantom.

use burn::tensor::Device;

use super::*;
use meshfed_shared::meshnet::{brainchop, initial_weights, Activation, ModelConfig};
use meshfed_shared::volume::{mean_dice, phantom, Rng, Volume};

const MODEL5_JSON: &[u8] = include_bytes!("../../shared/data/brainchop/model5_gw_ae/model.json");
const MODEL5_BIN: &[u8] =
    include_bytes!("../../shared/data/brainchop/model5_gw_ae/group1-shard1of1.bin");

fn cpu() -> Device {
    Device::flex()
}

/// Direct dilated 3×3×3 convolution with zero padding, x-slowest layout, `[c][x][y][z]`.
fn reference_forward(config: &ModelConfig, values: &[f32], volume: &Volume) -> Vec<f32> {
    let [nx, ny, nz] = volume.dims;
    let n = nx * ny * nz;
    let named = config.unflatten(values);
    let mut x = volume.data.clone();
    let mut cin = 1;
    for (i, &d) in config.dilations.iter().enumerate() {
        let w = &named[2 * i].1.data;
        let b = &named[2 * i + 1].1.data;
        let c = config.channels;
        let mut out = vec![0f32; c * n];
        for o in 0..c {
            for (p, slot) in out[o * n..(o + 1) * n].iter_mut().enumerate() {
                let (px, py, pz) = (p / (ny * nz), (p / nz) % ny, p % nz);
                let mut acc = b[o];
                for ci in 0..cin {
                    for k in 0..27 {
                        let off = [k / 9, (k / 3) % 3, k % 3];
                        let q: Vec<i64> = [px, py, pz]
                            .iter()
                            .zip(off)
                            .map(|(&at, off)| at as i64 + (off as i64 - 1) * d as i64)
                            .collect();
                        if q.iter()
                            .zip([nx, ny, nz])
                            .all(|(&v, m)| v >= 0 && v < m as i64)
                        {
                            let qi = (q[0] as usize * ny + q[1] as usize) * nz + q[2] as usize;
                            acc += w[(o * cin + ci) * 27 + k] * x[ci * n + qi];
                        }
                    }
                }
                *slot = match config.activation {
                    Activation::Relu => acc.max(0.0),
                    Activation::Elu if acc > 0.0 => acc,
                    Activation::Elu => acc.exp() - 1.0,
                };
            }
        }
        x = out;
        cin = c;
    }
    let (w, b) = (
        &named[named.len() - 2].1.data,
        &named[named.len() - 1].1.data,
    );
    let mut logits = vec![0f32; config.classes * n];
    for k in 0..config.classes {
        for p in 0..n {
            logits[k * n + p] = b[k] + (0..cin).map(|c| w[k * cin + c] * x[c * n + p]).sum::<f32>();
        }
    }
    logits
}

fn random_volume(dims: [usize; 3], seed: u64) -> Volume {
    let mut rng = Rng::new(seed);
    Volume::new(
        dims,
        (0..dims.iter().product()).map(|_| rng.unit()).collect(),
    )
    .unwrap()
}

#[test]
fn brainchop_model5_in_burn_matches_a_direct_convolution() {
    let (config, values) = brainchop::import(MODEL5_JSON, MODEL5_BIN).unwrap();
    let net = MeshNetConfig::from(config.clone())
        .load(&values, &cpu())
        .unwrap();
    assert_eq!(
        net.values().unwrap(),
        values,
        "parameters read back in the same order"
    );
    let v = random_volume([9, 10, 11], 3);
    let [x, y, z] = v.dims;
    let input = burn::tensor::Tensor::from_data(
        burn::tensor::TensorData::new(v.data.clone(), [1, 1, x, y, z]),
        &cpu(),
    );
    let out = net.forward(input);
    assert_eq!(out.dims(), [1, 3, 9, 10, 11]);
    let got = out.into_data().try_to_vec::<f32>().unwrap();
    let want = reference_forward(&config, &values, &v);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-4, "largest difference {worst}");
}

#[test]
fn elu_and_batch_norm_models_load_and_read_back() {
    let elu = ModelConfig {
        dilations: vec![1, 2],
        ..ModelConfig::model20chan3cls()
    };
    let values = initial_weights(&elu, 9);
    let net = MeshNetConfig::from(elu.clone())
        .load(&values, &cpu())
        .unwrap();
    let v = random_volume([6, 5, 7], 1);
    let input = burn::tensor::Tensor::from_data(
        burn::tensor::TensorData::new(v.data.clone(), [1, 1, 6, 5, 7]),
        &cpu(),
    );
    let got = net.forward(input).into_data().try_to_vec::<f32>().unwrap();
    let want = reference_forward(&elu, &values, &v);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-4, "ELU: largest difference {worst}");

    let bn = ModelConfig {
        batch_norm: true,
        ..ModelConfig::model5(3)
    };
    let values = initial_weights(&bn, 2);
    let net = MeshNetConfig::from(bn.clone())
        .load(&values, &cpu())
        .unwrap();
    assert_eq!(net.values().unwrap(), values);
    assert!(matches!(
        MeshNetConfig::from(bn).load(&values[1..], &cpu()),
        Err(meshfed_shared::meshnet::SpecError::Count { .. })
    ));
}

#[test]
fn training_on_the_phantom_lowers_the_loss_and_is_seeded() {
    let config = ModelConfig {
        channels: 5,
        dilations: vec![1, 2, 4, 2, 1],
        ..ModelConfig::model5(3)
    };
    let (mut volume, labels) = phantom([24, 24, 24], 1);
    volume.min_max_normalise();
    let train = |seed: u64, steps: usize| {
        let device = cpu().autodiff();
        let net = MeshNetConfig::from(config.clone())
            .load(&initial_weights(&config, 4), &device)
            .unwrap();
        let cfg = TrainConfig {
            patch: 16,
            batch: 2,
            learning_rate: 1e-2,
            dice_weight: 0.5,
            seed,
            tissue_fraction: 0.0,
            mirror_x: false,
            optimizer: Optimizer::Adam,
        };
        let mut trainer = Trainer::new(net, 3, cfg, &device);
        let losses: Vec<f32> = (0..steps)
            .map(|_| trainer.step(&volume, &labels).unwrap())
            .collect();
        (losses, trainer)
    };
    let (losses, trainer) = train(7, 60);
    let first: f32 = losses[..5].iter().sum::<f32>() / 5.0;
    let last: f32 = losses[losses.len() - 5..].iter().sum::<f32>() / 5.0;
    assert!(last < first * 0.6, "loss {first} -> {last}");
    let model = trainer.inference_model();
    let options = SegmentOptions {
        crop_padding: None,
        largest_component: false,
    };
    let predicted = segment(&model, &volume, &options, &cpu()).unwrap();
    let dice = mean_dice(&predicted.data, &labels.data, 3);
    assert!(dice > 0.6, "phantom WM/GM Dice after 60 steps: {dice}");
    assert_eq!(
        train(7, 3).0,
        losses[..3].to_vec(),
        "same seed, same losses"
    );

    let mut bad = labels.clone();
    bad.data[0] = 3;
    let (_, mut t) = train(7, 0);
    assert!(matches!(t.step(&volume, &bad), Err(NetError::Input(_))));
}

/// The autodiff gradient of every parameter of a small dilated MeshNet against central
/// finite differences of the forward pass (the gradients TF.js cannot compute).
#[test]
fn dilated_convolution_gradients_match_finite_differences() {
    use burn::tensor::{Tensor, TensorData};
    let config = ModelConfig {
        channels: 3,
        dilations: vec![1, 2, 3],
        classes: 2,
        activation: Activation::Elu,
        ..ModelConfig::model5(2)
    };
    let values = initial_weights(&config, 11);
    let v = random_volume([7, 8, 9], 5);
    let weights = random_volume([7, 8, 9], 6); // fixed linear functional of the logits
    let [x, y, z] = v.dims;
    let objective = |net: &MeshNet, device: &Device| {
        let input =
            Tensor::<5>::from_data(TensorData::new(v.data.clone(), [1, 1, x, y, z]), device);
        let w = Tensor::<5>::from_data(
            TensorData::new(weights.data.clone(), [1, 1, x, y, z]),
            device,
        );
        let logits = net.forward(input);
        let [a, b] = logits.clone().chunk(2, 1).try_into().ok().unwrap();
        (a * w.clone() - b * w * 0.5).sum()
    };
    let ad = cpu().autodiff();
    let net = MeshNetConfig::from(config.clone())
        .load(&values, &ad)
        .unwrap();
    let grads = objective(&net, &ad).backward();
    let mut analytic = vec![];
    for block in &net.blocks {
        analytic.push(
            block
                .conv
                .weight
                .val()
                .grad(&grads)
                .unwrap()
                .flatten::<1>(0, 4),
        );
        analytic.push(
            block
                .conv
                .bias
                .as_ref()
                .unwrap()
                .val()
                .grad(&grads)
                .unwrap(),
        );
    }
    analytic.push(
        net.head
            .weight
            .val()
            .grad(&grads)
            .unwrap()
            .flatten::<1>(0, 4),
    );
    analytic.push(net.head.bias.as_ref().unwrap().val().grad(&grads).unwrap());
    let analytic = Tensor::cat(analytic, 0)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(analytic.len(), values.len());

    let at = |vals: &[f32]| -> f64 {
        let net = MeshNetConfig::from(config.clone())
            .load(vals, &cpu())
            .unwrap();
        objective(&net, &cpu())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()[0] as f64
    };
    let eps = 1e-2f32;
    let scale = analytic.iter().map(|g| g.abs()).fold(0f32, f32::max);
    for i in (0..values.len()).step_by(7) {
        let mut plus = values.clone();
        plus[i] += eps;
        let mut minus = values.clone();
        minus[i] -= eps;
        let numeric = (at(&plus) - at(&minus)) / (2.0 * eps as f64);
        let err = (numeric - analytic[i] as f64).abs();
        assert!(
            err < 2e-2 * scale as f64,
            "parameter {i}: autodiff {} vs finite difference {numeric}",
            analytic[i]
        );
    }
}

/// Every channel of `y` `[batch, channels, D, H, W]` has mean 0 (within 1e-3) and variance 1
/// (within `var_tolerance`, population variance) over batch and voxels.
fn assert_standardised(y: &burn::tensor::Tensor<5>, var_tolerance: f32) {
    let per: burn::tensor::Tensor<2> = y.clone().permute([1, 0, 2, 3, 4]).flatten(1, 4);
    let mean = per
        .clone()
        .mean_dim(1)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let var = per.var_bias(1).into_data().try_to_vec::<f32>().unwrap();
    for (m, v) in mean.iter().zip(&var) {
        assert!(
            m.abs() < 1e-3 && (v - 1.0).abs() < var_tolerance,
            "mean {m} var {v}"
        );
    }
}

/// Calibration leaves every block's pre-activations standardised on the sample, so no
/// block starts dead or faded, and networks with BatchNorm come back unchanged.
#[test]
fn calibration_standardises_every_block_on_the_sample() {
    use burn::tensor::{Tensor, TensorData};
    let config = ModelConfig::model5(3);
    let net = MeshNetConfig::from(config.clone())
        .load(&initial_weights(&config, 2), &cpu())
        .unwrap();
    let v = random_volume([12, 12, 12], 9);
    let sample =
        Tensor::<5>::from_data(TensorData::new(v.data.clone(), [1, 1, 12, 12, 12]), &cpu());
    let before = net.values().unwrap();
    let net = net.calibrate(sample.clone());
    assert_ne!(net.values().unwrap(), before);
    let mut x = sample;
    for block in &net.blocks {
        let y = block.conv.forward(x);
        assert_standardised(&y, 1e-2);
        x = burn::tensor::activation::relu(y);
    }

    let bn = ModelConfig {
        batch_norm: true,
        ..config
    };
    let net = MeshNetConfig::from(bn).init(&cpu()).unwrap();
    let values = net.values().unwrap();
    let sample = Tensor::<5>::from_data(TensorData::new(v.data, [1, 1, 12, 12, 12]), &cpu());
    assert_eq!(net.calibrate(sample).values().unwrap(), values);
}

/// Recomputed BatchNorm statistics are those of each block's input, pooled over the samples
/// (two samples equal one batch holding both), measured with earlier blocks already updated.
#[test]
fn recomputed_batch_norm_statistics_are_pooled_block_by_block() {
    use burn::tensor::{Tensor, TensorData};
    let config = ModelConfig {
        batch_norm: true,
        ..ModelConfig::model5(3)
    };
    let net = MeshNetConfig::from(config.clone())
        .load(&initial_weights(&config, 4), &cpu())
        .unwrap();
    let t = |seed, n| {
        let v = random_volume([10, 10, 10], seed);
        let data: Vec<f32> = (0..n).flat_map(|_| v.data.clone()).collect();
        Tensor::<5>::from_data(TensorData::new(data, [n, 1, 10, 10, 10]), &cpu())
    };
    let (a, b) = (t(1, 1), t(2, 2));
    let pooled = net
        .clone()
        .recompute_batch_norm(&[a.clone(), b.clone()])
        .unwrap();
    let joined = net
        .clone()
        .recompute_batch_norm(&[Tensor::cat(vec![a.clone(), b], 0)])
        .unwrap();
    let (p, j) = (pooled.values().unwrap(), joined.values().unwrap());
    assert!(p.iter().zip(&j).all(|(x, y)| (x - y).abs() < 1e-4));
    assert_ne!(p, net.values().unwrap());

    // Block by block: with the new statistics, every block's normalised pre-activations
    // have mean 0 and variance 1 on the sample (fresh BatchNorm: gamma 1, beta 0).
    let net = net.recompute_batch_norm(std::slice::from_ref(&a)).unwrap();
    let mut x = a;
    for block in &net.blocks {
        let y = block.norm.as_ref().unwrap().forward(block.conv.forward(x));
        assert_standardised(&y, 2e-2);
        x = burn::tensor::activation::relu(y);
    }

    let plain = MeshNetConfig::from(ModelConfig::model5(3))
        .init(&cpu())
        .unwrap();
    let values = plain.values().unwrap();
    let after = plain.recompute_batch_norm(&[t(3, 1)]).unwrap();
    assert_eq!(after.values().unwrap(), values);
}
