//! The server's step after averaging (FedAvgM, Hsu et al. 2019): the mean of a round's
//! uploads minus the current global model is a pseudo-gradient; the server moves the global
//! model along it with its own learning rate and momentum. With learning rate 1 and momentum
//! 0 this is plain FedAvg (the new global model is the mean).
//!
//! A learning rate above 1 makes up for what averaging loses: sites that each take K Adam
//! steps move about K·lr per parameter, but where their directions disagree the mean moves
//! less. Running statistics (BatchNorm's `running_mean`/`running_var`) are measurements, not
//! trained parameters: they always take the plain mean, never an extrapolation (a variance
//! pushed past the mean can turn negative).

/// Why a server step cannot be set up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServerStepError {
    #[error("server learning rate must be finite and > 0, got {0}")]
    LearningRate(f64),
    #[error("server momentum must be in [0, 1), got {0}")]
    Momentum(f64),
}

/// The server optimizer's state across rounds: one velocity per parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerMomentum {
    learning_rate: f32,
    momentum: f32,
    velocity: Vec<f32>,
}

impl ServerMomentum {
    pub fn new(
        parameters: usize,
        learning_rate: f64,
        momentum: f64,
    ) -> Result<Self, ServerStepError> {
        if !(learning_rate.is_finite() && learning_rate > 0.0) {
            return Err(ServerStepError::LearningRate(learning_rate));
        }
        if !(0.0..1.0).contains(&momentum) {
            return Err(ServerStepError::Momentum(momentum));
        }
        Ok(Self {
            learning_rate: learning_rate as f32,
            momentum: momentum as f32,
            velocity: vec![0.0; parameters],
        })
    }

    /// The next global model from the current `global` and the round's `mean`. Entries where
    /// `trainable` is false (running statistics) take `mean` as it is. Panics if the lengths
    /// differ: callers check uploads against the model first.
    pub fn step(&mut self, global: &[f32], mean: &[f32], trainable: &[bool]) -> Vec<f32> {
        assert_eq!(global.len(), self.velocity.len(), "global model length");
        assert_eq!(mean.len(), self.velocity.len(), "mean length");
        assert_eq!(trainable.len(), self.velocity.len(), "mask length");
        let (lr, beta) = (self.learning_rate, self.momentum);
        global
            .iter()
            .zip(mean)
            .zip(trainable)
            .zip(&mut self.velocity)
            .map(|(((&g, &m), &t), v)| {
                if !t {
                    return m;
                }
                *v = beta * *v + (m - g);
                g + lr * *v
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_one_without_momentum_is_plain_fedavg() {
        let mut s = ServerMomentum::new(3, 1.0, 0.0).unwrap();
        let mean = [0.5, -2.0, 3.0];
        assert_eq!(s.step(&[1.0, 1.0, 1.0], &mean, &[true; 3]), mean);
        assert_eq!(s.step(&mean, &[0.0, 0.0, 0.0], &[true; 3]), [0.0; 3]);
    }

    #[test]
    fn the_rate_scales_the_move_and_momentum_carries_it() {
        let mut s = ServerMomentum::new(1, 2.0, 0.5).unwrap();
        // Round 1: v = 1, global 0 + 2·1.
        assert_eq!(s.step(&[0.0], &[1.0], &[true]), [2.0]);
        // Round 2: the mean equals the global model, v = 0.5·1 + 0: it still moves by 1.
        assert_eq!(s.step(&[2.0], &[2.0], &[true]), [3.0]);
    }

    #[test]
    fn statistics_take_the_mean_and_keep_no_velocity() {
        let mut s = ServerMomentum::new(2, 3.0, 0.9).unwrap();
        let next = s.step(&[1.0, 1.0], &[2.0, 0.25], &[true, false]);
        assert_eq!(next, [4.0, 0.25]);
        assert_eq!(s.velocity, [1.0, 0.0]);
    }

    #[test]
    fn bad_settings_are_refused() {
        assert_eq!(
            ServerMomentum::new(1, 0.0, 0.0),
            Err(ServerStepError::LearningRate(0.0))
        );
        assert!(ServerMomentum::new(1, f64::NAN, 0.0).is_err());
        assert_eq!(
            ServerMomentum::new(1, 1.0, 1.0),
            Err(ServerStepError::Momentum(1.0))
        );
        assert!(ServerMomentum::new(1, 1.0, -0.1).is_err());
    }
}
