//! Federated aggregation over flat parameter vectors.
//!
//! FedAvg (weighted by each upload's `num_examples`, Flower's formula) and the plain mean are
//! streaming: an upload is added into `f64` running sums in O(P) time, reading the result is
//! O(P), and memory is one `f64` per parameter whatever the number of participants. A
//! replaced upload is never subtracted: the sums are rebuilt from the stored uploads. What
//! `num_examples` may weigh is capped at the close ([`examples_cap`]). Median and trimmed mean are coordinate-wise order
//! statistics: they need every upload at once (O(N·P) memory, O(P·N log N) time) and ignore
//! `num_examples`; see [`robust`].

pub mod adaptive;
pub mod agreement;
pub mod chunks;
pub mod clip;
pub mod drift;
pub mod examples_cap;
pub mod metrics;
pub mod robust;
pub mod server;

use serde::{Deserialize, Serialize};

/// How a round's uploads become one model.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Weighted by `num_examples`.
    #[default]
    Fedavg,
    /// Unweighted (what the seeds' routes use).
    Mean,
    /// Coordinate-wise median.
    Median,
    /// Coordinate-wise mean after dropping the `trim_fraction` largest and smallest values.
    TrimmedMean,
}

impl Method {
    /// Whether uploads can be folded into running sums as they arrive.
    pub fn is_streaming(self) -> bool {
        matches!(self, Method::Fedavg | Method::Mean)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Fedavg => "fedavg",
            Method::Mean => "mean",
            Method::Median => "median",
            Method::TrimmedMean => "trimmed_mean",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Method::Fedavg,
            Method::Mean,
            Method::Median,
            Method::TrimmedMean,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }

    /// The weight an upload of `num_examples` carries under this method.
    pub fn weight(self, num_examples: u64) -> f64 {
        match self {
            Method::Fedavg => num_examples as f64,
            _ => 1.0,
        }
    }
}

/// Default fraction trimmed from each end by `trimmed_mean`.
pub const DEFAULT_TRIM_FRACTION: f64 = 0.1;

/// Running weighted sums: Σ wᵢ·xᵢ per parameter and Σ wᵢ, in `f64`.
#[derive(Clone, PartialEq)]
pub struct RunningSum {
    sums: Vec<f64>,
    weight: f64,
    count: usize,
}

impl std::fmt::Debug for RunningSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RunningSum({} params, {} uploads, weight {})",
            self.sums.len(),
            self.count,
            self.weight
        )
    }
}

impl RunningSum {
    pub fn new(parameters: usize) -> Self {
        Self {
            sums: vec![0.0; parameters],
            weight: 0.0,
            count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.sums.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// Uploads currently counted.
    pub fn count(&self) -> usize {
        self.count
    }

    pub fn total_weight(&self) -> f64 {
        self.weight
    }

    /// Adds `values` with `weight` (O(P)). Panics if the length differs: callers check
    /// uploads against the model first.
    pub fn add(&mut self, values: &[f32], weight: f64) {
        assert_eq!(values.len(), self.sums.len(), "upload length");
        for (s, &v) in self.sums.iter_mut().zip(values) {
            *s += weight * v as f64;
        }
        self.weight += weight;
        self.count += 1;
    }

    /// Σ wᵢ·xᵢ / Σ wᵢ rounded once to `f32`; `None` before any upload or with zero weight.
    pub fn mean(&self) -> Option<Vec<f32>> {
        if self.count == 0 || self.weight <= 0.0 {
            return None;
        }
        let inv = 1.0 / self.weight;
        Some(self.sums.iter().map(|s| (s * inv) as f32).collect())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-scale, scale).
    pub(crate) fn values(seed: u64, n: usize, scale: f32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }

    fn reference(uploads: &[(Vec<f32>, f64)]) -> Vec<f64> {
        let w: f64 = uploads.iter().map(|u| u.1).sum();
        (0..uploads[0].0.len())
            .map(|i| uploads.iter().map(|(v, wi)| wi * v[i] as f64).sum::<f64>() / w)
            .collect()
    }

    #[test]
    fn fedavg_matches_a_float64_reference_in_any_order() {
        let uploads: Vec<(Vec<f32>, f64)> = (0..32)
            .map(|i| {
                (
                    values(i, 5598, 10f32.powi((i % 7) as i32 - 3)),
                    Method::Fedavg.weight(1 + i * 37 % 101),
                )
            })
            .collect();
        let expect = reference(&uploads);
        let mut forward = RunningSum::new(5598);
        uploads.iter().for_each(|(v, w)| forward.add(v, *w));
        let mut backward = RunningSum::new(5598);
        uploads.iter().rev().for_each(|(v, w)| backward.add(v, *w));
        let (f, b) = (forward.mean().unwrap(), backward.mean().unwrap());
        for i in 0..5598 {
            assert_eq!(
                f[i], expect[i] as f32,
                "rounded once from the f64 reference at {i}"
            );
            let rel = ((f[i] - b[i]) / f[i].abs().max(1e-30)).abs();
            assert!(
                rel <= 1e-6,
                "order independence at {i}: {} vs {}",
                f[i],
                b[i]
            );
        }
        assert_eq!(forward.count(), 32);
    }

    #[test]
    fn empty_and_unweighted() {
        let mut sum = RunningSum::new(2);
        assert_eq!(sum.mean(), None);
        sum.add(&[1.0, 2.0], Method::Mean.weight(50));
        sum.add(&[3.0, 6.0], Method::Mean.weight(1));
        assert_eq!(sum.mean(), Some(vec![2.0, 4.0]));
        assert_eq!(RunningSum::new(2).mean(), None);
        assert_eq!(Method::parse("trimmed_mean"), Some(Method::TrimmedMean));
        assert_eq!(Method::parse("avg"), None);
        assert!(Method::Fedavg.is_streaming() && !Method::Median.is_streaming());
    }
}
