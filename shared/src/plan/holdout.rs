//! The plan's split rule on a participant's own (brain-cropped) volume: training sees the
//! first part along the axis, validation scores the last `fraction`. The validation input
//! carries `context` voxels of the training side too, so the receptive field at the border
//! sees real anatomy, but only held-out voxels are scored.

use super::Holdout;
use crate::volume::{CropBox, Labels, Volume};

/// A participant's data as the plan splits it.
#[derive(Debug, Clone)]
pub struct HeldOut {
    pub train_volume: Volume,
    pub train_labels: Labels,
    /// `None` when the plan holds nothing out (or the volume is too thin to split).
    pub validation: Option<Validation>,
}

#[derive(Debug, Clone)]
pub struct Validation {
    /// The held-out slab plus `context` voxels before it along the axis.
    pub volume: Volume,
    /// The labels of the held-out slab only.
    pub labels: Labels,
    /// Where the held-out slab starts inside `volume`, as a box of `volume`.
    pub scored: CropBox,
}

impl Holdout {
    /// Where a grid of `n` slices along the axis splits: training keeps `0..cut`, the rest is
    /// held out. At least one slice stays on each side; `None` when nothing is held out.
    pub fn cut(&self, n: usize) -> Option<usize> {
        let held = ((n as f64) * self.fraction).round() as usize;
        (held > 0 && n >= 2).then(|| n - held.min(n - 1))
    }

    /// Splits `volume`/`labels` (one grid) at [`Holdout::cut`].
    pub fn split(&self, volume: &Volume, labels: &Labels, context: usize) -> HeldOut {
        let a = self.axis.index();
        let n = volume.dims[a];
        let Some(cut) = self.cut(n) else {
            return HeldOut {
                train_volume: volume.clone(),
                train_labels: labels.clone(),
                validation: None,
            };
        };
        let along = |lo: usize, hi: usize| {
            let mut b = CropBox::all(volume.dims);
            b.lo[a] = lo;
            b.hi[a] = hi;
            b
        };
        let train = along(0, cut);
        let start = cut.saturating_sub(context);
        let input = along(start, n);
        let mut scored = CropBox::all(input.dims());
        scored.lo[a] = cut - start;
        HeldOut {
            train_volume: train.crop(volume),
            train_labels: train.crop(labels),
            validation: Some(Validation {
                volume: input.crop(volume),
                labels: along(cut, n).crop(labels),
                scored,
            }),
        }
    }
}

/// The received global model on a participant's held-out voxels.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ValidationScore {
    /// Mean cross-entropy over the held-out voxels.
    pub loss: f64,
    /// Dice of each class `0..classes` (`None`: absent from prediction and labels).
    pub dice: Vec<Option<f64>>,
}

impl ValidationScore {
    /// The foreground classes' Dice (1..), as an upload reports them.
    pub fn foreground(&self) -> Vec<Option<f64>> {
        self.dice.iter().skip(1).copied().collect()
    }
}

