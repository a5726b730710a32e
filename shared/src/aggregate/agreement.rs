//! How far a round's site updates agree, as a figure for experiments.
//!
//! With `Δ_k` a site's local model minus the round's global model (trainable entries only),
//! the agreement is `‖Σ w_k Δ_k‖ / Σ w_k ‖Δ_k‖` (weights normalised to sum to 1): 1 when
//! every site moved the same way, about `1/√K` when the moves of `K` sites are unrelated,
//! 0 when they cancel. FedAvg's step is the weighted mean, so a low agreement is how much of
//! the sites' local progress the average throws away.

use super::RunningSum;

/// The agreement of `locals` (each site's model and its FedAvg weight) around `global`.
/// `None` when there is nothing to compare: no sites, no weight, or no site moved. Panics on
/// lengths that do not match.
pub fn update_agreement(
    global: &[f32],
    locals: &[(Vec<f32>, f64)],
    trainable: &[bool],
) -> Option<f64> {
    assert_eq!(global.len(), trainable.len(), "mask length");
    let mut sum = RunningSum::new(global.len());
    for (local, weight) in locals {
        sum.add(local, *weight);
    }
    let mean = sum.mean()?;
    let moved = |model: &[f32]| {
        (model.iter().zip(global).zip(trainable))
            .filter(|(_, &t)| t)
            .map(|((m, g), _)| f64::from(m - g).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mean_norm = (locals.iter())
        .map(|(local, weight)| weight / sum.total_weight() * moved(local))
        .sum::<f64>();
    (mean_norm > 0.0).then(|| moved(&mean) / mean_norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreement(deltas: &[&[f32]], trainable: &[bool]) -> Option<f64> {
        let global = vec![1.0; trainable.len()];
        let locals: Vec<_> = deltas
            .iter()
            .map(|d| (d.iter().map(|x| 1.0 + x).collect(), 1.0))
            .collect();
        update_agreement(&global, &locals, trainable)
    }

    #[test]
    fn identical_moves_agree_fully_and_opposite_ones_cancel() {
        let all = [true; 3];
        let same = agreement(&[&[0.5, -1.0, 2.0], &[0.5, -1.0, 2.0]], &all).unwrap();
        assert!((same - 1.0).abs() < 1e-9, "{same}");
        let opposite = agreement(&[&[0.5, -1.0, 2.0], &[-0.5, 1.0, -2.0]], &all).unwrap();
        assert!(opposite.abs() < 1e-9, "{opposite}");
    }

    #[test]
    fn unrelated_moves_of_k_sites_agree_about_one_over_root_k() {
        let all = [true; 4];
        let axes: [&[f32]; 4] = [
            &[1.0, 0.0, 0.0, 0.0],
            &[0.0, 1.0, 0.0, 0.0],
            &[0.0, 0.0, 1.0, 0.0],
            &[0.0, 0.0, 0.0, 1.0],
        ];
        let orthogonal = agreement(&axes, &all).unwrap();
        assert!((orthogonal - 0.5).abs() < 1e-6, "{orthogonal}");
    }

    #[test]
    fn only_trainable_entries_count_and_weights_matter() {
        // The third entry (a running statistic) would make the moves disagree.
        let mask = [true, true, false];
        let masked = agreement(&[&[1.0, 1.0, 5.0], &[1.0, 1.0, -5.0]], &mask).unwrap();
        assert!((masked - 1.0).abs() < 1e-9, "{masked}");
        // Weight 3:1 on opposite moves: |0.75 − 0.25| / 1 = 0.5.
        let global = [0.0f32];
        let locals = vec![(vec![1.0f32], 3.0), (vec![-1.0f32], 1.0)];
        let weighted = update_agreement(&global, &locals, &[true]).unwrap();
        assert!((weighted - 0.5).abs() < 1e-9, "{weighted}");
    }

    #[test]
    fn nothing_to_compare_is_none() {
        assert_eq!(agreement(&[], &[true]), None);
        assert_eq!(agreement(&[&[0.0, 0.0]], &[true, true]), None);
        let locals = vec![(vec![2.0f32], 0.0)];
        assert_eq!(update_agreement(&[1.0], &locals, &[true]), None);
    }
}
