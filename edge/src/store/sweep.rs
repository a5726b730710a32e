//! Deleting what has expired, hourly (`crate::housekeeping`): emailed codes, challenge
//! sessions, refresh tokens and denied token ids past their expiry (an expired one is refused
//! whether or not its row exists, and a resend inherits attempts only from live codes), and
//! rate-limit windows long closed.

use worker::D1Database;

use super::changed_rows;
use crate::error::EdgeResult;

/// Rows deleted per table, in the order of [`TABLES`].
pub type Swept = [(&'static str, usize); 5];

const TABLES: [(&str, &str); 5] = [
    (
        "email_codes",
        "DELETE FROM email_codes WHERE expires_at < ?1",
    ),
    (
        "challenge_sessions",
        "DELETE FROM challenge_sessions WHERE expires_at < ?1",
    ),
    (
        "refresh_tokens",
        "DELETE FROM refresh_tokens WHERE expires_at < ?1",
    ),
    (
        "denied_jtis",
        "DELETE FROM denied_jtis WHERE expires_at < ?1",
    ),
    (
        "rate_limits",
        "DELETE FROM rate_limits WHERE window_start < ?1",
    ),
];

/// Deletes what expired before `now_ms` and rate-limit windows that started more than
/// `window_horizon_secs` before it (longer than any rule's window).
pub async fn expired(db: &D1Database, now_ms: i64, window_horizon_secs: i64) -> EdgeResult<Swept> {
    let before_secs = now_ms / 1000 - window_horizon_secs;
    let mut swept = TABLES.map(|(table, _)| (table, 0));
    for (i, (table, sql)) in TABLES.iter().enumerate() {
        // Rate-limit windows count in seconds, every expiry in milliseconds.
        let before = if *table == "rate_limits" {
            before_secs
        } else {
            now_ms
        };
        let statement = db.prepare(*sql).bind(&[(before as f64).into()])?;
        swept[i].1 = changed_rows(statement).await?;
    }
    Ok(swept)
}

/// Rows per table, for the development route that shows what the sweep leaves.
pub async fn counts(db: &D1Database) -> EdgeResult<Vec<(&'static str, usize)>> {
    #[derive(serde::Deserialize)]
    struct Count {
        n: usize,
    }
    let mut out = Vec::new();
    for (table, _) in TABLES {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        let row: Option<Count> = db.prepare(&sql).first(None).await?;
        out.push((table, row.map_or(0, |c| c.n)));
    }
    Ok(out)
}
