//! The participant's half of DP-FedAvg: clip the round's update (trained values minus the
//! global model, every value that leaves the machine, BatchNorm statistics included) to norm
//! C, add Gaussian noise of σ·C to each value, and upload global + update. The noise comes
//! from a ChaCha20 keystream keyed by a fresh 32-byte seed from the OS (`seed`), so the same
//! seed gives the same bytes on wasm and native.
//!
//! In a secure round the server sees only the sum, so the noise is distributed: each of the
//! at least t inputs that are summed carries σ·C/√t ([`distributed_sd`]), and their sum at
//! least σ·C, the noise a single trusted aggregator would add. The clipping happens after
//! training ([`clip`]); the noise when the input is masked (`secagg::participant`), where t
//! is known.

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;

use super::DifferentialPrivacy;
use crate::meshnet::ModelConfig;

/// What privatising did to an update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Privatized {
    /// The update's norm before clipping.
    pub norm: f64,
    /// Whether it was longer than C.
    pub clipped: bool,
}

/// Replaces `values` (trained) by global + clip(values − global) + N(0, (σC)²) per value.
pub fn privatize(
    values: &mut [f32],
    global: &[f32],
    dp: &DifferentialPrivacy,
    seed: [u8; 32],
) -> Privatized {
    let done = clip(values, global, dp.clip_norm);
    add_noise(values, dp.noise_sd(), seed);
    done
}

