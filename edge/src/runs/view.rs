//! `GET /api/runs`, `GET /api/runs/{id}` and `POST /api/runs/{id}/activate`.

use meshfed_shared::api::runs::{
    ActivateRequest, Participant, PlanVersion, RoundRecord, RoundStatus, RunDetail, RunHeader,
    RunSummary, UpdateRunRequest,
};
use meshfed_shared::time::rfc3339_from_unix_ms;
use worker::{Env, Request, Response};

use super::access::{self, Member};
use crate::audit;
use crate::config::Config;
use crate::error::{EdgeError, EdgeResult};
use crate::http::{json_ok, now_ms, read_json};
use crate::run_object;
use crate::store::{self, runs::ParticipantRow, runs::RunRow, users::UserRow};

pub async fn list(req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let user = access::caller_any_token(&req, env, cfg).await?;
    let runs: Vec<RunSummary> = summaries(env, &user)
        .await?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    json_ok(&runs, "Runs", 200)
}

/// The runs `user` takes part in, newest first, with their participants.
pub async fn summaries(
    env: &Env,
    user: &UserRow,
) -> EdgeResult<Vec<(RunSummary, Vec<ParticipantRow>)>> {
    let db = store::db(env)?;
    let mut out = vec![];
    for run in store::runs::of_user(&db, &user.id).await? {
        let participants = store::runs::participants(&db, run.id).await?;
        let current = store::rounds::open_round(&db, run.id)
            .await?
            .map_or(0, |r| r.round as u32);
        out.push((summary(&run, &participants, current)?, participants));
    }
    Ok(out)
}

fn summary(
    run: &RunRow,
    participants: &[ParticipantRow],
    current_round: u32,
) -> EdgeResult<RunSummary> {
    Ok(RunSummary {
        run: header(run, participants, current_round)?,
        participants: participants.len(),
    })
}

fn header(
    run: &RunRow,
    participants: &[ParticipantRow],
    current_round: u32,
) -> EdgeResult<RunHeader> {
    Ok(RunHeader {
        id: run.id,
        name: run.name.clone(),
        description: run.description.clone(),
        classes: run.model()?.classes,
        creator: participants
            .iter()
            .find(|p| p.user_id == run.creator_id)
            .map(|p| p.email.clone())
            .unwrap_or_default(),
        aggregation: run.method(),
        round_timeout_secs: run.round_timeout_secs as u64,
        current_round,
        created_at: rfc3339_from_unix_ms(run.created_at),
        secure_aggregation: run.is_secure(),
    })
}

pub async fn detail(req: Request, env: &Env, cfg: &Config, run_id: i64) -> EdgeResult<Response> {
    let user = access::caller_any_token(&req, env, cfg).await?;
    let member = access::load_member(env, user, run_id).await?;
    json_ok(&detail_of(env, &member).await?, "Run", 200)
}

