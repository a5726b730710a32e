//! The plan's server step ([`ServerStep`]) applied when a round closes: FedAvg, FedAvgM, and
//! FedAdam / FedYogi as in Reddi et al. 2021 ("Adaptive Federated Optimization", Algorithm 2):
//!
//! Δ = mean − global (the pseudo-gradient), m ← β₁m + (1−β₁)Δ,
//! FedAdam v ← β₂v + (1−β₂)Δ², FedYogi v ← v − (1−β₂)Δ² sign(v − Δ²),
//! global ← global + η m / (√v + τ), with m₀ = 0 and v₀ = τ², no bias correction.
//!
//! FedAvgM keeps its velocity in `m` (v ← βv + Δ, global ← global + ηv). Running statistics
//! (entries where `trainable` is false) always take the mean and keep no state: they are
//! measurements, and an extrapolated variance can turn negative.

use crate::plan::ServerStep;

/// What the server step carries from round to round: one or two values per parameter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerState {
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

impl ServerState {
    /// The starting state of `step` for `parameters` values (empty for FedAvg).
    pub fn fresh(step: &ServerStep, parameters: usize) -> Self {
        match *step {
            ServerStep::Fedavg => Self::default(),
            ServerStep::Fedavgm { .. } => Self {
                m: vec![0.0; parameters],
                v: vec![],
            },
            ServerStep::Fedadam { tau, .. } | ServerStep::Fedyogi { tau, .. } => Self {
                m: vec![0.0; parameters],
                v: vec![(tau * tau) as f32; parameters],
            },
        }
    }

    /// Whether this state fits `step` over `parameters` values (else start afresh: the plan
    /// changed its server step).
    pub fn fits(&self, step: &ServerStep, parameters: usize) -> bool {
        let fresh = Self::fresh(step, parameters);
        self.m.len() == fresh.m.len() && self.v.len() == fresh.v.len()
    }
}

const STEP_KEY: &str = "meshfed.server_step";

impl ServerState {
    /// The state as safetensors (`m` and `v`, F32), tagged with the step's name.
    pub fn to_safetensors(&self, step: &ServerStep) -> Vec<u8> {
        let flat = |v: &[f32]| crate::tensor::Tensor {
            shape: vec![v.len()],
            data: v.to_vec(),
        };
        let tensors = [
            ("m".to_string(), flat(&self.m)),
            ("v".to_string(), flat(&self.v)),
        ];
        let meta = [(STEP_KEY.to_string(), step.name().to_string())].into();
        crate::tensor::safetensors::write(&tensors, crate::tensor::DType::F32, &meta)
    }

    /// The state stored by [`Self::to_safetensors`] for a step of `step`'s kind, if it is one.
    pub fn from_safetensors(bytes: &[u8], step: &ServerStep) -> Option<Self> {
        let file = crate::tensor::safetensors::read(bytes).ok()?;
        if file.metadata.get(STEP_KEY).map(String::as_str) != Some(step.name()) {
            return None;
        }
        let take = |name: &str| {
            file.tensors
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.data.clone())
        };
        Some(Self {
            m: take("m")?,
            v: take("v")?,
        })
    }
}

