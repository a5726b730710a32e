//! SCAFFOLD's drift correction (Karimireddy et al. 2020, option II), kept in weight space.
//!
//! With data that differ between sites, each site's local steps pull the model towards its
//! own optimum, and the mean of the sites' models lands away from the optimum of all the data
//! (client drift). SCAFFOLD corrects each local step by the gap between the sites' mean
//! gradient and the site's own, both estimated from the last round. In weight space: a site's
//! raw update `R_k` is its local model minus the round's global model, less the corrections
//! it applied; after each local step of the next round it adds `(R̄ − R_k) / K` (`R̄` the
//! sites' weighted mean, `K` the local steps). With SGD this is SCAFFOLD exactly.

use super::RunningSum;

/// The per-step corrections of every site, carried from round to round.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftCorrection {
    local_steps: usize,
    per_step: Vec<Vec<f32>>,
}

impl DriftCorrection {
    /// No correction yet (the first round trains as plain FedAvg).
    pub fn new(sites: usize, parameters: usize, local_steps: usize) -> Self {
        Self {
            local_steps: local_steps.max(1),
            per_step: vec![vec![0.0; parameters]; sites],
        }
    }

    /// What `site` adds to its weights after each local step of this round.
    pub fn per_step(&self, site: usize) -> &[f32] {
        &self.per_step[site]
    }

    /// After a round that started from `global`: `locals` holds each site's final model and
    /// its FedAvg weight, in site order. Entries where `trainable` is false (running
    /// statistics) are never corrected. Panics on lengths that do not match.
    pub fn update(&mut self, global: &[f32], locals: &[(Vec<f32>, f64)], trainable: &[bool]) {
        assert_eq!(
            locals.len(),
            self.per_step.len(),
            "one local model per site"
        );
        let k = self.local_steps as f32;
        let raw: Vec<Vec<f32>> = locals
            .iter()
            .zip(&self.per_step)
            .map(|((local, _), applied)| {
                (local.iter().zip(global).zip(applied))
                    .map(|((l, g), c)| l - g - k * c)
                    .collect()
            })
            .collect();
        let mut sum = RunningSum::new(global.len());
        for (r, (_, weight)) in raw.iter().zip(locals) {
            sum.add(r, *weight);
        }
        let Some(mean) = sum.mean() else { return };
        for (correction, r) in self.per_step.iter_mut().zip(&raw) {
            *correction = (mean.iter().zip(r).zip(trainable))
                .map(|((m, r), &t)| if t { (m - r) / k } else { 0.0 })
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sites with quadratic losses `a/2·(w − b)²` of different curvature, `K` local SGD
    /// steps each round. Plain FedAvg settles away from the optimum of both together
    /// (`Σa·b / Σa`); with the drift correction it reaches it.
    fn rounds(correct: bool) -> f32 {
        let sites = [(1.0f32, 0.0f32), (4.0, 1.0)];
        let (lr, k) = (0.1f32, 10);
        let mut drift = DriftCorrection::new(2, 1, k);
        let mut global = vec![0.5f32];
        for _ in 0..300 {
            let locals: Vec<(Vec<f32>, f64)> = sites
                .iter()
                .enumerate()
                .map(|(s, &(a, b))| {
                    let mut w = global[0];
                    for _ in 0..k {
                        w -= lr * a * (w - b);
                        if correct {
                            w += drift.per_step(s)[0];
                        }
                    }
                    (vec![w], 1.0)
                })
                .collect();
            if correct {
                drift.update(&global, &locals, &[true]);
            }
            global = vec![(locals[0].0[0] + locals[1].0[0]) / 2.0];
        }
        global[0]
    }

    #[test]
    fn the_correction_removes_client_drift_on_quadratics() {
        let optimum = 0.8; // (1·0 + 4·1) / (1 + 4)
        let fedavg = rounds(false);
        let scaffold = rounds(true);
        assert!((fedavg - optimum).abs() > 0.1, "FedAvg drifts: {fedavg}");
        assert!((scaffold - optimum).abs() < 1e-3, "corrected: {scaffold}");
    }

    #[test]
    fn running_statistics_are_never_corrected_and_the_first_round_is_plain() {
        let mut drift = DriftCorrection::new(2, 2, 5);
        assert_eq!(drift.per_step(0), &[0.0, 0.0]);
        let locals = [(vec![1.0, 3.0], 1.0), (vec![2.0, 5.0], 3.0)];
        drift.update(&[0.0, 0.0], &locals, &[true, false]);
        // Weighted mean raw update 1.75; site 0 moved 1 and site 1 moved 2, over 5 steps.
        assert!((drift.per_step(0)[0] - 0.15).abs() < 1e-6);
        assert!((drift.per_step(1)[0] + 0.05).abs() < 1e-6);
        assert_eq!(drift.per_step(0)[1], 0.0);
        assert_eq!(drift.per_step(1)[1], 0.0);
    }
}
