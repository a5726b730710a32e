//! No round's global model may be one clinic's weights: a round publishes its aggregate only
//! once at least `min_contributors` participants have uploaded to it. The default is 2 (or
//! the run's size, if smaller); a run may ask for more, up to its size, and for 1 only when it
//! has a single participant. Deactivating participants never lowers the bar: the round waits.

use crate::ApiError;

/// `min_contributors` when a run leaves it out.
pub const DEFAULT_MIN_CONTRIBUTORS: u32 = 2;

/// Uploads a round of a run with `participants` needs before it may close.
pub fn contributors_needed(setting: Option<u32>, participants: usize) -> usize {
    let wanted = setting.unwrap_or(DEFAULT_MIN_CONTRIBUTORS) as usize;
    wanted.min(participants).max(1)
}

/// A run's `min_contributors` setting checked against its size.
pub fn check_min_contributors(k: u32, participants: usize) -> Result<(), ApiError> {
    let allowed = if participants <= 1 {
        k == 1
    } else {
        (2..=participants as u64).contains(&(k as u64))
    };
    if allowed {
        return Ok(());
    }
    let reason = if participants <= 1 {
        "must be 1 in a run of one participant".to_string()
    } else {
        let range = match participants {
            2 => "2".to_string(),
            n => format!("2 to {n}"),
        };
        format!(
            "must be {range}: a round closed on one upload would publish one participant's \
             weights as the global model"
        )
    };
    Err(ApiError::invalid_field("min_contributors", reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_by_default_and_never_more_than_the_run() {
        assert_eq!(contributors_needed(None, 5), 2);
        assert_eq!(contributors_needed(None, 2), 2);
        assert_eq!(contributors_needed(None, 1), 1);
        assert_eq!(contributors_needed(Some(4), 5), 4);
        assert_eq!(contributors_needed(Some(9), 3), 3);
    }

    #[test]
    fn one_only_in_a_run_of_one() {
        assert!(check_min_contributors(1, 1).is_ok());
        assert!(check_min_contributors(2, 1).is_err());
        for bad in [0, 1, 4] {
            let err = check_min_contributors(bad, 3).unwrap_err();
            assert_eq!(err.details.unwrap()["field"], "min_contributors", "{bad}");
        }
        assert!(check_min_contributors(2, 3).is_ok() && check_min_contributors(3, 3).is_ok());
    }
}
