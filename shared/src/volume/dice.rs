//! Dice overlap per class between a prediction and a reference label map.

/// Dice of each class `0..classes`: `2|P∩T| / (|P| + |T|)`, `None` for a class absent from
/// both.
pub fn dice_per_class(predicted: &[u8], truth: &[u8], classes: usize) -> Vec<Option<f64>> {
    let mut inter = vec![0usize; classes];
    let mut p = vec![0usize; classes];
    let mut t = vec![0usize; classes];
    for (&a, &b) in predicted.iter().zip(truth) {
        let (a, b) = (a as usize, b as usize);
        if a < classes {
            p[a] += 1;
        }
        if b < classes {
            t[b] += 1;
            if a == b {
                inter[a] += 1;
            }
        }
    }
    (0..classes)
        .map(|c| (p[c] + t[c] > 0).then(|| 2.0 * inter[c] as f64 / (p[c] + t[c]) as f64))
        .collect()
}

/// The mean Dice over the foreground classes `1..classes` present in either map.
pub fn mean_dice(predicted: &[u8], truth: &[u8], classes: usize) -> f64 {
    let d: Vec<f64> = dice_per_class(predicted, truth, classes)
        .into_iter()
        .skip(1)
        .flatten()
        .collect();
    if d.is_empty() {
        0.0
    } else {
        d.iter().sum::<f64>() / d.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_counts_overlap_per_class() {
        let p = [0, 1, 1, 2, 2, 2];
        let t = [0, 1, 2, 2, 2, 0];
        let d = dice_per_class(&p, &t, 4);
        assert_eq!(d[1], Some(2.0 * 1.0 / 3.0));
        assert_eq!(d[2], Some(2.0 * 2.0 / 6.0));
        assert_eq!(d[3], None);
        assert!((mean_dice(&p, &t, 4) - (2.0 / 3.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(mean_dice(&t, &t, 3), 1.0);
    }
}
