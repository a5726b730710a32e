//! The `part_uploads` and `part_upload_parts` tables: uploads sent in parts, while they are in
//! progress (see `runs::parts`).

use serde::Deserialize;
use worker::query;
use worker::D1Database;

use crate::error::{EdgeError, EdgeResult};

#[derive(Debug, Clone, Deserialize)]
pub struct PartUploadRow {
    pub id: String,
    pub run_id: i64,
    pub round: i64,
    pub user_id: String,
    pub kind: String,
    pub format: String,
    pub bytes: i64,
    pub sha256: String,
    pub part_bytes: i64,
    pub r2_key: String,
    pub r2_upload_id: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PartRow {
    pub part: i64,
    pub etag: String,
}

const COLUMNS: &str = "id, run_id, round, user_id, kind, format, bytes, sha256, part_bytes, \
                       r2_key, r2_upload_id, created_at";

pub async fn insert(db: &D1Database, row: &PartUploadRow) -> EdgeResult<()> {
    query!(
        &db,
        format!(
        "INSERT INTO part_uploads ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
         ?11, ?12)"
    ),
        row.id.as_str(),
        row.run_id,
        row.round,
        row.user_id.as_str(),
        row.kind.as_str(),
        row.format.as_str(),
        row.bytes,
        row.sha256.as_str(),
        row.part_bytes,
        row.r2_key.as_str(),
        row.r2_upload_id.as_str(),
        row.created_at
    )?
    .run()
    .await?;
    Ok(())
}

pub async fn find(db: &D1Database, id: &str) -> EdgeResult<Option<PartUploadRow>> {
    Ok(query!(
        &db,
        format!("SELECT {COLUMNS} FROM part_uploads WHERE id = ?1"),
        id
    )?
    .first(None)
    .await?)
}

/// How many uploads `user_id` has in progress in run `run_id`.
pub async fn in_progress(db: &D1Database, run_id: i64, user_id: &str) -> EdgeResult<usize> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let count: Option<Count> = query!(
        &db,
        "SELECT COUNT(*) AS n FROM part_uploads WHERE run_id = ?1 AND user_id = ?2",
        run_id,
        user_id
    )?
    .first(None)
    .await?;
    Ok(count.map_or(0, |c| c.n as usize))
}

/// Records part `part` (a part sent again replaces its earlier etag); how many parts the
/// upload has received now, counted in the same transaction.
pub async fn put_part(
    db: &D1Database,
    upload_id: &str,
    part: u64,
    etag: &str,
    bytes: u64,
) -> EdgeResult<u64> {
    #[derive(Deserialize)]
    struct Count {
        n: u64,
    }
    let results = db
        .batch(vec![
            query!(
                &db,
                "INSERT INTO part_upload_parts (upload_id, part, etag, bytes) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (upload_id, part) \
                 DO UPDATE SET etag = excluded.etag, bytes = excluded.bytes",
                upload_id,
                part,
                etag,
                bytes
            )?,
            query!(
                &db,
                "SELECT COUNT(*) AS n FROM part_upload_parts WHERE upload_id = ?1",
                upload_id
            )?,
        ])
        .await?;
    let counted: Vec<Count> = match results.last() {
        Some(r) => r.results()?,
        None => vec![],
    };
    counted
        .first()
        .map(|c| c.n)
        .ok_or_else(|| EdgeError::Internal("counting an upload's parts returned nothing".into()))
}

/// The parts received, in part order.
pub async fn parts(db: &D1Database, upload_id: &str) -> EdgeResult<Vec<PartRow>> {
    Ok(query!(
        &db,
        "SELECT part, etag FROM part_upload_parts WHERE upload_id = ?1 ORDER BY part",
        upload_id
    )?
    .all()
    .await?
    .results()?)
}

/// Forgets an upload in parts and its parts; one transaction.
pub async fn delete(db: &D1Database, upload_id: &str) -> EdgeResult<()> {
    db.batch(vec![
        query!(
            &db,
            "DELETE FROM part_upload_parts WHERE upload_id = ?1",
            upload_id
        )?,
        query!(&db, "DELETE FROM part_uploads WHERE id = ?1", upload_id)?,
    ])
    .await?;
    Ok(())
}

/// Uploads in parts started before `cutoff_ms` (abandoned: the sweep aborts them).
pub async fn started_before(db: &D1Database, cutoff_ms: i64) -> EdgeResult<Vec<PartUploadRow>> {
    Ok(query!(
        &db,
        format!("SELECT {COLUMNS} FROM part_uploads WHERE created_at < ?1 LIMIT 100"),
        cutoff_ms
    )?
    .all()
    .await?
    .results()?)
}
