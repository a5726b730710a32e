//! Differential privacy for a run (DP-FedAvg with client-level privacy, McMahan et al. 2018):
//! every participant clips its update to the plan's norm C and adds Gaussian noise of σ·C
//! before it leaves the machine ([`noise`]); the server averages the uploads equally and
//! reports the ε the closed rounds have spent at the plan's δ ([`accountant`]), and refuses
//! the uploads of a round that would spend more than the creator's budget.

pub mod accountant;
pub mod noise;

use serde::{Deserialize, Serialize};

pub use accountant::Gaussian;

/// A plan's differential privacy, fixed at the run's creation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DifferentialPrivacy {
    /// σ: each participant adds Gaussian noise of standard deviation σ·C to every value.
    pub noise_multiplier: f64,
    /// C: the Euclidean norm each update is clipped to before the noise.
    pub clip_norm: f64,
    /// δ, at which the run reports ε.
    pub delta: f64,
    /// No upload counts in a round that would take ε past this; `None`: no limit.
    #[serde(default)]
    pub epsilon_budget: Option<f64>,
}

impl DifferentialPrivacy {
    /// The noise a round's sum must carry: σ·C.
    pub fn noise_sd(&self) -> f64 {
        self.noise_multiplier * self.clip_norm
    }
}

/// What a run has spent, as `GET /api/runs/{id}` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrivacySpent {
    pub noise_multiplier: f64,
    pub clip_norm: f64,
    pub delta: f64,
    pub epsilon_budget: Option<f64>,
    /// ε at δ after the rounds closed so far (0 before the first).
    pub epsilon: f64,
    pub rounds_closed: u32,
    /// The last round the budget covers; `None`: no budget.
    pub last_round: Option<u32>,
}

impl PrivacySpent {
    /// One sentence for the run's page and the join panel.
    pub fn describe(&self) -> String {
        let rounds = match self.rounds_closed {
            1 => "1 round".to_string(),
            n => format!("{n} rounds"),
        };
        let budget = match (self.epsilon_budget, self.last_round) {
            (Some(b), Some(0)) => format!(" Budget ε ≤ {b}: not even one round fits."),
            (Some(b), Some(last)) if last <= self.rounds_closed => {
                format!(" Budget ε ≤ {b}: spent, no more rounds count.")
            }
            (Some(b), Some(last)) => format!(" Budget ε ≤ {b}: rounds up to {last}."),
            _ => " No budget set.".to_string(),
        };
        format!(
            "Differential privacy: ε = {:.3} at δ = {} after {rounds} (each update clipped to \
             {} and noised with σ = {}).{budget}",
            self.epsilon, self.delta, self.clip_norm, self.noise_multiplier
        )
    }
}

impl DifferentialPrivacy {
    /// The first rule broken, as (field under `dp`, reason).
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if !(self.noise_multiplier.is_finite() && self.noise_multiplier > 0.0) {
            return Err(("dp.noise_multiplier", "must be above 0"));
        }
        if self.noise_multiplier > 1e3 {
            return Err(("dp.noise_multiplier", "must be at most 1000"));
        }
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            return Err(("dp.clip_norm", "must be above 0"));
        }
        if !(self.delta > 0.0 && self.delta < 0.1) {
            return Err(("dp.delta", "must be above 0 and below 0.1"));
        }
        if self
            .epsilon_budget
            .is_some_and(|e| !(e.is_finite() && e > 0.0))
        {
            return Err(("dp.epsilon_budget", "must be above 0 (or left out)"));
        }
        Ok(())
    }

    fn mechanism(&self) -> Gaussian {
        Gaussian::every_round(self.noise_multiplier)
    }

    /// ε at δ after `rounds` rounds.
    pub fn epsilon(&self, rounds: u32) -> f64 {
        self.mechanism().epsilon(rounds as u64, self.delta)
    }

    /// The last round within the budget (0: not even the first); `None` without a budget.
    pub fn last_round(&self) -> Option<u32> {
        self.epsilon_budget.map(|b| {
            let n = self.mechanism().affordable_rounds(self.delta, b);
            u32::try_from(n).unwrap_or(u32::MAX)
        })
    }

    /// What the run has spent once `rounds_closed` rounds have closed.
    pub fn spent(&self, rounds_closed: u32) -> PrivacySpent {
        PrivacySpent {
            noise_multiplier: self.noise_multiplier,
            clip_norm: self.clip_norm,
            delta: self.delta,
            epsilon_budget: self.epsilon_budget,
            epsilon: self.epsilon(rounds_closed),
            rounds_closed,
            last_round: self.last_round(),
        }
    }

    /// Whether round `round` may still take uploads: Err says why not.
    pub fn admits(&self, round: u32) -> Result<(), String> {
        match (self.last_round(), self.epsilon_budget) {
            (Some(last), Some(budget)) if round > last => Err(format!(
                "The run's privacy budget is spent: ε = {:.3} at δ = {} after round {last}, and \
                 round {round} would take it past the budget of {budget}. No more rounds count.",
                self.epsilon(last),
                self.delta
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dp(budget: Option<f64>) -> DifferentialPrivacy {
        DifferentialPrivacy {
            noise_multiplier: 4.0,
            clip_norm: 0.1,
            delta: 1e-6,
            epsilon_budget: budget,
        }
    }

    #[test]
    fn the_budget_admits_rounds_up_to_the_last_it_covers() {
        // dp-accounting: 400 rounds at σ 4, δ 1e-6 spend ε 37.4292.
        let d = dp(Some(37.43));
        assert_eq!(d.last_round(), Some(400));
        assert!(d.admits(400).is_ok());
        let refusal = d.admits(401).unwrap_err();
        assert!(refusal.contains("after round 400"), "{refusal}");
        assert!(dp(None).admits(100_000).is_ok());
        let spent = d.spent(400);
        assert!((spent.epsilon - 37.4292).abs() < 1e-3, "{spent:?}");
        assert_eq!(d.spent(0).epsilon, 0.0);
    }

    #[test]
    fn the_description_says_what_is_spent_and_what_is_left() {
        let d = dp(Some(37.43));
        let text = d.spent(1).describe();
        assert!(
            text.contains("after 1 round ") && text.contains("rounds up to 400"),
            "{text}"
        );
        assert!(d.spent(400).describe().contains("spent, no more rounds"));
        assert!(dp(None).spent(2).describe().contains("No budget"));
    }

    #[test]
    fn each_rule_names_its_field() {
        let field = |f: fn(&mut DifferentialPrivacy)| {
            let mut d = dp(None);
            f(&mut d);
            d.check().unwrap_err().0
        };
        assert!(dp(Some(1.0)).check().is_ok());
        assert_eq!(field(|d| d.noise_multiplier = 0.0), "dp.noise_multiplier");
        assert_eq!(field(|d| d.clip_norm = f64::NAN), "dp.clip_norm");
        assert_eq!(field(|d| d.delta = 0.0), "dp.delta");
        assert_eq!(
            field(|d| d.epsilon_budget = Some(-1.0)),
            "dp.epsilon_budget"
        );
    }
}
