//! The `rounds` and `uploads` tables: each round's state and aggregate, and the upload that
//! counts for each participant.

use meshfed_shared::aggregate::metrics::{RoundMetrics, UploadMetrics};
use meshfed_shared::api::runs::UploadKind;
use meshfed_shared::api::upload::TensorForm;
use serde::Deserialize;
use worker::query;
use worker::{D1Database, D1PreparedStatement};

use crate::error::EdgeResult;

#[derive(Debug, Clone, Deserialize)]
pub struct RoundRow {
    pub round: i64,
    pub kind: Option<String>,
    pub tensor_form: Option<String>,
    pub opened_at: i64,
    pub deadline_at: i64,
    pub model_key: String,
    pub closed_at: Option<i64>,
    pub close_reason: Option<String>,
    pub aggregate_key: Option<String>,
    pub aggregate_bytes: Option<i64>,
    pub aggregate_sha256: Option<String>,
    pub uploads: Option<i64>,
    pub num_examples: Option<i64>,
    pub loss: Option<f64>,
    pub dice: Option<f64>,
    pub val_loss: Option<f64>,
    pub val_dice: Option<f64>,
    pub val_dice_per_class: Option<String>,
    pub server_state_key: Option<String>,
}

impl RoundRow {
    pub fn kind(&self) -> Option<UploadKind> {
        self.kind.as_deref().and_then(UploadKind::parse)
    }

    pub fn form(&self) -> TensorForm {
        match self.tensor_form.as_deref() {
            Some("list") => TensorForm::List,
            Some("flat") => TensorForm::Flat,
            _ => TensorForm::Named,
        }
    }