impl Validation {
    /// Scores `logits` of the whole validation input, laid out `[classes, x, y, z]` (a burn
    /// output `[1, C, X, Y, Z]` read back), on the held-out voxels only.
    pub fn score(&self, logits: &[f32], classes: usize) -> ValidationScore {
        let dims = self.volume.dims;
        let per_class: usize = dims.iter().product();
        assert_eq!(
            logits.len(),
            classes * per_class,
            "logits of the validation input"
        );
        let b = self.scored;
        let (mut predicted, mut loss, mut i) = (vec![0u8; self.labels.data.len()], 0.0f64, 0);
        for x in b.lo[0]..b.hi[0] {
            for y in b.lo[1]..b.hi[1] {
                for z in b.lo[2]..b.hi[2] {
                    let at = self.volume.index(x, y, z);
                    let row = (0..classes).map(|c| logits[c * per_class + at]);
                    let top = row.clone().fold(f32::NEG_INFINITY, f32::max);
                    let sum: f64 = row.clone().map(|l| ((l - top) as f64).exp()).sum();
                    let truth = self.labels.data[i] as usize;
                    loss += sum.ln() - (logits[truth * per_class + at] - top) as f64;
                    predicted[i] = row
                        .enumerate()
                        .fold((0, f32::NEG_INFINITY), |best, (c, l)| {
                            if l > best.1 {
                                (c, l)
                            } else {
                                best
                            }
                        })
                        .0 as u8;
                    i += 1;
                }
            }
        }
        ValidationScore {
            loss: loss / i.max(1) as f64,
            dice: crate::volume::dice_per_class(&predicted, &self.labels.data, classes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Axis;
    use super::*;
    use crate::volume::Grid;

    fn grid(dims: [usize; 3]) -> (Volume, Labels) {
        let n: usize = dims.iter().product();
        let v = Grid::new(dims, (0..n).map(|i| i as f32).collect()).unwrap();
        let l = Grid::new(dims, (0..n).map(|i| (i % 3) as u8).collect()).unwrap();
        (v, l)
    }

    #[test]
    fn the_last_fraction_is_held_out_with_context_before_it() {
        let (v, l) = grid([10, 4, 3]);
        let rule = Holdout {
            axis: Axis::X,
            fraction: 0.3,
        };
        let s = rule.split(&v, &l, 2);
        assert_eq!(s.train_volume.dims, [7, 4, 3]);
        let val = s.validation.unwrap();
        assert_eq!(val.volume.dims, [5, 4, 3], "3 held out + 2 of context");
        assert_eq!(val.labels.dims, [3, 4, 3]);
        assert_eq!(val.scored.lo, [2, 0, 0]);
        assert_eq!(
            val.scored.crop(&val.volume).data,
            CropBox {
                lo: [7, 0, 0],
                hi: [10, 4, 3]
            }
            .crop(&v)
            .data
        );
        // Training and scored voxels never overlap: the first scored voxel is x = 7.
        assert_eq!(
            val.scored.crop(&val.volume).data[0],
            v.data[v.index(7, 0, 0)]
        );
        assert!(s
            .train_volume
            .data
            .iter()
            .all(|&x| x < v.data[v.index(7, 0, 0)]));
    }

    /// Two classes, a 3×1×1 input whose last 2 voxels are held out (1 of context): the
    /// context voxel's wrong, confident logit does not count.
    #[test]
    fn scores_only_held_out_voxels() {
        let v = Grid::new([3, 1, 1], vec![0.0; 3]).unwrap();
        let l = Grid::new([3, 1, 1], vec![0u8, 1, 0]).unwrap();
        let rule = Holdout {
            axis: Axis::X,
            fraction: 0.67,
        };
        let val = rule.split(&v, &l, 1).validation.unwrap();
        assert_eq!(val.labels.data, [1, 0]);
        // Class 0 logits then class 1 logits over x = 0, 1, 2 of the input.
        let logits = [9.0, 0.0, 2.0, -9.0, 0.0, 0.0];
        let s = val.score(&logits, 2);
        // x=1: a tie (argmax 0), label 1, loss ln 2; x=2: 2 vs 0, label 0, loss ln(1 + e⁻²).
        let expected = (2f64.ln() + (1.0 + (-2f64).exp()).ln()) / 2.0;
        assert!((s.loss - expected).abs() < 1e-9, "{}", s.loss);
        assert_eq!(s.dice, vec![Some(2.0 / 3.0), Some(0.0)]);
        assert_eq!(s.foreground(), vec![Some(0.0)]);
    }

    #[test]
    fn other_axes_and_no_holdout() {
        let (v, l) = grid([4, 6, 5]);
        let s = Holdout {
            axis: Axis::Z,
            fraction: 0.4,
        }
        .split(&v, &l, 10);
        assert_eq!(s.train_volume.dims, [4, 6, 3]);
        let val = s.validation.unwrap();
        assert_eq!(val.volume.dims, [4, 6, 5], "context clipped to the volume");
        assert_eq!(val.scored.lo, [0, 0, 3]);
        let none = Holdout {
            axis: Axis::Y,
            fraction: 0.0,
        }
        .split(&v, &l, 2);
        assert!(none.validation.is_none());
        assert_eq!(none.train_volume.dims, [4, 6, 5]);
        // A fraction that rounds to everything still leaves one slice to train on.
        let thin = Holdout {
            axis: Axis::X,
            fraction: 0.9,
        }
        .split(&v, &l, 0);
        assert_eq!(thin.train_volume.dims, [1, 6, 5]);
    }
}
