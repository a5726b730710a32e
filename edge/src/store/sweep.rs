//! Deleting what has expired, hourly (`crate::housekeeping`): emailed codes, challenge
//! sessions, refresh tokens and denied token ids past their expiry (an expired one is refused
//! whether or not its row exists, and a resend inherits attempts only from live codes), and
//! rate-limit windows long closed. (Uploads in parts left unfinished are swept by
//! `runs::sweep_abandoned`, which aborts their R2 multipart uploads first.)

use worker::query;
use worker::D1Database;

use super::changed_rows;
use crate::error::EdgeResult;

/// A row count per table, in the order of [`TABLES`].
pub type TableRows = Vec<(&'static str, usize)>;

/// What a table's cutoff counts in.
#[derive(Clone, Copy)]
enum Cutoff {
    /// `expires_at` in Unix milliseconds.
    ExpiryMs,
    /// A rate-limit window's start in Unix seconds.
    WindowStartSecs,
}

const TABLES: [(&str, &str, Cutoff); 5] = [
    (
        "email_codes",
        "DELETE FROM email_codes WHERE expires_at < ?1",
        Cutoff::ExpiryMs,
    ),
    (
        "challenge_sessions",
        "DELETE FROM challenge_sessions WHERE expires_at < ?1",
        Cutoff::ExpiryMs,
    ),
    (
        "refresh_tokens",
        "DELETE FROM refresh_tokens WHERE expires_at < ?1",
        Cutoff::ExpiryMs,
    ),
    (
        "denied_jtis",
        "DELETE FROM denied_jtis WHERE expires_at < ?1",
        Cutoff::ExpiryMs,
    ),
    (
        "rate_limits",
        "DELETE FROM rate_limits WHERE window_start < ?1",
        Cutoff::WindowStartSecs,
    ),
];

/// Deletes what expired before `now_ms` and rate-limit windows that started more than
/// `window_horizon_secs` before it (longer than any rule's window); the rows deleted.
pub async fn expired(
    db: &D1Database,
    now_ms: i64,
    window_horizon_secs: i64,
) -> EdgeResult<TableRows> {
    let mut swept = Vec::with_capacity(TABLES.len());
    for (table, sql, cutoff) in TABLES {
        let before = match cutoff {
            Cutoff::ExpiryMs => now_ms,
            Cutoff::WindowStartSecs => now_ms / 1000 - window_horizon_secs,
        };
        let statement = query!(&db, sql, before)?;
        swept.push((table, changed_rows(statement).await?));
    }
    Ok(swept)
}

/// Rows per table, for the development route that shows what the sweep leaves.
pub async fn counts(db: &D1Database) -> EdgeResult<TableRows> {
    #[derive(serde::Deserialize)]
    struct Count {
        n: usize,
    }
    let mut out = Vec::new();
    for (table, _, _) in TABLES {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        let row: Option<Count> = db.prepare(&sql).first(None).await?;
        out.push((table, row.map_or(0, |c| c.n)));
    }
    // Abandoned uploads in parts are swept too (`runs::sweep_abandoned`, which aborts them).
    let row: Option<Count> = db
        .prepare("SELECT COUNT(*) AS n FROM part_uploads")
        .first(None)
        .await?;
    out.push(("part_uploads", row.map_or(0, |c| c.n)));
    Ok(out)
}
