//! The `runs` and `run_participants` tables.

use meshfed_shared::aggregate::Method;
use meshfed_shared::meshnet::ModelConfig;
use serde::Deserialize;
use worker::query;
use worker::D1Database;

use super::rounds::insert_round;
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
    pub min_contributors: Option<i64>,
    pub created_at: i64,
    pub secure_aggregation: i64,
}

impl RunRow {
    pub fn model(&self) -> EdgeResult<ModelConfig> {
        serde_json::from_str(&self.model).map_err(EdgeError::from)
    }

    pub fn method(&self) -> Method {
        Method::parse(&self.aggregation).unwrap_or_default()
    }

    pub fn is_secure(&self) -> bool {
        self.secure_aggregation != 0
    }

    /// Uploads each round of this run needs before it closes, among `participants`.
    pub fn contributors_needed(&self, participants: usize) -> usize {
        let setting = self
            .min_contributors
            .map(|k| k.clamp(1, u32::MAX as i64) as u32);
        meshfed_shared::api::runs::contributors_needed(setting, participants)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ParticipantRow {
    pub user_id: String,
    pub email: String,
    pub username: String,
    pub active: i64,
}

const RUN_COLUMNS: &str = "id, name, description, creator_id, model, aggregation, trim_fraction, \
                           round_timeout_secs, min_participants, min_contributors, created_at, \
                           secure_aggregation";
const RUN_COLUMNS_R: &str = "r.id, r.name, r.description, r.creator_id, r.model, r.aggregation, \
                             r.trim_fraction, r.round_timeout_secs, r.min_participants, \
                             r.min_contributors, r.created_at, r.secure_aggregation";

pub async fn find(db: &D1Database, id: i64) -> EdgeResult<Option<RunRow>> {
    Ok(query!(
        &db,
        format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
        id
    )?
    .first(None)
    .await?)
}

/// Runs `user_id` takes part in, newest first.
pub async fn of_user(db: &D1Database, user_id: &str) -> EdgeResult<Vec<RunRow>> {
    Ok(query!(
        &db,
        format!(
            "SELECT {RUN_COLUMNS_R} FROM runs r JOIN run_participants p ON p.run_id = r.id \
             WHERE p.user_id = ?1 ORDER BY r.id DESC"
        ),
        user_id
    )?
    .all()
    .await?
    .results()?)
}

pub async fn participants(db: &D1Database, run_id: i64) -> EdgeResult<Vec<ParticipantRow>> {
    Ok(query!(
        &db,
        "SELECT p.user_id, u.email, u.username, p.active FROM run_participants p \
             JOIN users u ON u.id = p.user_id WHERE p.run_id = ?1 ORDER BY p.joined_at, u.email",
        run_id
    )?
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
    crate::store::changed_rows(query!(
        &db,
        "UPDATE run_participants SET active = ?1 WHERE run_id = ?2 AND user_id = ?3",
        (active as i32),
        run_id,
        user_id
    )?)
    .await
}

/// Inserts the run row and returns its id (participants and round 1 follow in
/// [`add_participants_and_first_round`]).
pub async fn insert_run(
    db: &D1Database,
    v: &meshfed_shared::api::runs::ValidRun,
    creator_id: &str,
    now: i64,
) -> EdgeResult<i64> {
    let id: Option<i64> = query!(
        &db,
        "INSERT INTO runs (name, description, creator_id, model, aggregation, trim_fraction, \
             round_timeout_secs, min_participants, min_contributors, created_at, \
             secure_aggregation) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
        v.name.as_str(),
        v.description.as_str(),
        creator_id,
        serde_json::to_string(&v.model)?,
        v.aggregation.as_str(),
        v.trim_fraction,
        v.round_timeout_secs,
        v.min_participants,
        v.min_contributors,
        now,
        (v.secure_aggregation as i32)
    )?
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
    plan: &meshfed_shared::plan::TrainingPlan,
) -> EdgeResult<()> {
    let mut batch = vec![super::plans::insert(db, run_id, 1, 1, plan, now)?];
    for user_id in user_ids {
        batch.push(query!(
            &db,
            "INSERT OR IGNORE INTO run_participants (run_id, user_id, active, joined_at) \
                 VALUES (?1, ?2, 1, ?3)",
            run_id,
            user_id.as_str(),
            now
        )?);
    }
    batch.push(insert_round(db, run_id, 1, now, deadline, model_key)?);
    db.batch(batch).await?;
    Ok(())
}

/// Removes a run whose creation failed half-way.
pub async fn delete_run(db: &D1Database, run_id: i64) -> EdgeResult<()> {
    db.batch(vec![
        query!(
            &db,
            "DELETE FROM run_participants WHERE run_id = ?1",
            run_id
        )?,
        query!(&db, "DELETE FROM rounds WHERE run_id = ?1", run_id)?,
        query!(&db, "DELETE FROM run_plans WHERE run_id = ?1", run_id)?,
        query!(&db, "DELETE FROM runs WHERE id = ?1", run_id)?,
    ])
    .await?;
    Ok(())
}

/// A creator's changes to the run's settings (run in a batch with any new plan version).
pub fn update_run(
    db: &D1Database,
    run_id: i64,
    u: &meshfed_shared::api::runs::UpdateRunRequest,
) -> EdgeResult<worker::D1PreparedStatement> {
    Ok(query!(
        &db,
        "UPDATE runs SET name = COALESCE(?1, name), description = COALESCE(?2, description), \
         round_timeout_secs = COALESCE(?3, round_timeout_secs), \
         min_participants = COALESCE(?4, min_participants), \
         min_contributors = COALESCE(?5, min_contributors) WHERE id = ?6",
        u.name.as_deref().map(str::trim),
        u.description.as_deref().map(str::trim),
        u.round_timeout_secs,
        u.min_participants,
        u.min_contributors,
        run_id
    )?)
}
