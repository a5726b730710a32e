//! What a participant's masked input holds, in Z/2³² fixed point: its update weighted by w,
//! then w, w·loss and w·dice, so that the server learns only sums of each:
//!
//! `[w·δ₁, …, w·δ_P, w, w·loss, w·dice]`, δ = trained − global model.
//!
//! w is 1 for `mean` and min(num_examples, cap) / cap for FedAvg (cap: the plan's
//! `max_num_examples`, else [`DEFAULT_EXAMPLES_CAP`]), so w ∈ (0, 1] and no sum of N wraps.
//! The average update is Σ w·δ / Σ w; its rounding error is at most N · 2⁻²⁵ / Σ w per value
//! (3e-8 for equal weights).

use super::fixed;

/// FedAvg's cap on one upload's examples when the plan sets none.
pub const DEFAULT_EXAMPLES_CAP: u64 = 1 << 20;

/// Values after the update: w, w·loss, w·dice.
pub const EXTRAS: usize = 3;

/// The length of a masked input for a model of `parameters` values.
pub fn len(parameters: usize) -> usize {
    parameters + EXTRAS
}

/// An upload's weight: 1 when `weighted` is false, else its capped share of `cap`.
pub fn weight(weighted: bool, num_examples: u64, cap: Option<u64>) -> f64 {
    if !weighted {
        return 1.0;
    }
    let cap = cap.unwrap_or(DEFAULT_EXAMPLES_CAP).max(1);
    num_examples.clamp(1, cap) as f64 / cap as f64
}

/// The threshold t of a round of `members`: a majority, at least 2 and at least the run's
/// `min_contributors`, at most everyone.
pub fn threshold(members: usize, min_contributors: usize) -> usize {
    (members / 2 + 1).max(2).max(min_contributors).min(members)
}

/// A participant's input, before masking. `members`: the round's participants (the clamp).
pub fn encode(
    trained: &[f32],
    global: &[f32],
    w: f64,
    loss: f64,
    dice: f64,
    members: usize,
) -> Vec<u32> {
    trained
        .iter()
        .zip(global)
        .map(|(&t, &g)| w * (t as f64 - g as f64))
        .chain([w, w * loss, w * dice])
        .map(|x| fixed::encode(x, members))
        .collect()
}

/// The unmasked sum read back: the new global model (global + Σw·δ/Σw), and the weighted
/// mean loss and Dice. `None` when the sum's weight is not positive or its length is wrong.
pub fn decode(sum: &[u32], global: &[f32]) -> Option<Decoded> {
    if sum.len() != len(global.len()) {
        return None;
    }
    let p = global.len();
    let total = fixed::decode(sum[p]);
    if total <= 0.0 {
        return None;
    }
    let model = sum[..p]
        .iter()
        .zip(global)
        .map(|(&s, &g)| (g as f64 + fixed::decode(s) / total) as f32)
        .collect();
    Some(Decoded {
        model,
        weight: total,
        loss: fixed::decode(sum[p + 1]) / total,
        dice: fixed::decode(sum[p + 2]) / total,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub model: Vec<f32>,
    pub weight: f64,
    pub loss: f64,
    pub dice: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoded_sum_is_the_weighted_average() {
        let global = vec![0.5f32, -0.25, 1.0];
        let a = vec![0.6f32, -0.2, 1.1];
        let b = vec![0.4f32, -0.3, 0.8];
        let (wa, wb) = (weight(true, 300, Some(1000)), weight(true, 100, Some(1000)));
        let ea = encode(&a, &global, wa, 0.5, 0.7, 2);
        let eb = encode(&b, &global, wb, 0.3, 0.9, 2);
        let sum: Vec<u32> = ea
            .iter()
            .zip(&eb)
            .map(|(x, y)| x.wrapping_add(*y))
            .collect();
        let d = decode(&sum, &global).unwrap();
        for i in 0..3 {
            let expect = (0.75 * a[i] as f64 + 0.25 * b[i] as f64) as f32;
            assert!(
                (d.model[i] - expect).abs() < 1e-6,
                "{i}: {} vs {expect}",
                d.model[i]
            );
        }
        assert!(
            (d.loss - 0.45).abs() < 1e-6 && (d.dice - 0.75).abs() < 1e-6,
            "{d:?}"
        );
        assert!((d.weight - 0.4).abs() < 1e-6);
        assert_eq!(decode(&sum[..4], &global), None);
    }

    #[test]
    fn weights_and_thresholds() {
        assert_eq!(weight(false, 5, None), 1.0);
        assert_eq!(weight(true, 10_000_000, Some(1000)), 1.0, "capped");
        assert_eq!(weight(true, 0, Some(4)), 0.25, "at least one example");
        assert_eq!(threshold(4, 2), 3);
        assert_eq!(threshold(3, 2), 2);
        assert_eq!(threshold(2, 2), 2);
        assert_eq!(threshold(10, 8), 8);
        assert_eq!(threshold(2, 5), 2, "never more than everyone");
    }
}
