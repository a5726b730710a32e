//! Time formatting without a clock: callers pass Unix milliseconds (the Worker reads
//! `Date.now()`, native code `SystemTime`), so this stays pure and testable.

/// Formats Unix milliseconds as an RFC 3339 UTC timestamp with millisecond precision,
/// e.g. `2024-01-01T00:00:00.000Z`. Times before 1970 are clamped to the epoch.
pub fn rfc3339_from_unix_ms(unix_ms: i64) -> String {
    let ms = unix_ms.max(0);
    let secs = ms / 1000;
    let millis = ms % 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_epoch() {
        assert_eq!(rfc3339_from_unix_ms(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn formats_the_seed_example_and_a_leap_day() {
        // 1640995200 is the `iat` in seed 003's JWT example.
        assert_eq!(
            rfc3339_from_unix_ms(1_640_995_200_000),
            "2022-01-01T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339_from_unix_ms(951_782_400_123),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            rfc3339_from_unix_ms(4_102_444_799_999),
            "2099-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn clamps_negative_times() {
        assert_eq!(rfc3339_from_unix_ms(-5), "1970-01-01T00:00:00.000Z");
    }
}
