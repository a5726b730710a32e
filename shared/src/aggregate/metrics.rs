//! A round's metrics: how many uploads and examples, and the means of the uploads' reported
//! loss and Dice weighted by their `num_examples`. Kept as running sums like the weights.

use serde::{Deserialize, Serialize};

/// What one upload reports alongside its tensors.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct UploadMetrics {
    pub num_examples: u64,
    pub loss: Option<f64>,
    pub dice: Option<f64>,
}

/// The round's summary as shown in a run's history.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RoundMetrics {
    pub uploads: u64,
    pub num_examples: u64,
    pub loss: Option<f64>,
    pub dice: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSums {
    uploads: u64,
    examples: u64,
    loss: (f64, f64),
    dice: (f64, f64),
}

impl MetricSums {
    pub fn add(&mut self, m: &UploadMetrics) {
        self.apply(m, 1.0);
    }

    pub fn remove(&mut self, m: &UploadMetrics) {
        self.apply(m, -1.0);
    }

    fn apply(&mut self, m: &UploadMetrics, sign: f64) {
        let w = m.num_examples.max(1) as f64 * sign;
        if sign > 0.0 {
            self.uploads += 1;
            self.examples += m.num_examples;
        } else {
            self.uploads = self.uploads.saturating_sub(1);
            self.examples = self.examples.saturating_sub(m.num_examples);
        }
        if let Some(l) = m.loss {
            self.loss.0 += w * l;
            self.loss.1 += w;
        }
        if let Some(d) = m.dice {
            self.dice.0 += w * d;
            self.dice.1 += w;
        }
    }

    pub fn summary(&self) -> RoundMetrics {
        let mean = |(s, w): (f64, f64)| (w > 0.5).then(|| s / w);
        RoundMetrics {
            uploads: self.uploads,
            num_examples: self.examples,
            loss: mean(self.loss),
            dice: mean(self.dice),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_by_examples_and_replaceable() {
        let a = UploadMetrics {
            num_examples: 30,
            loss: Some(1.0),
            dice: Some(0.5),
        };
        let b = UploadMetrics {
            num_examples: 10,
            loss: Some(3.0),
            dice: None,
        };
        let mut s = MetricSums::default();
        s.add(&a);
        s.add(&b);
        let m = s.summary();
        assert_eq!((m.uploads, m.num_examples), (2, 40));
        assert!((m.loss.unwrap() - 1.5).abs() < 1e-12);
        assert_eq!(m.dice, Some(0.5));
        s.remove(&b);
        assert_eq!(s.summary().loss, Some(1.0));
        s.remove(&a);
        assert_eq!(s.summary(), RoundMetrics::default());
    }
}