/// The next global model. Panics if the lengths differ: callers check uploads against the
/// model, and the state with [`ServerState::fits`], first.
pub fn server_step(
    step: &ServerStep,
    state: &mut ServerState,
    global: &[f32],
    mean: &[f32],
    trainable: &[bool],
) -> Vec<f32> {
    assert_eq!(global.len(), mean.len(), "mean length");
    assert_eq!(global.len(), trainable.len(), "mask length");
    assert!(state.fits(step, global.len()), "server state length");
    let each = |f: &mut dyn FnMut(usize, f32) -> f32| -> Vec<f32> {
        (0..global.len())
            .map(|i| {
                if trainable[i] {
                    f(i, mean[i] - global[i])
                } else {
                    mean[i]
                }
            })
            .collect()
    };
    match *step {
        ServerStep::Fedavg => mean.to_vec(),
        ServerStep::Fedavgm {
            learning_rate,
            momentum,
        } => {
            let (lr, beta) = (learning_rate as f32, momentum as f32);
            each(&mut |i, delta| {
                state.m[i] = beta * state.m[i] + delta;
                global[i] + lr * state.m[i]
            })
        }
        ServerStep::Fedadam {
            learning_rate,
            beta1,
            beta2,
            tau,
        }
        | ServerStep::Fedyogi {
            learning_rate,
            beta1,
            beta2,
            tau,
        } => {
            let yogi = matches!(step, ServerStep::Fedyogi { .. });
            let (lr, b1, b2, tau) = (learning_rate as f32, beta1 as f32, beta2 as f32, tau as f32);
            each(&mut |i, delta| {
                let (m, v) = (&mut state.m[i], &mut state.v[i]);
                *m = b1 * *m + (1.0 - b1) * delta;
                let d2 = delta * delta;
                *v = if yogi {
                    *v - (1.0 - b2) * d2 * (*v - d2).signum()
                } else {
                    b2 * *v + (1.0 - b2) * d2
                };
                global[i] + lr * *m / (v.sqrt() + tau)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() <= 1e-6 * b.abs().max(1.0)
    }

    #[test]
    fn fedavg_takes_the_mean_and_keeps_no_state() {
        let step = ServerStep::Fedavg;
        let mut s = ServerState::fresh(&step, 2);
        assert_eq!(s, ServerState::default());
        assert_eq!(
            server_step(&step, &mut s, &[1.0, 2.0], &[3.0, 5.0], &[true, true]),
            [3.0, 5.0]
        );
    }

    /// By hand: rate 2, momentum 0.5. Round 1 Δ = 1, v = 1, global 0 + 2 = 2. Round 2 Δ = 0
    /// (mean = global), v = 0.5, global 2 + 1 = 3.
    #[test]
    fn fedavgm_carries_its_velocity() {
        let step = ServerStep::Fedavgm {
            learning_rate: 2.0,
            momentum: 0.5,
        };
        let mut s = ServerState::fresh(&step, 1);
        assert_eq!(server_step(&step, &mut s, &[0.0], &[1.0], &[true]), [2.0]);
        assert_eq!(server_step(&step, &mut s, &[2.0], &[2.0], &[true]), [3.0]);
        assert_eq!(s.m, [0.5]);
    }

    /// By hand, η 0.1, β₁ 0.9, β₂ 0.99, τ 0.01, global 1, mean 3 (Δ = 2):
    /// m = 0.1·2 = 0.2; v = 0.99·1e-4 + 0.01·4 = 0.040099; √v = 0.200247…;
    /// global = 1 + 0.1·0.2 / (0.200247 + 0.01) = 1.095127….
    /// Round 2 at the new global with mean = global (Δ = 0): m = 0.18, v = 0.039698,
    /// global += 0.1·0.18 / (0.199244 + 0.01) = 0.086025….
    #[test]
    fn fedadam_matches_the_hand_computed_steps() {
        let step = ServerStep::Fedadam {
            learning_rate: 0.1,
            beta1: 0.9,
            beta2: 0.99,
            tau: 0.01,
        };
        let mut s = ServerState::fresh(&step, 1);
        assert_eq!(s.v, [1e-4]);
        let g1 = server_step(&step, &mut s, &[1.0], &[3.0], &[true])[0];
        assert!(close(s.v[0], 0.040099), "{}", s.v[0]);
        let expected = 1.0 + 0.1 * 0.2 / (0.040099f64.sqrt() + 0.01);
        assert!(close(g1, expected as f32), "{g1} against {expected}");
        let g2 = server_step(&step, &mut s, &[g1], &[g1], &[true])[0];
        let v2 = 0.99 * 0.040099f64;
        let expected2 = expected + 0.1 * 0.18 / (v2.sqrt() + 0.01);
        assert!(close(g2, expected2 as f32), "{g2} against {expected2}");
    }

    /// Yogi's v moves by (1−β₂)Δ² towards Δ²: from τ² = 1e-4 below Δ² = 4 it grows by
    /// 0.01·4 = 0.04 (to 0.0401), where Adam's would be 0.040099; above Δ² it shrinks.
    #[test]
    fn fedyogi_moves_v_additively() {
        let step = ServerStep::Fedyogi {
            learning_rate: 0.1,
            beta1: 0.9,
            beta2: 0.99,
            tau: 0.01,
        };
        let mut s = ServerState::fresh(&step, 1);
        let g = server_step(&step, &mut s, &[1.0], &[3.0], &[true])[0];
        assert!(close(s.v[0], 0.0401), "{}", s.v[0]);
        let expected = 1.0 + 0.1 * 0.2 / (0.0401f64.sqrt() + 0.01);
        assert!(close(g, expected as f32));
        // Now Δ = 0.1 (Δ² = 0.01 < v): v shrinks by 0.01·0.01 to 0.0400.
        server_step(&step, &mut s, &[g], &[g + 0.1], &[true]);
        assert!(close(s.v[0], 0.0400), "{}", s.v[0]);
    }

    #[test]
    fn statistics_take_the_mean_under_every_step() {
        for step in [
            ServerStep::Fedavgm {
                learning_rate: 3.0,
                momentum: 0.9,
            },
            ServerStep::Fedadam {
                learning_rate: 0.1,
                beta1: 0.9,
                beta2: 0.99,
                tau: 0.001,
            },
        ] {
            let mut s = ServerState::fresh(&step, 2);
            let next = server_step(&step, &mut s, &[1.0, 1.0], &[2.0, 0.25], &[true, false]);
            assert_eq!(next[1], 0.25, "{step:?}");
            assert_ne!(next[0], 2.0, "{step:?}");
            assert_eq!(s.m[1], 0.0);
        }
    }

    #[test]
    fn state_round_trips_and_names_its_step() {
        let step = ServerStep::Fedyogi {
            learning_rate: 0.1,
            beta1: 0.9,
            beta2: 0.99,
            tau: 0.01,
        };
        let s = ServerState {
            m: vec![1.5, -2.0],
            v: vec![0.25, 4.0],
        };
        let bytes = s.to_safetensors(&step);
        assert_eq!(ServerState::from_safetensors(&bytes, &step), Some(s));
        let other = ServerStep::Fedavgm {
            learning_rate: 1.0,
            momentum: 0.9,
        };
        assert_eq!(ServerState::from_safetensors(&bytes, &other), None);
        assert_eq!(ServerState::from_safetensors(b"junk", &step), None);
    }

    #[test]
    fn a_state_of_another_step_does_not_fit() {
        let adam = ServerStep::Fedadam {
            learning_rate: 0.1,
            beta1: 0.9,
            beta2: 0.99,
            tau: 0.001,
        };
        let momentum = ServerStep::Fedavgm {
            learning_rate: 1.0,
            momentum: 0.9,
        };
        let s = ServerState::fresh(&momentum, 3);
        assert!(s.fits(&momentum, 3));
        assert!(!s.fits(&adam, 3));
        assert!(!s.fits(&momentum, 4));
    }
}
