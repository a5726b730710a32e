//! What a participant's masked input holds, in Z/2³² fixed point: its update weighted by w,
//! then each figure it reports as a pair (its weight, weight × figure), so that the server
//! learns only sums of each:
//!
//! `[w·δ₁, …, w·δ_P, w, w·loss, w·dice, v, v·val_loss, v₁, v₁·dice₁, …, v_K, v_K·dice_K]`
//!
//! δ = trained − global model; v = w when the participant scored the round's global model on
//! its held-out part (federated validation), else 0; v_k = w when foreground class k was
//! present there, else 0 (K = classes − 1). So a figure's mean is over the uploads that
//! reported it, weighted as in a plaintext round (`aggregate::metrics`).
//!
//! w is 1 for `mean` and min(num_examples, cap) / cap for FedAvg (cap: the plan's
//! `max_num_examples`, else [`DEFAULT_EXAMPLES_CAP`]), so w ∈ (0, 1] and no sum of N wraps.
//! The average update is Σ w·δ / Σ w; its rounding error is at most N · 2⁻²⁵ / Σ w per value
//! (3e-8 for equal weights).

use super::fixed;
use crate::plan::ValidationScore;

/// FedAvg's cap on one upload's examples when the plan sets none.
pub const DEFAULT_EXAMPLES_CAP: u64 = 1 << 20;

/// What a participant reports with its update: training loss and Dice, and its federated
/// validation of the round's global model (loss, and Dice per foreground class).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scores {
    pub loss: f64,
    pub dice: f64,
    pub validation: Option<(f64, Vec<Option<f64>>)>,
}

impl Scores {
    /// A round's training figures and the validation score, as an upload reports them.
    pub fn of(loss: f64, dice: f64, validation: Option<&ValidationScore>) -> Self {
        Self {
            loss,
            dice,
            validation: validation.map(|v| (v.loss, v.foreground())),
        }
    }
}

/// Values after the update for a model of `classes` classes.
pub fn extras(classes: usize) -> usize {
    5 + 2 * classes.saturating_sub(1)
}

/// The length of a masked input for a model of `parameters` values and `classes` classes.
pub fn len(parameters: usize, classes: usize) -> usize {
    parameters + extras(classes)
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
    scores: &Scores,
    classes: usize,
    members: usize,
) -> Vec<u32> {
    let (v, val_loss, per_class) = match &scores.validation {
        Some((loss, dice)) => (w, *loss, dice.as_slice()),
        None => (0.0, 0.0, &[][..]),
    };
    let foreground = classes.saturating_sub(1);
    let class_pairs = (0..foreground).flat_map(|k| match per_class.get(k).copied().flatten() {
        Some(d) if v > 0.0 => [w, w * d],
        _ => [0.0, 0.0],
    });
    trained
        .iter()
        .zip(global)
        .map(|(&t, &g)| w * (t as f64 - g as f64))
        .chain([w, w * scores.loss, w * scores.dice, v, v * val_loss])
        .chain(class_pairs)
        .map(|x| fixed::encode(x, members))
        .collect()
}

/// The unmasked sum read back: the new global model (global + Σw·δ/Σw), and the weighted
/// mean loss, Dice and federated validation. `None` when the sum's weight is not positive or
/// its length is wrong.
pub fn decode(sum: &[u32], global: &[f32], classes: usize) -> Option<Decoded> {
    if sum.len() != len(global.len(), classes) {
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
    // A pair (Σ weight, Σ weight × figure) as the figure's mean; none when nobody reported it
    // (a weight of exactly 0 encodes as 0, and no mask is left in the unmasked sum).
    let mean = |at: usize| {
        let weight = fixed::decode(sum[at]);
        (weight > 0.0).then(|| fixed::decode(sum[at + 1]) / weight)
    };
    let val_dice_per_class = (0..classes.saturating_sub(1))
        .map(|k| mean(p + 5 + 2 * k))
        .collect();
    Some(Decoded {
        model,
        weight: total,
        loss: fixed::decode(sum[p + 1]) / total,
        dice: fixed::decode(sum[p + 2]) / total,
        val_loss: mean(p + 3),
        val_dice_per_class,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub model: Vec<f32>,
    pub weight: f64,
    pub loss: f64,
    pub dice: f64,
    /// Federated validation: the weighted mean over the participants that reported it.
    pub val_loss: Option<f64>,
    /// Its Dice per foreground class, over the participants where the class was present.
    pub val_dice_per_class: Vec<Option<f64>>,
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
        let scored = |loss, dice, validation| Scores {
            loss,
            dice,
            validation,
        };
        // a scored the global model (class 2 absent from its held-out part); b did not.
        let va = Some((0.4, vec![Some(0.8), None]));
        let ea = encode(&a, &global, wa, &scored(0.5, 0.7, va), 3, 2);
        let eb = encode(&b, &global, wb, &scored(0.3, 0.9, None), 3, 2);
        let sum: Vec<u32> = ea
            .iter()
            .zip(&eb)
            .map(|(x, y)| x.wrapping_add(*y))
            .collect();
        let d = decode(&sum, &global, 3).unwrap();
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
        // Validation is averaged over who reported it: a's figures alone.
        assert!((d.val_loss.unwrap() - 0.4).abs() < 1e-6, "{d:?}");
        assert!(
            (d.val_dice_per_class[0].unwrap() - 0.8).abs() < 1e-6,
            "{d:?}"
        );
        assert_eq!(d.val_dice_per_class[1], None);
        assert_eq!(sum.len(), len(3, 3));
        assert_eq!(decode(&sum[..4], &global, 3), None);
        assert_eq!(decode(&sum, &global, 2), None, "another class count");
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
