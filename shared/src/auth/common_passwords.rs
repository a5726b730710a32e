//! The common-password list (see `shared/data/README.md` for its source), shipped in the code
//! so the Worker and the app refuse the same passwords without a network look-up.

const LIST: &str = include_str!("../../data/common-passwords.txt");

/// Whether `password`, compared case-insensitively, is on the list. Binary search over the
/// sorted list: no allocation beyond the lower-cased password, no start-up cost.
pub fn is_common(password: &str) -> bool {
    let needle = password.to_lowercase();
    let list = LIST.as_bytes();
    let (mut lo, mut hi) = (0usize, list.len());
    // Binary search over line starts in the byte-sorted text; bytes, so a probe may land
    // inside a multi-byte character without harm.
    while lo < hi {
        let mid = (lo + hi) / 2;
        let start = list[..mid]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let end = list[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(list.len(), |i| start + i);
        match list[start..end].cmp(needle.as_bytes()) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
}

/// How many passwords the list holds.
pub fn len() -> usize {
    LIST.lines().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_large_sorted_and_lower_case() {
        assert!(len() >= 10_000, "{}", len());
        let lines: Vec<&str> = LIST.lines().collect();
        assert!(lines.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        assert!(lines
            .iter()
            .all(|l| *l == l.to_lowercase() && !l.is_empty()));
    }

    #[test]
    fn finds_every_listed_password_and_ignores_case() {
        for word in LIST.lines() {
            assert!(is_common(word), "{word}");
        }
        assert!(is_common("PassWord1"));
        assert!(is_common("QWERTY"));
    }

    #[test]
    fn misses_uncommon_passwords() {
        for pw in [
            "Xk7#mQ2v!pL9",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            "",
            "\u{1F600}",
        ] {
            assert!(!is_common(pw), "{pw}");
        }
    }
}