    pub fn metrics(&self) -> RoundMetrics {
        RoundMetrics {
            uploads: self.uploads.unwrap_or(0) as u64,
            num_examples: self.num_examples.unwrap_or(0) as u64,
            loss: self.loss,
            dice: self.dice,
            val_loss: self.val_loss,
            val_dice: self.val_dice,
            val_dice_per_class: self
                .val_dice_per_class
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct UploadRow {
    pub user_id: String,
    pub kind: String,
    pub r2_key: String,
    pub bytes: i64,
    pub sha256: String,
    pub num_examples: i64,
    pub loss: Option<f64>,
    pub dice: Option<f64>,
    pub val_loss: Option<f64>,
    /// JSON list, one per foreground class.
    pub val_dice: Option<String>,
}

impl UploadRow {
    pub fn metrics(&self) -> UploadMetrics {
        UploadMetrics {
            num_examples: self.num_examples as u64,
            loss: self.loss,
            dice: self.dice,
            val_loss: self.val_loss,
            val_dice: self
                .val_dice
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok()),
        }
    }
}

const ROUND_COLUMNS: &str = "round, kind, tensor_form, opened_at, deadline_at, model_key, \
                             closed_at, close_reason, aggregate_key, aggregate_bytes, \
                             aggregate_sha256, uploads, num_examples, loss, dice, val_loss, \
                             val_dice, val_dice_per_class, server_state_key";

/// The open round (at most one per run).
pub async fn open_round(db: &D1Database, run_id: i64) -> EdgeResult<Option<RoundRow>> {
    Ok(query!(
        &db,
        format!(
            "SELECT {ROUND_COLUMNS} FROM rounds WHERE run_id = ?1 AND closed_at IS NULL \
             ORDER BY round DESC LIMIT 1"
        ),
        run_id
    )?
    .first(None)
    .await?)
}

pub async fn round(db: &D1Database, run_id: i64, round: u32) -> EdgeResult<Option<RoundRow>> {
    Ok(query!(
        &db,
        format!("SELECT {ROUND_COLUMNS} FROM rounds WHERE run_id = ?1 AND round = ?2"),
        run_id,
        round
    )?
    .first(None)
    .await?)
}

/// Closed rounds, oldest first.
pub async fn history(db: &D1Database, run_id: i64) -> EdgeResult<Vec<RoundRow>> {
    Ok(query!(
        &db,
        format!(
            "SELECT {ROUND_COLUMNS} FROM rounds WHERE run_id = ?1 AND closed_at IS NOT NULL \
             ORDER BY round"
        ),
        run_id,
    )?
    .all()
    .await?
    .results()?)
}

/// The latest closed round of `kind`.
pub async fn latest_closed(
    db: &D1Database,
    run_id: i64,
    kind: UploadKind,
) -> EdgeResult<Option<RoundRow>> {
    Ok(query!(
        &db,
        format!(
            "SELECT {ROUND_COLUMNS} FROM rounds WHERE run_id = ?1 AND closed_at IS NOT NULL \
             AND kind = ?2 ORDER BY round DESC LIMIT 1"
        ),
        run_id,
        kind.as_str()
    )?
    .first(None)
    .await?)
}

pub async fn uploads(db: &D1Database, run_id: i64, round: u32) -> EdgeResult<Vec<UploadRow>> {
    Ok(query!(
        &db,
        "SELECT user_id, kind, r2_key, bytes, sha256, num_examples, loss, dice, val_loss, \
             val_dice FROM uploads \
             WHERE run_id = ?1 AND round = ?2 ORDER BY user_id",
        run_id,
        round
    )?
    .all()
    .await?
    .results()?)
}

/// Inserts or replaces the upload that counts for (run, round, user), and fixes the round's
/// kind and tensor form if this is its first upload; one transaction.
pub fn upsert_upload(
    db: &D1Database,
    run_id: i64,
    round: u32,
    upload: &UploadRow,
    form: TensorForm,
    now: i64,
) -> EdgeResult<Vec<D1PreparedStatement>> {
    let form = match form {
        TensorForm::Named => "named",
        TensorForm::List => "list",
        TensorForm::Flat => "flat",
    };
    Ok(vec![
        query!(
            &db,
            "INSERT INTO uploads (run_id, round, user_id, kind, r2_key, bytes, sha256, \
             num_examples, loss, dice, created_at, val_loss, val_dice) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
             ON CONFLICT (run_id, round, user_id) DO UPDATE SET kind = excluded.kind, \
             r2_key = excluded.r2_key, bytes = excluded.bytes, sha256 = excluded.sha256, \
             num_examples = excluded.num_examples, loss = excluded.loss, dice = excluded.dice, \
             created_at = excluded.created_at, val_loss = excluded.val_loss, \
             val_dice = excluded.val_dice",
            run_id,
            round,
            upload.user_id.as_str(),
            upload.kind.as_str(),
            upload.r2_key.as_str(),
            upload.bytes,
            upload.sha256.as_str(),
            upload.num_examples,
            upload.loss,
            upload.dice,
            now,
            upload.val_loss,
            upload.val_dice.as_deref(),
        )?,
        query!(
            &db,
            "UPDATE rounds SET kind = COALESCE(kind, ?1), tensor_form = COALESCE(tensor_form, ?2) \
             WHERE run_id = ?3 AND round = ?4",
            upload.kind.as_str(),
            form,
            run_id,
            round,
        )?,
    ])
}

/// What closing a round writes: its aggregate and metrics, and the next round.
pub struct Closing<'a> {
    pub run_id: i64,
    pub round: u32,
    pub reason: &'a str,
    pub aggregate_key: &'a str,
    pub aggregate_bytes: usize,
    pub aggregate_sha256: &'a str,
    pub metrics: RoundMetrics,
    pub server_state_key: Option<&'a str>,
    pub next_model_key: &'a str,
    pub now: i64,
    pub next_deadline: i64,
}

/// Closes the round and opens the next in one transaction.
pub async fn close_round(db: &D1Database, c: &Closing<'_>) -> EdgeResult<()> {
    let m = &c.metrics;
    let per_class = (!m.val_dice_per_class.is_empty())
        .then(|| serde_json::to_string(&m.val_dice_per_class))
        .transpose()?;
    db.batch(vec![
        query!(
            &db,
            "UPDATE rounds SET closed_at = ?1, close_reason = ?2, aggregate_key = ?3, \
             aggregate_bytes = ?4, aggregate_sha256 = ?5, uploads = ?6, num_examples = ?7, \
             loss = ?8, dice = ?9, val_loss = ?12, val_dice = ?13, val_dice_per_class = ?14, \
             server_state_key = ?15 WHERE run_id = ?10 AND round = ?11 AND closed_at IS NULL",
            c.now,
            c.reason,
            c.aggregate_key,
            c.aggregate_bytes,
            c.aggregate_sha256,
            m.uploads,
            m.num_examples,
            m.loss,
            m.dice,
            c.run_id,
            c.round,
            m.val_loss,
            m.val_dice,
            per_class,
            c.server_state_key
        )?,
        insert_round(
            db,
            c.run_id,
            c.round + 1,
            c.now,
            c.next_deadline,
            c.next_model_key,
        )?,
    ])
    .await?;
    Ok(())
}

pub fn insert_round(
    db: &D1Database,
    run_id: i64,
    round: u32,
    opened_at: i64,
    deadline_at: i64,
    model_key: &str,
) -> EdgeResult<D1PreparedStatement> {
    Ok(query!(
        &db,
        "INSERT OR IGNORE INTO rounds (run_id, round, opened_at, deadline_at, model_key) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        run_id,
        round,
        opened_at,
        deadline_at,
        model_key
    )?)
}
