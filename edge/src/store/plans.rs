//! The `run_plans` table: each version of a run's training plan and the round it starts at.

use meshfed_shared::api::runs::PlanVersion;
use meshfed_shared::plan::TrainingPlan;
use serde::Deserialize;
use worker::query;
use worker::{D1Database, D1PreparedStatement};

use crate::error::{EdgeError, EdgeResult};

#[derive(Debug, Clone, Deserialize)]
struct PlanRow {
    version: i64,
    from_round: i64,
    plan: String,
}

impl PlanRow {
    fn version(&self) -> EdgeResult<PlanVersion> {
        let plan: TrainingPlan = serde_json::from_str(&self.plan).map_err(EdgeError::from)?;
        Ok(PlanVersion::new(
            self.version as u32,
            self.from_round as u32,
            plan,
        ))
    }
}

/// What a run without a stored plan (created before plans existed) trains with.
fn default_version() -> PlanVersion {
    PlanVersion::new(1, 1, TrainingPlan::default())
}

pub fn insert(
    db: &D1Database,
    run_id: i64,
    version: u32,
    from_round: u32,
    plan: &TrainingPlan,
    now: i64,
) -> EdgeResult<D1PreparedStatement> {
    Ok(query!(
        &db,
        "INSERT INTO run_plans (run_id, version, from_round, plan, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        run_id,
        version,
        from_round,
        serde_json::to_string(plan)?,
        now
    )?)
}

/// The plan round `round` trains with.
pub async fn of_round(db: &D1Database, run_id: i64, round: u32) -> EdgeResult<PlanVersion> {
    let row: Option<PlanRow> = query!(
        &db,
        "SELECT version, from_round, plan FROM run_plans WHERE run_id = ?1 \
             AND from_round <= ?2 ORDER BY version DESC LIMIT 1",
        run_id,
        round
    )?
    .first(None)
    .await?;
    row.map_or(Ok(default_version()), |r| r.version())
}

/// The newest version (which may start after the current round).
pub async fn latest(db: &D1Database, run_id: i64) -> EdgeResult<PlanVersion> {
    let row: Option<PlanRow> = query!(
        &db,
        "SELECT version, from_round, plan FROM run_plans WHERE run_id = ?1 \
             ORDER BY version DESC LIMIT 1",
        run_id
    )?
    .first(None)
    .await?;
    row.map_or(Ok(default_version()), |r| r.version())
}

/// Every version, oldest first (a run's history names the version of each round).
pub async fn all(db: &D1Database, run_id: i64) -> EdgeResult<Vec<PlanVersion>> {
    let rows: Vec<PlanRow> = query!(
        &db,
        "SELECT version, from_round, plan FROM run_plans WHERE run_id = ?1 ORDER BY version",
        run_id
    )?
    .all()
    .await?
    .results()?;
    if rows.is_empty() {
        return Ok(vec![default_version()]);
    }
    rows.iter().map(PlanRow::version).collect()
}
