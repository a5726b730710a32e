//! Fixed-window request counters (`rate_limits`), one row per bucket.

use serde::Deserialize;
use worker::query;
use worker::D1Database;

use crate::error::{EdgeError, EdgeResult};

/// A bucket's window and its count after a hit.
#[derive(Deserialize)]
pub struct Window {
    pub window_start: i64,
    pub count: u32,
}

/// Counts one request in `bucket`'s window starting at `start` (a new window starts at 1),
/// in one atomic upsert.
pub async fn hit(db: &D1Database, bucket: &str, start: i64) -> EdgeResult<Window> {
    let row: Option<Window> = query!(
        &db,
        "INSERT INTO rate_limits (bucket, window_start, count) VALUES (?1, ?2, 1) \
         ON CONFLICT(bucket) DO UPDATE SET \
           count = CASE WHEN rate_limits.window_start = excluded.window_start \
             THEN rate_limits.count + 1 ELSE 1 END, \
           window_start = excluded.window_start \
         RETURNING window_start, count",
        bucket,
        start
    )?
    .first(None)
    .await?;
    row.ok_or_else(|| EdgeError::Internal("rate limit upsert returned nothing".into()))
}

/// Takes back one request of the window starting at `start`; nothing once it has ended.
pub async fn take_back(db: &D1Database, bucket: &str, start: i64) -> EdgeResult<()> {
    query!(
        &db,
        "UPDATE rate_limits SET count = count - 1 \
         WHERE bucket = ?1 AND window_start = ?2 AND count > 0",
        bucket,
        start
    )?
    .run()
    .await?;
    Ok(())
}
