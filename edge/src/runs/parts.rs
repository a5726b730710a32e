//! Uploads in parts, for an upload larger than one request may carry (`MAX_UPLOAD_BYTES`, a
//! proxy's or Cloudflare's body limit): R2 multipart through the Worker.
//!
//! - `POST …/rounds/{r}/{weights|gradients}/parts` `{bytes, sha256, format}`: 201 with the
//!   upload id and the part size (every part but the last has exactly that size);
//! - `PUT …/parts/{upload_id}/{n}`: part n, in any order, again if need be;
//! - `POST …/parts/{upload_id}/complete[?num_examples=…]`: the Worker joins the parts, reads the
//!   upload back checking its SHA-256 against the declared one, and only then counts it like a
//!   single-request upload (same checks, same receipt). A digest that differs is a 422 and
//!   nothing counts. Completing uses the upload in parts up, whatever the outcome: its parts
//!   and rows are deleted (and an abandoned one is aborted by the hourly sweep).

use meshfed_shared::api::runs::{
    unfit, PartReceipt, PartsFormat, PartsRequest, PartsSession, UploadKind,
};
use meshfed_shared::{ApiError, ErrorCode};
use worker::{Env, Request, Response};

use super::access::{self, Member};
use super::upload;
use crate::blobs;
use crate::config::{Config, DEFAULT_MAX_UPLOAD_BYTES};
use crate::error::EdgeResult;
use crate::http::{json_ok, now_ms, read_body, read_json};
use crate::store::{self, part_uploads::PartUploadRow};

/// Uploads in parts one participant may have open in one run at once.
const MAX_IN_PROGRESS: usize = 4;
/// The assembled upload is read whole into the Worker's memory to check and decode it, so it is
/// never larger than what one request may carry by default.
const MAX_ASSEMBLED_BYTES: usize = DEFAULT_MAX_UPLOAD_BYTES;
/// An upload in parts not completed within a day is abandoned (the sweep aborts it).
pub const ABANDONED_AFTER_MS: i64 = 24 * 3_600_000;

pub async fn start(
    mut req: Request,
    env: &Env,
    cfg: &Config,
    (run_id, round, kind): (i64, u32, UploadKind),
) -> EdgeResult<Response> {
    let user = access::caller_any_token(&req, env, cfg).await?;
    let member = access::load_member(env, user, run_id).await?;
    crate::rate_limit::limit_user(env, "upload", &member.user.id).await?;
    let declared: PartsRequest = read_json(&mut req, cfg.max_body_bytes).await?;
    let model = member.run.model()?;
    let limit = upload::model_limit(&model).min(MAX_ASSEMBLED_BYTES);
    let mut session = declared.plan(limit as u64, cfg.max_upload_bytes as u64)?;
    upload::open_to_plain_uploads(env, &member, round).await?;
    let db = store::db(env)?;
    if store::part_uploads::in_progress(&db, run_id, &member.user.id).await? >= MAX_IN_PROGRESS {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "You have {MAX_IN_PROGRESS} uploads in parts in progress in this run: complete \
                 one first (abandoned ones are dropped after a day)"
            ),
        )
        .into());
    }
    let id = crate::random::id()?;
    let r2_key = format!("runs/{run_id}/rounds/{round}/parts/{}/{id}", member.user.id);
    let r2_upload_id = blobs::start_multipart(env, &r2_key).await?;
    let format = match declared.format {
        PartsFormat::Safetensors => "safetensors",
        PartsFormat::Json => "json",
    };
    let row = PartUploadRow {
        id: id.clone(),
        run_id,
        round: round.into(),
        user_id: member.user.id.clone(),
        kind: kind.as_str().into(),
        format: format.into(),
        bytes: session.bytes as i64,
        sha256: declared.sha256,
        part_bytes: session.part_bytes as i64,
        r2_key,
        r2_upload_id,
        created_at: now_ms(),
    };
    store::part_uploads::insert(&db, &row).await?;
    session.upload_id = id;
    json_ok(&session, "Send the parts", 201)
}

pub async fn put_part(
    mut req: Request,
    env: &Env,
    cfg: &Config,
    at: (i64, u32, UploadKind),
    upload_id: &str,
    part: &str,
) -> EdgeResult<Response> {
    let (member, row, session) = load(&req, env, cfg, at, upload_id).await?;
    crate::rate_limit::limit_user(env, "upload", &member.user.id).await?;
    let part: u64 = part
        .parse()
        .map_err(|_| unfit("part", "must be a part number"))?;
    let expected = session.part_len(part)?;
    let body = read_body(&mut req, expected as usize).await?;
    if body.len() as u64 != expected {
        return Err(unfit(
            "part",
            format!(
                "part {part} must be exactly {expected} bytes, not {}",
                body.len()
            ),
        )
        .into());
    }
    let etag = blobs::put_part(env, &row.r2_key, &row.r2_upload_id, part as u16, body).await?;
    let db = store::db(env)?;
    let received = store::part_uploads::put_part(&db, &row.id, part, &etag, expected).await?;
    let receipt = PartReceipt {
        upload_id: row.id,
        part,
        bytes: expected,
        received,
        parts: session.parts,
    };
    json_ok(&receipt, "Part received", 200)
}