/// Replaces `values` (trained) by global + clip(values − global), the update clipped to
/// norm `clip_norm`.
pub fn clip(values: &mut [f32], global: &[f32], clip_norm: f64) -> Privatized {
    assert_eq!(values.len(), global.len(), "update and global model differ");
    let norm = values
        .iter()
        .zip(global)
        .map(|(&v, &g)| (v as f64 - g as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    let scale = if norm > clip_norm {
        clip_norm / norm
    } else {
        1.0
    };
    for (v, &g) in values.iter_mut().zip(global) {
        *v = (g as f64 + (*v as f64 - g as f64) * scale) as f32;
    }
    Privatized {
        norm,
        clipped: scale < 1.0,
    }
}

/// Adds N(0, sd²) to each value, from the keystream of `seed`.
pub fn add_noise(values: &mut [f32], sd: f64, seed: [u8; 32]) {
    let mut noise = GaussianStream::new(seed);
    for v in values.iter_mut() {
        *v = (*v as f64 + sd * noise.sample()) as f32;
    }
}

/// One input's share of noise `sd` when at least `t` inputs are summed: variances add, so
/// t · (sd/√t)² = sd², and more inputs only add noise.
pub fn distributed_sd(sd: f64, t: usize) -> f64 {
    sd / (t.max(1) as f64).sqrt()
}

/// The smallest BatchNorm variance a noised average may carry.
pub const MIN_RUNNING_VAR: f32 = 1e-5;

/// Post-processing of a noised upload or a DP round's average (it costs no privacy): noise
/// can push a BatchNorm `running_var` to or below zero, which the server refuses in an upload
/// and inference would divide by; such values are raised to [`MIN_RUNNING_VAR`]. Returns how
/// many were.
pub fn repair_variances(model: &ModelConfig, values: &mut [f32]) -> usize {
    let (mut start, mut raised, total) = (0, 0, values.len());
    for p in model.params() {
        let end = start + p.len();
        if p.name.ends_with(".running_var") {
            for v in &mut values[start.min(total)..end.min(total)] {
                if v.is_nan() || *v < MIN_RUNNING_VAR {
                    *v = MIN_RUNNING_VAR;
                    raised += 1;
                }
            }
        }
        start = end;
    }
    raised
}

/// Standard normal samples (Box–Muller) from a ChaCha20 keystream.
pub struct GaussianStream {
    cipher: ChaCha20,
    spare: Option<f64>,
}

impl GaussianStream {
    pub fn new(seed: [u8; 32]) -> Self {
        Self {
            cipher: ChaCha20::new(&seed.into(), &[0u8; 12].into()),
            spare: None,
        }
    }

    /// Uniform in (0, 1]: 53 random bits.
    fn uniform(&mut self) -> f64 {
        let mut bytes = [0u8; 8];
        self.cipher.apply_keystream(&mut bytes);
        ((u64::from_le_bytes(bytes) >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    pub fn sample(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let (u1, u2) = (self.uniform(), self.uniform());
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare = Some(r * theta.sin());
        r * theta.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dp(sigma: f64, clip: f64) -> DifferentialPrivacy {
        DifferentialPrivacy {
            noise_multiplier: sigma,
            clip_norm: clip,
            delta: 1e-5,
            epsilon_budget: None,
        }
    }

    #[test]
    fn the_noise_is_standard_normal() {
        let mut g = GaussianStream::new([7; 32]);
        let xs: Vec<f64> = (0..200_000).map(|_| g.sample()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        let beyond_2 = xs.iter().filter(|x| x.abs() > 2.0).count() as f64 / xs.len() as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
        assert!((beyond_2 - 0.0455).abs() < 0.003, "P(|z|>2) {beyond_2}");
    }

    #[test]
    fn a_long_update_is_clipped_to_c_and_a_short_one_kept() {
        let global = vec![1.0f32; 100];
        let mut long: Vec<f32> = global.iter().map(|g| g + 1.0).collect(); // norm 10
        let p = privatize(&mut long, &global, &dp(1e-9, 0.5), [1; 32]);
        assert!(p.clipped && (p.norm - 10.0).abs() < 1e-9, "{p:?}");
        let moved: f64 = long
            .iter()
            .zip(&global)
            .map(|(v, g)| ((v - g) as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((moved - 0.5).abs() < 1e-4, "clipped to C: {moved}");
        let mut short: Vec<f32> = global.iter().map(|g| g + 0.01).collect(); // norm 0.1
        let before = short.clone();
        let p = privatize(&mut short, &global, &dp(1e-9, 0.5), [1; 32]);
        assert!(!p.clipped);
        assert!(short.iter().zip(&before).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn only_running_variances_below_the_floor_are_raised() {
        let model: ModelConfig = serde_json::from_value(serde_json::json!(
            {"channels": 2, "dilations": [1, 2], "classes": 2, "batch_norm": true}))
        .unwrap();
        let mut values = vec![-0.5f32; model.parameter_count()];
        let raised = repair_variances(&model, &mut values);
        assert_eq!(raised, 2 * 2, "two blocks of two channels");
        assert_eq!(values.iter().filter(|&&v| v == MIN_RUNNING_VAR).count(), 4);
        assert_eq!(
            values.iter().filter(|&&v| v == -0.5).count(),
            values.len() - 4
        );
    }

    #[test]
    fn the_noise_has_standard_deviation_sigma_times_c() {
        let global = vec![0.0f32; 50_000];
        let mut values = global.clone();
        privatize(&mut values, &global, &dp(2.0, 0.05), [3; 32]);
        let sd = (values.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / 50_000.0).sqrt();
        assert!((sd - 0.1).abs() < 0.002, "σC = 0.1, measured {sd}");
        let mut again = global.clone();
        privatize(&mut again, &global, &dp(2.0, 0.05), [3; 32]);
        assert_eq!(values, again, "the seed decides the noise");
    }

    #[test]
    fn distributed_shares_sum_to_the_central_noise() {
        let (sd, t) = (0.1, 4);
        let mut sum = vec![0.0f64; 50_000];
        for k in 0..t as u8 {
            let mut share = vec![0.0f32; sum.len()];
            add_noise(&mut share, distributed_sd(sd, t), [k + 10; 32]);
            sum.iter_mut()
                .zip(&share)
                .for_each(|(s, &x)| *s += x as f64);
        }
        let measured = (sum.iter().map(|x| x.powi(2)).sum::<f64>() / sum.len() as f64).sqrt();
        assert!(
            (measured - sd).abs() < 0.002,
            "σC = 0.1, measured {measured}"
        );
        assert!((distributed_sd(0.3, 9) - 0.1).abs() < 1e-15);
        assert_eq!(distributed_sd(0.3, 0), 0.3, "never more than the whole");
    }
}