pub async fn detail_of(env: &Env, m: &Member) -> EdgeResult<RunDetail> {
    let db = store::db(env)?;
    let run = &m.run;
    let open = store::rounds::open_round(&db, run.id)
        .await?
        .ok_or_else(|| EdgeError::Internal(format!("run {} has no open round", run.id)))?;
    let round_no = open.round as u32;
    // Who has contributed to the open round: their upload, or in a secure round their
    // masked input (a secure round stores no plain upload until it closes).
    let uploaded: Vec<String> = if run.is_secure() {
        store::secure::members(&db, run.id, round_no)
            .await?
            .into_iter()
            .filter(|m| m.input_key.is_some())
            .map(|m| m.user_id)
            .collect()
    } else {
        store::rounds::uploads(&db, run.id, round_no)
            .await?
            .into_iter()
            .map(|u| u.user_id)
            .collect()
    };
    let participants: Vec<Participant> = m
        .participants
        .iter()
        .map(|p| Participant {
            email: p.email.clone(),
            username: p.username.clone(),
            active: p.active != 0,
            creator: p.user_id == run.creator_id,
            uploaded: uploaded.contains(&p.user_id),
        })
        .collect();
    let active = participants.iter().filter(|p| p.active).count() as u32;
    let contributors = run.contributors_needed(participants.len());
    let needed = run
        .min_participants
        .map_or(active, |k| k as u32)
        .max(contributors as u32);
    let state = if now_ms() < open.deadline_at {
        "open"
    } else {
        "waiting"
    };
    let versions = store::plans::all(&db, run.id).await?;
    let plan = PlanVersion::current(&versions, round_no)
        .cloned()
        .ok_or_else(|| {
            EdgeError::Internal(format!("run {} has no plan for round {round_no}", run.id))
        })?;
    let next_plan = versions.iter().rfind(|v| v.version > plan.version).cloned();
    let history = store::rounds::history(&db, run.id)
        .await?
        .into_iter()
        .map(|r| RoundRecord {
            round: r.round as u32,
            plan_version: PlanVersion::of_round(&versions, r.round as u32),
            kind: r.kind(),
            closed_at: r.closed_at.map(rfc3339_from_unix_ms).unwrap_or_default(),
            reason: r.close_reason.clone().unwrap_or_default(),
            metrics: r.metrics(),
            aggregate_sha256: r.aggregate_sha256.clone(),
            aggregate_bytes: r.aggregate_bytes.map(|b| b as u64),
        })
        .collect();
    let model = run.model()?;
    Ok(RunDetail {
        run: header(run, &m.participants, round_no)?,
        parameter_count: model.parameter_count(),
        model,
        trim_fraction: run.trim_fraction,
        min_participants: run.min_participants.map(|k| k as u32),
        min_contributors: contributors as u32,
        participants,
        round: RoundStatus {
            round: round_no,
            state: state.into(),
            kind: open.kind(),
            opened_at: rfc3339_from_unix_ms(open.opened_at),
            deadline_at: rfc3339_from_unix_ms(open.deadline_at),
            uploads: uploaded.len() as u32,
            active_participants: active,
            needed_at_deadline: needed,
        },
        privacy: plan.plan.dp.map(|dp| dp.spent(round_no.saturating_sub(1))),
        plan,
        next_plan,
        history,
    })
}

pub async fn activate(
    mut req: Request,
    env: &Env,
    cfg: &Config,
    run_id: i64,
) -> EdgeResult<Response> {
    let user = access::caller_any_token(&req, env, cfg).await?;
    let body: ActivateRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    let client = audit::client_of(&req);
    let member = set_activity(env, user, run_id, body.active, &client).await?;
    let message = if body.active {
        "Activated"
    } else {
        "Deactivated"
    };
    json_ok(&detail_of(env, &member).await?, message, 200)
}

/// Marks the caller active or not in the run, then lets the run's object re-check its round
/// (a deactivation may leave everyone still active already uploaded).
pub async fn set_activity(
    env: &Env,
    user: UserRow,
    run_id: i64,
    active: bool,
    client: &str,
) -> EdgeResult<Member> {
    let member = access::load_member(env, user, run_id).await?;
    let db = store::db(env)?;
    store::runs::set_active(&db, run_id, &member.user.id, active).await?;
    let event = if active {
        "run_activated"
    } else {
        "run_deactivated"
    };
    audit::record(
        env,
        Some(&member.user.id),
        event,
        client,
        Some(&format!("run {run_id}")),
    )
    .await?;
    run_object::poke(env, run_id).await?;
    access::load_member(env, member.user, run_id).await
}

/// `PATCH /api/runs/{id}`: only the creator changes a run.
pub async fn update(
    mut req: Request,
    env: &Env,
    cfg: &Config,
    run_id: i64,
) -> EdgeResult<Response> {
    let user = access::caller_any_token(&req, env, cfg).await?;
    let member = access::load_member(env, user, run_id).await?;
    if !member.is_creator() {
        return Err(meshfed_shared::ApiError::new(
            meshfed_shared::ErrorCode::PermissionDenied,
            "Only the run's creator can change it",
        )
        .into());
    }
    let body: UpdateRunRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    body.validate(member.participants.len())?;
    let db = store::db(env)?;
    let mut writes = vec![];
    if let Some(change) = &body.plan {
        // Checked in full before anything is written; it starts with the next round.
        let latest = store::plans::latest(&db, run_id).await?;
        let plan = change.resolve_update(&latest.plan)?;
        let current = store::rounds::open_round(&db, run_id)
            .await?
            .map_or(1, |r| r.round as u32);
        writes.push(store::plans::insert(
            &db,
            run_id,
            latest.version + 1,
            current + 1,
            &plan,
            now_ms(),
        )?);
    }
    writes.push(store::runs::update_run(&db, run_id, &body)?);
    db.batch(writes).await?;
    run_object::reload(env, run_id).await?;
    let member = access::load_member(env, member.user, run_id).await?;
    json_ok(&detail_of(env, &member).await?, "Run updated", 200)
}