pub async fn complete(
    req: Request,
    env: &Env,
    cfg: &Config,
    at: (i64, u32, UploadKind),
    upload_id: &str,
) -> EdgeResult<Response> {
    let (member, row, session) = load(&req, env, cfg, at, upload_id).await?;
    let db = store::db(env)?;
    let parts: Vec<(u16, String)> = store::part_uploads::parts(&db, &row.id)
        .await?
        .into_iter()
        .map(|p| (p.part as u16, p.etag))
        .collect();
    let numbers: Vec<u64> = parts.iter().map(|p| u64::from(p.0)).collect();
    if let Some(missing) = session.missing(&numbers) {
        return Err(missing.into());
    }
    let outcome = assemble_and_count(env, &req, &member, &row, &parts, at).await;
    // Used up either way: the counted upload lives on under its own key.
    if let Err(e) = blobs::delete(env, &row.r2_key).await {
        worker::console_log!("assembled upload {} stays in R2: {e}", row.r2_key);
    }
    if outcome.is_err() {
        // Failed before the parts were joined, their rows go now: drop them from R2 too (an
        // upload already joined refuses the abort, which is then nothing to do).
        let _ = blobs::abort_multipart(env, &row.r2_key, &row.r2_upload_id).await;
    }
    store::part_uploads::delete(&db, &row.id).await?;
    json_ok(&outcome?, "Upload accepted", 200)
}

async fn assemble_and_count(
    env: &Env,
    req: &Request,
    member: &Member,
    row: &PartUploadRow,
    parts: &[(u16, String)],
    (_, round, kind): (i64, u32, UploadKind),
) -> EdgeResult<meshfed_shared::api::runs::UploadReceipt> {
    blobs::complete_multipart(env, &row.r2_key, &row.r2_upload_id, parts).await?;
    let body = blobs::get_checked(env, &row.r2_key, row.bytes as u64, &row.sha256)
        .await?
        .map_err(|digest| {
            unfit(
                "sha256",
                format!(
                    "the parts received join to an upload whose SHA-256 is {digest}, not the \
                     declared one: nothing was counted; start again"
                ),
            )
        })?;
    let model = member.run.model()?;
    let decoded = upload::decode(&body, row.format == "json", &model, &req.url()?)?;
    drop(body);
    upload::accept(env, member, round, kind, decoded).await
}

/// The caller's upload in parts `upload_id` at this run, round and kind (404 for anyone
/// else's, or one completed already) and its layout.
async fn load(
    req: &Request,
    env: &Env,
    cfg: &Config,
    (run_id, round, kind): (i64, u32, UploadKind),
    upload_id: &str,
) -> EdgeResult<(Member, PartUploadRow, PartsSession)> {
    let user = access::caller_any_token(req, env, cfg).await?;
    let member = access::load_member(env, user, run_id).await?;
    let db = store::db(env)?;
    let row = store::part_uploads::find(&db, upload_id)
        .await?
        .filter(|r| {
            r.user_id == member.user.id
                && r.run_id == run_id
                && r.round == i64::from(round)
                && r.kind == kind.as_str()
        })
        .ok_or_else(|| ApiError::not_found(format!("Upload in parts {upload_id}")))?;
    let session = PartsSession::laid_out(row.id.clone(), row.bytes as u64, row.part_bytes as u64);
    Ok((member, row, session))
}

/// Aborts the uploads in parts abandoned before `now_ms` (part of the hourly sweep); how many.
pub async fn sweep_abandoned(env: &Env, now_ms: i64) -> EdgeResult<usize> {
    let db = store::db(env)?;
    let abandoned = store::part_uploads::started_before(&db, now_ms - ABANDONED_AFTER_MS).await?;
    for row in &abandoned {
        if let Err(e) = blobs::abort_multipart(env, &row.r2_key, &row.r2_upload_id).await {
            worker::console_log!("abandoned upload in parts {}: abort failed: {e}", row.id);
        }
        store::part_uploads::delete(&db, &row.id).await?;
    }
    Ok(abandoned.len())
}
