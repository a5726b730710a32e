//! What each upload's `num_examples` may weigh in FedAvg. A participant declares its own
//! count: uncapped, one upload claiming 10^9 examples (the most an upload may state) would be
//! the round's model. At the close every declared count is cut to the plan's `max_num_examples`, or where the plan sets
//! none, to [`MEDIAN_RATIO`] × the round's median (the lower median, so that with two uploads
//! the smaller sets the cap).

/// The default cap, in medians of the round's declared counts.
pub const MEDIAN_RATIO: u64 = 10;

/// The weights `declared` counts carry: each at most `max`, or without one at most
/// [`MEDIAN_RATIO`] × the lower median (at least 1).
pub fn capped(declared: &[u64], max: Option<u64>) -> Vec<u64> {
    let cap = match max {
        Some(max) => max.max(1),
        None => {
            let mut sorted = declared.to_vec();
            sorted.sort_unstable();
            let lower_median = sorted
                .get(sorted.len().saturating_sub(1) / 2)
                .copied()
                .unwrap_or(1);
            lower_median.max(1).saturating_mul(MEDIAN_RATIO)
        }
    };
    declared.iter().map(|&n| n.min(cap)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_claim_weighs_at_most_ten_medians() {
        assert_eq!(capped(&[10, 12, 1_000_000_000_000], None), [10, 12, 120]);
        // Two uploads: the smaller count sets the cap.
        assert_eq!(capped(&[10, u64::MAX], None), [10, 100]);
        // Honest counts within 10× of each other are untouched.
        assert_eq!(capped(&[5, 15, 25, 45], None), [5, 15, 25, 45]);
        assert_eq!(capped(&[0, 0, 7], None), [0, 0, 7]);
        assert!(capped(&[], None).is_empty());
    }

    #[test]
    fn the_plans_cap_replaces_the_median_rule() {
        assert_eq!(capped(&[10, 12, 1_000], Some(11)), [10, 11, 11]);
        assert_eq!(capped(&[3, 4], Some(0)), [1, 1]);
        assert_eq!(capped(&[10, 10_000], Some(1_000_000)), [10, 10_000]);
    }
}
