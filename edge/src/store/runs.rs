//! The `runs`, `run_participants`, `rounds` and `uploads` tables.

use meshfed_shared::aggregate::metrics::{RoundMetrics, UploadMetrics};
use meshfed_shared::aggregate::Method;
use meshfed_shared::api::runs::UploadKind;
use meshfed_shared::api::upload::TensorForm;
use meshfed_shared::meshnet::ModelConfig;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::error::{EdgeError, EdgeResult};

#[derive(Debug, Clone, Deserialize)]
pub struct RunRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub creator_id: String,
    pub model: String,
    pub aggregation: String,
    pub trim_fraction: f64,
    pub round_timeout_secs: i64,
    pub min_participants: Option<i64>,
    pub created_at: i64,
}

impl RunRow {
    pub fn model(&self) -> EdgeResult<ModelConfig> {
        serde_json::from_str(&self.model).map_err(EdgeError::from)
    }

    pub fn method(&self) -> Method {
        Method::parse(&self.aggregation).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ParticipantRow {
    pub user_id: String,
    pub email: String,
    pub username: String,
    pub active: i64,
}

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
}

impl UploadRow {
    pub fn metrics(&self) -> UploadMetrics {
        UploadMetrics {
            num_examples: self.num_examples as u64,
            loss: self.loss,
            dice: self.dice,
        }
    }
}

fn opt_f64(v: Option<f64>) -> JsValue {
    v.map_or(JsValue::NULL, JsValue::from)
}

const RUN_COLUMNS: &str = "id, name, description, creator_id, model, aggregation, trim_fraction, \
                           round_timeout_secs, min_participants, created_at";
const RUN_COLUMNS_R: &str = "r.id, r.name, r.description, r.creator_id, r.model, r.aggregation, \
                             r.trim_fraction, r.round_timeout_secs, r.min_participants, r.created_at";
const ROUND_COLUMNS: &str = "round, kind, tensor_form, opened_at, deadline_at, model_key, \
                             closed_at, close_reason, aggregate_key, aggregate_bytes, \
                             aggregate_sha256, uploads, num_examples, loss, dice";

pub async fn find(db: &D1Database, id: i64) -> EdgeResult<Option<RunRow>> {
    Ok(db
        .prepare(format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
        .bind(&[(id as f64).into()])?
        .first(None)
        .await?)
}

/// Runs `user_id` takes part in, newest first.
pub async fn of_user(db: &D1Database, user_id: &str) -> EdgeResult<Vec<RunRow>> {
    Ok(db
        .prepare(format!(
            "SELECT {RUN_COLUMNS_R} FROM runs r JOIN run_participants p ON p.run_id = r.id \
             WHERE p.user_id = ?1 ORDER BY r.id DESC"
        ))
        .bind(&[user_id.into()])?
        .all()
        .await?
        .results()?)
}

pub async fn participants(db: &D1Database, run_id: i64) -> EdgeResult<Vec<ParticipantRow>> {
    Ok(db
        .prepare(
            "SELECT p.user_id, u.email, u.username, p.active FROM run_participants p \
             JOIN users u ON u.id = p.user_id WHERE p.run_id = ?1 ORDER BY p.joined_at, u.email",
        )
        .bind(&[(run_id as f64).into()])?
        .all()
        .await?
        .results()?)
}

pub async fn set_active(
    db: &D1Database,
    run_id: i64,
    user_id: &str,
    active: bool,
) -> EdgeResult<usize> {
    crate::store::changed_rows(
        db.prepare("UPDATE run_participants SET active = ?1 WHERE run_id = ?2 AND user_id = ?3")
            .bind(&[
                (active as i32).into(),
                (run_id as f64).into(),
                user_id.into(),
            ])?,
    )
    .await
}

/// The open round (at most one per run).
pub async fn open_round(db: &D1Database, run_id: i64) -> EdgeResult<Option<RoundRow>> {
    Ok(db
        .prepare(format!(
            "SELECT {ROUND_COLUMNS} FROM rounds WHERE run_id = ?1 AND closed_at IS NULL \
             ORDER BY round DESC LIMIT 1"
        ))
        .bind(&[(run_id as f64).into()])?
        .first(None)
        .await?)
}

pub async fn round(db: &D1Database, run_id: i64, round: u32) -> EdgeResult<Option<RoundRow>> {
    Ok(db
        .prepare(format!(
            "SELECT {ROUND_COLUMNS} FROM rounds WHERE run_id = ?1 AND round = ?2"
        ))
        .bind(&[(run_id as f64).into(), round.into()])?
        .first(None)
        .await?)
}

/// Closed rounds, oldest first.
pub async fn history(db: &D1Database, run_id: i64) -> EdgeResult<Vec<RoundRow>> {
    Ok(db
        .prepare(format!(
            "SELECT {ROUND_COLUMNS} FROM rounds WHERE run_id = ?1 AND closed_at IS NOT NULL ORDER BY round"
        ))
        .bind(&[(run_id as f64).into()])?
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
    Ok(db
        .prepare(format!(
            "SELECT {ROUND_COLUMNS} FROM rounds WHERE run_id = ?1 AND closed_at IS NOT NULL \
             AND kind = ?2 ORDER BY round DESC LIMIT 1"
        ))
        .bind(&[(run_id as f64).into(), kind.as_str().into()])?
        .first(None)
        .await?)
}

pub async fn uploads(db: &D1Database, run_id: i64, round: u32) -> EdgeResult<Vec<UploadRow>> {
    Ok(db
        .prepare(
            "SELECT user_id, kind, r2_key, bytes, sha256, num_examples, loss, dice FROM uploads \
             WHERE run_id = ?1 AND round = ?2 ORDER BY user_id",
        )
        .bind(&[(run_id as f64).into(), round.into()])?
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
        db.prepare(
            "INSERT INTO uploads (run_id, round, user_id, kind, r2_key, bytes, sha256, num_examples, \
             loss, dice, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (run_id, round, user_id) DO UPDATE SET kind = excluded.kind, \
             r2_key = excluded.r2_key, bytes = excluded.bytes, sha256 = excluded.sha256, \
             num_examples = excluded.num_examples, loss = excluded.loss, dice = excluded.dice, \
             created_at = excluded.created_at",
        )
        .bind(&[
            (run_id as f64).into(),
            round.into(),
            upload.user_id.as_str().into(),
            upload.kind.as_str().into(),
            upload.r2_key.as_str().into(),
            (upload.bytes as f64).into(),
            upload.sha256.as_str().into(),
            (upload.num_examples as f64).into(),
            opt_f64(upload.loss),
            opt_f64(upload.dice),
            (now as f64).into(),
        ])?,
        db.prepare(
            "UPDATE rounds SET kind = COALESCE(kind, ?1), tensor_form = COALESCE(tensor_form, ?2) \
             WHERE run_id = ?3 AND round = ?4",
        )
        .bind(&[upload.kind.as_str().into(), form.into(), (run_id as f64).into(), round.into()])?,
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
    pub next_model_key: &'a str,
    pub now: i64,
    pub next_deadline: i64,
}

/// Closes the round and opens the next in one transaction.
pub async fn close_round(db: &D1Database, c: &Closing<'_>) -> EdgeResult<()> {
    let m = &c.metrics;
    db.batch(vec![
        db.prepare(
            "UPDATE rounds SET closed_at = ?1, close_reason = ?2, aggregate_key = ?3, \
             aggregate_bytes = ?4, aggregate_sha256 = ?5, uploads = ?6, num_examples = ?7, \
             loss = ?8, dice = ?9 WHERE run_id = ?10 AND round = ?11 AND closed_at IS NULL",
        )
        .bind(&[
            (c.now as f64).into(),
            c.reason.into(),
            c.aggregate_key.into(),
            (c.aggregate_bytes as f64).into(),
            c.aggregate_sha256.into(),
            (m.uploads as f64).into(),
            (m.num_examples as f64).into(),
            opt_f64(m.loss),
            opt_f64(m.dice),
            (c.run_id as f64).into(),
            c.round.into(),
        ])?,
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
    Ok(db
        .prepare(
            "INSERT OR IGNORE INTO rounds (run_id, round, opened_at, deadline_at, model_key) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&[
            (run_id as f64).into(),
            round.into(),
            (opened_at as f64).into(),
            (deadline_at as f64).into(),
            model_key.into(),
        ])?)
}

/// Inserts the run row and returns its id (participants and round 1 follow in
/// [`add_participants_and_first_round`]).
pub async fn insert_run(
    db: &D1Database,
    v: &meshfed_shared::api::runs::ValidRun,
    creator_id: &str,
    now: i64,
) -> EdgeResult<i64> {
    let id: Option<i64> = db
        .prepare(
            "INSERT INTO runs (name, description, creator_id, model, aggregation, trim_fraction, \
             round_timeout_secs, min_participants, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        )
        .bind(&[
            v.name.as_str().into(),
            v.description.as_str().into(),
            creator_id.into(),
            serde_json::to_string(&v.model)?.into(),
            v.aggregation.as_str().into(),
            v.trim_fraction.into(),
            (v.round_timeout_secs as f64).into(),
            v.min_participants.map_or(JsValue::NULL, JsValue::from),
            (now as f64).into(),
        ])?
        .first(Some("id"))
        .await?;
    id.ok_or_else(|| EdgeError::Internal("run insert returned no id".into()))
}

pub async fn add_participants_and_first_round(
    db: &D1Database,
    run_id: i64,
    user_ids: &[String],
    now: i64,
    deadline: i64,
    model_key: &str,
) -> EdgeResult<()> {
    let mut batch = vec![];
    for user_id in user_ids {
        batch.push(
            db.prepare(
                "INSERT OR IGNORE INTO run_participants (run_id, user_id, active, joined_at) \
                 VALUES (?1, ?2, 1, ?3)",
            )
            .bind(&[
                (run_id as f64).into(),
                user_id.as_str().into(),
                (now as f64).into(),
            ])?,
        );
    }
    batch.push(insert_round(db, run_id, 1, now, deadline, model_key)?);
    db.batch(batch).await?;
    Ok(())
}

/// Removes a run whose creation failed half-way.
pub async fn delete_run(db: &D1Database, run_id: i64) -> EdgeResult<()> {
    let id: JsValue = (run_id as f64).into();
    db.batch(vec![
        db.prepare("DELETE FROM run_participants WHERE run_id = ?1")
            .bind(std::slice::from_ref(&id))?,
        db.prepare("DELETE FROM rounds WHERE run_id = ?1")
            .bind(std::slice::from_ref(&id))?,
        db.prepare("DELETE FROM runs WHERE id = ?1").bind(&[id])?,
    ])
    .await?;
    Ok(())
}

/// Confirmed, enabled users by email (lower-cased), for inviting participants.
pub async fn users_by_email(
    db: &D1Database,
    emails: &[String],
) -> EdgeResult<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        email: String,
    }
    let mut out = vec![];
    for chunk in emails.chunks(50) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
        let binds: Vec<JsValue> = chunk.iter().map(|e| e.as_str().into()).collect();
        let rows: Vec<Row> = db
            .prepare(format!(
                "SELECT id, email FROM users WHERE confirmed = 1 AND disabled = 0 AND lower(email) IN ({})",
                marks.join(", ")
            ))
            .bind(&binds)?
            .all()
            .await?
            .results()?;
        out.extend(rows.into_iter().map(|r| (r.id, r.email.to_lowercase())));
    }
    Ok(out)
}

/// Applies a creator's changes to the run's settings.
pub async fn update_run(
    db: &D1Database,
    run_id: i64,
    u: &meshfed_shared::api::runs::UpdateRunRequest,
) -> EdgeResult<()> {
    let text = |v: &Option<String>| v.as_ref().map_or(JsValue::NULL, |s| s.trim().into());
    db.prepare(
        "UPDATE runs SET name = COALESCE(?1, name), description = COALESCE(?2, description), \
         round_timeout_secs = COALESCE(?3, round_timeout_secs), \
         min_participants = COALESCE(?4, min_participants) WHERE id = ?5",
    )
    .bind(&[
        text(&u.name),
        text(&u.description),
        u.round_timeout_secs
            .map_or(JsValue::NULL, |t| (t as f64).into()),
        u.min_participants.map_or(JsValue::NULL, JsValue::from),
        (run_id as f64).into(),
    ])?
    .run()
    .await?;
    Ok(())
}
