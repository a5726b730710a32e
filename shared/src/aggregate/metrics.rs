//! A round's metrics: how many uploads and examples, and the means of the uploads' reported
//! training loss and Dice and federated validation (the received global model scored on each
//! participant's held-out part: loss and Dice per foreground class), weighted by their
//! `num_examples`. Kept as running sums like the weights.

use serde::{Deserialize, Serialize};

/// What one upload reports alongside its tensors.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UploadMetrics {
    pub num_examples: u64,
    pub loss: Option<f64>,
    pub dice: Option<f64>,
    /// Validation loss of the round's global model on the participant's held-out part.
    #[serde(default)]
    pub val_loss: Option<f64>,
    /// Its Dice per foreground class (1, 2, …); `None` for a class absent there.
    #[serde(default)]
    pub val_dice: Option<Vec<Option<f64>>>,
}

/// The round's summary as shown in a run's history.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoundMetrics {
    pub uploads: u64,
    pub num_examples: u64,
    pub loss: Option<f64>,
    pub dice: Option<f64>,
    /// Federated validation: the example-weighted mean over the uploads that reported it.
    #[serde(default)]
    pub val_loss: Option<f64>,
    /// The mean over foreground classes of `val_dice_per_class`.
    #[serde(default)]
    pub val_dice: Option<f64>,
    #[serde(default)]
    pub val_dice_per_class: Vec<Option<f64>>,
}

/// Σ w·x and Σ w of one figure.
type Sum = (f64, f64);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSums {
    uploads: u64,
    examples: u64,
    loss: Sum,
    dice: Sum,
    val_loss: Sum,
    val_classes: Vec<Sum>,
}

impl MetricSums {
    /// Counts one upload. There is no `remove`: a replaced upload's sums are rebuilt from the
    /// uploads that count, since subtracting in floating point can erase the others.
    pub fn add(&mut self, m: &UploadMetrics) {
        let w = m.num_examples.max(1) as f64;
        self.uploads += 1;
        self.examples += m.num_examples;
        let add = |sum: &mut Sum, x: Option<f64>| {
            if let Some(x) = x {
                sum.0 += w * x;
                sum.1 += w;
            }
        };
        add(&mut self.loss, m.loss);
        add(&mut self.dice, m.dice);
        add(&mut self.val_loss, m.val_loss);
        let classes = m.val_dice.as_deref().unwrap_or_default();
        if self.val_classes.len() < classes.len() {
            self.val_classes.resize(classes.len(), (0.0, 0.0));
        }
        for (sum, &d) in self.val_classes.iter_mut().zip(classes) {
            add(sum, d);
        }
    }

    pub fn summary(&self) -> RoundMetrics {
        let mean = |(s, w): Sum| (w > 0.5).then(|| s / w);
        let per_class: Vec<Option<f64>> = self.val_classes.iter().map(|&s| mean(s)).collect();
        let (val_dice, val_dice_per_class) = validation_dice(per_class);
        RoundMetrics {
            uploads: self.uploads,
            num_examples: self.examples,
            loss: mean(self.loss),
            dice: mean(self.dice),
            val_loss: mean(self.val_loss),
            val_dice,
            val_dice_per_class,
        }
    }
}

/// A round's validation Dice from its per-class means: their mean over the classes present
/// anywhere, and the per-class list (empty when no class was present).
pub fn validation_dice(per_class: Vec<Option<f64>>) -> (Option<f64>, Vec<Option<f64>>) {
    let present: Vec<f64> = per_class.iter().flatten().copied().collect();
    if present.is_empty() {
        return (None, vec![]);
    }
    let mean = present.iter().sum::<f64>() / present.len() as f64;
    (Some(mean), per_class)
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
            ..UploadMetrics::default()
        };
        let b = UploadMetrics {
            num_examples: 10,
            loss: Some(3.0),
            dice: None,
            ..UploadMetrics::default()
        };
        let mut s = MetricSums::default();
        s.add(&a);
        s.add(&b);
        let m = s.summary();
        assert_eq!((m.uploads, m.num_examples), (2, 40));
        assert!((m.loss.unwrap() - 1.5).abs() < 1e-12);
        assert_eq!(m.dice, Some(0.5));
        assert_eq!(m.val_dice, None);
        let mut only_a = MetricSums::default();
        only_a.add(&a);
        assert_eq!(only_a.summary().loss, Some(1.0));
        assert_eq!(MetricSums::default().summary(), RoundMetrics::default());
    }

    /// By hand: site a (30 examples) WM 0.9 GM 0.8, site b (10) WM 0.5 and no GM:
    /// WM (27 + 5) / 40 = 0.8, GM 0.8 (a alone), mean 0.8; loss (30·0.2 + 10·0.6)/40 = 0.3.
    #[test]
    fn validation_is_weighted_per_class() {
        let a = UploadMetrics {
            num_examples: 30,
            val_loss: Some(0.2),
            val_dice: Some(vec![Some(0.9), Some(0.8)]),
            ..UploadMetrics::default()
        };
        let b = UploadMetrics {
            num_examples: 10,
            val_loss: Some(0.6),
            val_dice: Some(vec![Some(0.5), None]),
            ..UploadMetrics::default()
        };
        let mut s = MetricSums::default();
        s.add(&a);
        s.add(&b);
        let m = s.summary();
        let near = |x: Option<f64>, y: f64| (x.unwrap() - y).abs() < 1e-12;
        assert!(near(m.val_loss, 0.3));
        assert!(near(m.val_dice_per_class[0], 0.8));
        assert!(near(m.val_dice_per_class[1], 0.8));
        assert!(near(m.val_dice, 0.8));
        let mut only_b = MetricSums::default();
        only_b.add(&b);
        let m = only_b.summary();
        assert_eq!(m.val_dice_per_class, vec![Some(0.5), None]);
        assert!(near(m.val_dice, 0.5));
    }
}
