//! The server's step after a round's uploads are averaged (Reddi et al. 2021, "Adaptive
//! Federated Optimization"): the math is [`crate::aggregate::adaptive`].

use serde::{Deserialize, Serialize};

/// How the global model of round r+1 follows from round r's and the round's average.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerStep {
    /// The new global model is the average.
    Fedavg,
    /// Heavy-ball momentum on the pseudo-gradient (Hsu et al. 2019); rate 1, momentum 0 is
    /// FedAvg.
    Fedavgm { learning_rate: f64, momentum: f64 },
    /// Adam on the pseudo-gradient, no bias correction, `v` starting at τ².
    Fedadam {
        learning_rate: f64,
        beta1: f64,
        beta2: f64,
        tau: f64,
    },
    /// Yogi's additive second moment instead of Adam's.
    Fedyogi {
        learning_rate: f64,
        beta1: f64,
        beta2: f64,
        tau: f64,
    },
}

impl ServerStep {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Fedavg => "fedavg",
            Self::Fedavgm { .. } => "fedavgm",
            Self::Fedadam { .. } => "fedadam",
            Self::Fedyogi { .. } => "fedyogi",
        }
    }

    /// Whether the step keeps state from round to round (and needs the current global model).
    pub fn is_stateful(&self) -> bool {
        !matches!(self, Self::Fedavg)
    }

    pub fn describe(&self) -> String {
        match *self {
            Self::Fedavg => "FedAvg".into(),
            Self::Fedavgm {
                learning_rate,
                momentum,
            } => format!("FedAvgM (rate {learning_rate}, momentum {momentum})"),
            Self::Fedadam {
                learning_rate, tau, ..
            } => format!("FedAdam (rate {learning_rate}, τ {tau})"),
            Self::Fedyogi {
                learning_rate, tau, ..
            } => format!("FedYogi (rate {learning_rate}, τ {tau})"),
        }
    }

    /// The first rule it breaks, as (field, reason).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let rate = |lr: f64| {
            (lr.is_finite() && lr > 0.0 && lr <= 10.0)
                .then_some(())
                .ok_or((
                    "server.learning_rate",
                    "must be above 0 and at most 10".into(),
                ))
        };
        let unit = |field: &'static str, b: f64| {
            (0.0..1.0)
                .contains(&b)
                .then_some(())
                .ok_or((field, "must be at least 0 and below 1".to_string()))
        };
        match *self {
            Self::Fedavg => Ok(()),
            Self::Fedavgm {
                learning_rate,
                momentum,
            } => {
                rate(learning_rate)?;
                unit("server.momentum", momentum)
            }
            Self::Fedadam {
                learning_rate,
                beta1,
                beta2,
                tau,
            }
            | Self::Fedyogi {
                learning_rate,
                beta1,
                beta2,
                tau,
            } => {
                rate(learning_rate)?;
                unit("server.beta1", beta1)?;
                unit("server.beta2", beta2)?;
                (tau.is_finite() && tau > 0.0 && tau <= 1.0)
                    .then_some(())
                    .ok_or(("server.tau", "must be above 0 and at most 1".into()))
            }
        }
    }
}
