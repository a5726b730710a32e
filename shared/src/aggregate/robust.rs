//! Coordinate-wise median and trimmed mean. Both need every upload at once: O(N·P) memory for
//! the inputs plus O(N) scratch, O(P·N log N) time. Neither uses `num_examples`, so one
//! participant claiming a huge count cannot dominate (that is their point).

use super::Method;

/// The aggregate of `uploads` (each P values) by `method`; `trim_fraction` is used by
/// [`Method::TrimmedMean`] only (clamped below 0.5 so at least one value survives). For the
/// streaming methods this is the unweighted mean. Returns `None` without uploads.
pub fn coordinatewise(uploads: &[&[f32]], method: Method, trim_fraction: f64) -> Option<Vec<f32>> {
    let n = uploads.len();
    let p = uploads.first()?.len();
    assert!(
        uploads.iter().all(|u| u.len() == p),
        "upload lengths differ"
    );
    let trim = match method {
        Method::TrimmedMean => {
            ((trim_fraction.clamp(0.0, 0.4999) * n as f64).floor() as usize).min((n - 1) / 2)
        }
        _ => 0,
    };
    let mut column = vec![0f32; n];
    let mut out = Vec::with_capacity(p);
    for i in 0..p {
        for (c, u) in column.iter_mut().zip(uploads) {
            *c = u[i];
        }
        let value = match method {
            Method::Median => {
                column.sort_unstable_by(f32::total_cmp);
                if n % 2 == 1 {
                    column[n / 2] as f64
                } else {
                    (column[n / 2 - 1] as f64 + column[n / 2] as f64) / 2.0
                }
            }
            Method::TrimmedMean => {
                column.sort_unstable_by(f32::total_cmp);
                let kept = &column[trim..n - trim];
                kept.iter().map(|&v| v as f64).sum::<f64>() / kept.len() as f64
            }
            Method::Fedavg | Method::Mean => {
                column.iter().map(|&v| v as f64).sum::<f64>() / n as f64
            }
        };
        out.push(value as f32);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_and_even() {
        let ups: [&[f32]; 3] = [&[1.0, -5.0], &[100.0, 0.0], &[3.0, 2.0]];
        assert_eq!(
            coordinatewise(&ups, Method::Median, 0.0),
            Some(vec![3.0, 0.0])
        );
        let ups: [&[f32]; 4] = [&[1.0], &[100.0], &[3.0], &[2.0]];
        assert_eq!(coordinatewise(&ups, Method::Median, 0.0), Some(vec![2.5]));
    }

    #[test]
    fn trimmed_mean_drops_outliers() {
        let ups: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32]).collect();
        let mut with_outliers = ups.clone();
        with_outliers[0] = vec![-1e6];
        with_outliers[9] = vec![1e6];
        let refs: Vec<&[f32]> = with_outliers.iter().map(|v| v.as_slice()).collect();
        // 10% of 10 = 1 from each end: mean of 1..=8.
        assert_eq!(
            coordinatewise(&refs, Method::TrimmedMean, 0.1),
            Some(vec![4.5])
        );
        // No trimming is the plain mean, which the outliers wreck.
        assert_eq!(
            coordinatewise(&refs, Method::TrimmedMean, 0.0),
            Some(vec![(1e6 - 1e6 + 36.0) / 10.0])
        );
        // An extreme fraction still keeps the middle value(s).
        assert_eq!(
            coordinatewise(&refs, Method::TrimmedMean, 0.9),
            Some(vec![4.5])
        );
        let three: [&[f32]; 3] = [&[1.0], &[2.0], &[30.0]];
        assert_eq!(
            coordinatewise(&three, Method::TrimmedMean, 0.49),
            Some(vec![2.0])
        );
    }

    #[test]
    fn independent_of_upload_order_and_empty() {
        let a = crate::aggregate::tests::values(4, 64, 1.0);
        let b = crate::aggregate::tests::values(5, 64, 1.0);
        let c = crate::aggregate::tests::values(6, 64, 1.0);
        for m in [Method::Median, Method::TrimmedMean, Method::Mean] {
            let x = coordinatewise(&[&a, &b, &c], m, 0.34);
            let y = coordinatewise(&[&c, &a, &b], m, 0.34);
            assert_eq!(x, y, "{m:?}");
        }
        assert_eq!(coordinatewise(&[], Method::Median, 0.0), None);
    }
}
