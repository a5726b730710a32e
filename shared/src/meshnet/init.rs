//! A seeded initial MeshNet: PyTorch's default Conv3d initialisation (uniform in
//! ±1/sqrt(fan_in) for weights and biases), BatchNorm at identity, from a splitmix64 stream,
//! so the same run id always starts from the same model on every machine.

use super::ModelConfig;
use crate::volume::Rng;

/// He (Kaiming) normal initialisation for training from scratch: convolution weights from
/// N(0, 2/fan_in), biases zero, BatchNorm at identity. PyTorch's default (above) shrinks a
/// ReLU network's signal by about √3 per layer, which stalls a fresh 10-layer MeshNet.
pub fn he_weights(config: &ModelConfig, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(config.parameter_count());
    for spec in config.params() {
        let n = spec.len();
        let is_norm = spec.name.split('.').nth(2) == Some("1");
        let part = spec.name.rsplit('.').next().unwrap_or_default();
        if spec.shape.len() == 5 {
            let fan_in: usize = spec.shape[1..].iter().product();
            let std = (2.0 / fan_in as f32).sqrt();
            out.extend((0..n).map(|_| rng.normal() * std));
        } else if is_norm && matches!(part, "weight" | "running_var") {
            out.extend(std::iter::repeat_n(1.0, n));
        } else {
            out.extend(std::iter::repeat_n(0.0, n));
        }
    }
    out
}

/// All parameters, flattened in parameter order.
pub fn initial_weights(config: &ModelConfig, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(config.parameter_count());
    let mut fan_in = 1usize;
    for spec in config.params() {
        let n = spec.len();
        let part = spec.name.rsplit('.').next().unwrap_or_default();
        let is_norm = spec.name.split('.').nth(2) == Some("1");
        if spec.shape.len() == 5 {
            fan_in = spec.shape[1..].iter().product();
        }
        let bound = 1.0 / (fan_in as f32).sqrt();
        match (is_norm, part) {
            (true, "weight" | "running_var") => out.extend(std::iter::repeat_n(1.0, n)),
            (true, _) => out.extend(std::iter::repeat_n(0.0, n)),
            _ => out.extend((0..n).map(|_| (rng.unit() * 2.0 - 1.0) * bound)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_bounded_and_seed_dependent() {
        let m = ModelConfig::default();
        let a = initial_weights(&m, 7);
        assert_eq!(a.len(), 5598);
        assert_eq!(a, initial_weights(&m, 7));
        assert_ne!(a, initial_weights(&m, 8));
        let bound0 = 1.0 / 27f32.sqrt();
        assert!(a[..135].iter().all(|v| v.abs() <= bound0));
        assert!(
            a[..135].iter().any(|v| v.abs() > bound0 * 0.9),
            "uses the whole range"
        );
        let bound1 = 1.0 / 135f32.sqrt();
        assert!(a[140..140 + 675].iter().all(|v| v.abs() <= bound1));
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.01, "centred: {mean}");
    }

    #[test]
    fn batch_norm_starts_at_identity() {
        let m = ModelConfig {
            batch_norm: true,
            channels: 2,
            dilations: vec![1],
            classes: 2,
            in_channels: 1,
            activation: Default::default(),
        };
        let w = initial_weights(&m, 1);
        let named = m.unflatten(&w);
        let get = |n: &str| named.iter().find(|(k, _)| k == n).unwrap().1.data.clone();
        assert_eq!(get("model.0.1.weight"), vec![1.0, 1.0]);
        assert_eq!(get("model.0.1.running_var"), vec![1.0, 1.0]);
        assert_eq!(get("model.0.1.bias"), vec![0.0, 0.0]);
        assert_eq!(get("model.0.1.running_mean"), vec![0.0, 0.0]);
        assert!(get("model.1.weight")
            .iter()
            .all(|v| v.abs() <= 1.0 / 2f32.sqrt()));
    }
}
