//! The Rényi-DP accountant of DP-FedAvg: how much privacy (ε at the run's δ) a run has spent
//! after T rounds of the Gaussian mechanism with noise multiplier σ, each round optionally
//! reaching a participant with probability q (Poisson sampling; Meshfed's rounds take every
//! active participant, q = 1).
//!
//! - RDP of one round at order α: α / (2σ²) when q = 1; for 0 < q < 1 the sampled Gaussian
//!   mechanism's log A_α / (α − 1) (Mironov, Talwar, Zhang 2019, integer α only).
//! - T rounds compose by adding RDP; (ε, δ) follows from the conversion of Canonne, Kamath and
//!   Steinke 2020 (Prop. 12 of arXiv:2004.00010), minimised over the orders.
//!
//! Orders and formulas are those of Google's `dp-accounting` (0.6.0, `RdpAccountant` with its
//! default orders), whose figures the tests reproduce.

/// Google dp-accounting's default RDP orders: 1.1..10.9 by 0.1, 11..63, 128, 256, 512, 1024.
fn orders() -> impl Iterator<Item = f64> {
    (1..100)
        .map(|x| 1.0 + x as f64 / 10.0)
        .chain((11..64).map(f64::from))
        .chain([128.0, 256.0, 512.0, 1024.0])
}

/// A mechanism the accountant composes: Gaussian noise of `noise_multiplier` × the
/// sensitivity, applied to a participant with probability `sampling_rate` per round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian {
    pub noise_multiplier: f64,
    pub sampling_rate: f64,
}

impl Gaussian {
    /// Every participant every round (Meshfed's rounds).
    pub fn every_round(noise_multiplier: f64) -> Self {
        Self {
            noise_multiplier,
            sampling_rate: 1.0,
        }
    }

    /// RDP of one application at order `alpha`; `None` where it is not computed (a
    /// fractional order of a sampled mechanism).
    fn rdp(&self, alpha: f64) -> Option<f64> {
        let (q, sigma) = (self.sampling_rate, self.noise_multiplier);
        if q <= 0.0 {
            return Some(0.0);
        }
        if sigma <= 0.0 {
            return Some(f64::INFINITY);
        }
        if q >= 1.0 {
            return Some(alpha / (2.0 * sigma * sigma));
        }
        if alpha.fract() != 0.0 {
            return None;
        }
        Some(log_a_int(q, sigma, alpha as u64) / (alpha - 1.0))
    }

    /// ε at `delta` after `rounds` applications; 0 for no rounds, ∞ without noise.
    pub fn epsilon(&self, rounds: u64, delta: f64) -> f64 {
        if rounds == 0 {
            return 0.0;
        }
        orders()
            .filter_map(|a| self.rdp(a).map(|r| (a, r * rounds as f64)))
            .map(|(a, r)| epsilon_of(a, r, delta))
            .fold(f64::INFINITY, f64::min)
            .max(0.0)
    }

    /// The most rounds whose ε at `delta` stays within `budget` (0 if not even one).
    pub fn affordable_rounds(&self, delta: f64, budget: f64) -> u64 {
        const CEILING: u64 = 1 << 24;
        if self.epsilon(CEILING, delta) <= budget {
            return CEILING;
        }
        let (mut within, mut over) = (0u64, CEILING); // epsilon(within) ≤ budget < epsilon(over)
        while over - within > 1 {
            let mid = within + (over - within) / 2;
            if self.epsilon(mid, delta) <= budget {
                within = mid;
            } else {
                over = mid;
            }
        }
        within
    }
}

/// (ε, δ) from RDP `r` at order `a` (Canonne, Kamath, Steinke 2020, Prop. 12), as
/// dp-accounting's `compute_epsilon` does it.
fn epsilon_of(a: f64, r: f64, delta: f64) -> f64 {
    if r < 0.0 || delta * delta + (-r).exp_m1() > 0.0 {
        0.0
    } else if a > 1.01 {
        r + (-1.0 / a).ln_1p() - (delta * a).ln() / (a - 1.0)
    } else {
        f64::INFINITY
    }
}

/// log A_α of the sampled Gaussian mechanism for integer α (Mironov et al. 2019, Sec. 3.3):
/// log Σₖ C(α,k) (1−q)^(α−k) qᵏ exp((k²−k)/(2σ²)).
fn log_a_int(q: f64, sigma: f64, alpha: u64) -> f64 {
    let (log_q, log_1mq) = (q.ln(), (-q).ln_1p());
    (0..=alpha)
        .map(|k| {
            let k_f = k as f64;
            log_choose(alpha, k)
                + k_f * log_q
                + (alpha - k) as f64 * log_1mq
                + (k_f * k_f - k_f) / (2.0 * sigma * sigma)
        })
        .fold(f64::NEG_INFINITY, log_add)
}

fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        hi
    } else {
        hi + (lo - hi).exp().ln_1p()
    }
}

fn log_choose(n: u64, k: u64) -> f64 {
    let k = k.min(n - k);
    (0..k)
        .map(|i| ((n - i) as f64).ln() - ((i + 1) as f64).ln())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference figures from Google's dp-accounting 0.6.0 (PyPI `dp-accounting`):
    /// `RdpAccountant(orders)` composing `GaussianDpEvent(σ)` (q = 1, default orders) or
    /// `PoissonSampledDpEvent(q, GaussianDpEvent(σ))` (the default orders' integers) T times,
    /// then `get_epsilon(δ)`.
    const REFERENCE: [(f64, f64, u64, f64, f64); 6] = [
        (1.0, 1.0, 1, 1e-5, 4.728507067217623),
        (1.0, 1.0, 100, 1e-5, 96.11630842505602),
        (1.0, 4.0, 400, 1e-6, 37.429216196844386),
        (1.0, 0.5, 10, 1e-5, 48.80169282486775),
        // Abadi et al. 2016's MNIST setting: batch 256 of 60,000, σ 1.1, 60 epochs.
        (256.0 / 60000.0, 1.1, 14062, 1e-5, 2.5969811785948815),
        (0.1, 1.0, 100, 1e-5, 7.972921510380539),
    ];

    #[test]
    fn matches_dp_accounting_for_the_gaussian_mechanism() {
        for (q, sigma, rounds, delta, expected) in REFERENCE {
            let got = Gaussian {
                noise_multiplier: sigma,
                sampling_rate: q,
            }
            .epsilon(rounds, delta);
            assert!(
                (got - expected).abs() < 1e-3,
                "q {q} σ {sigma} T {rounds} δ {delta}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn epsilon_grows_with_rounds_and_shrinks_with_noise() {
        let g = Gaussian::every_round(2.0);
        assert_eq!(g.epsilon(0, 1e-5), 0.0);
        assert!(g.epsilon(10, 1e-5) < g.epsilon(11, 1e-5));
        assert!(Gaussian::every_round(4.0).epsilon(10, 1e-5) < g.epsilon(10, 1e-5));
        assert_eq!(Gaussian::every_round(0.0).epsilon(1, 1e-5), f64::INFINITY);
    }

    #[test]
    fn affordable_rounds_is_the_last_round_within_the_budget() {
        let g = Gaussian::every_round(4.0);
        let n = g.affordable_rounds(1e-6, 37.43);
        assert_eq!(n, 400, "dp-accounting: 400 rounds cost 37.4292");
        assert!(g.epsilon(n, 1e-6) <= 37.43 && g.epsilon(n + 1, 1e-6) > 37.43);
        assert_eq!(Gaussian::every_round(1.0).affordable_rounds(1e-5, 1.0), 0);
    }
}
