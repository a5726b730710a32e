//! Administration (`admin:users`): list users, disable and enable an account, reset MFA,
//! read the audit log. And `GET /api/users` (`read:users`): who can be invited to a run.

use meshfed_shared::{ApiError, ErrorCode};
use worker::{Env, Request, Response};

use super::{guard, keys, mfa, session};
use crate::audit::{self, client_of};
use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::json_ok;
use crate::store::{self, users};

pub const ADMIN: &str = "admin:users";
pub const READ_USERS: &str = "read:users";

/// The caller, who must hold `permission` (403 `PERMISSION_DENIED` otherwise).
async fn authorized(
    req: &Request,
    env: &Env,
    cfg: &Config,
    permission: &str,
) -> EdgeResult<guard::AuthUser> {
    let keys = keys::load(env, cfg).await?;
    let caller = guard::require(req, env, &keys).await?;
    if !caller.claims.permissions.iter().any(|p| p == permission) {
        return Err(ApiError::new(
            ErrorCode::PermissionDenied,
            format!("This needs the {permission} permission"),
        )
        .into());
    }
    Ok(caller)
}

pub async fn list_users(req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    authorized(&req, env, cfg, ADMIN).await?;
    let rows: Vec<users::UserRow> = users::all(&store::db(env)?).await?;
    let profiles: Vec<_> = rows.iter().map(users::UserRow::profile).collect();
    json_ok(&profiles, "Users", 200)
}

async fn target(env: &Env, id: &str) -> EdgeResult<users::UserRow> {
    Ok(users::find_by_id(&store::db(env)?, id)
        .await?
        .ok_or_else(|| ApiError::from_code(ErrorCode::UserNotFound))?)
}

pub async fn set_disabled(
    req: Request,
    env: &Env,
    cfg: &Config,
    id: &str,
    disabled: bool,
) -> EdgeResult<Response> {
    let admin = authorized(&req, env, cfg, ADMIN).await?;
    let user = target(env, id).await?;
    if disabled && user.id == admin.user.id {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            "Administrators cannot disable themselves",
        )
        .into());
    }
    store::accounts::set_disabled(&store::db(env)?, &user.id, disabled).await?;
    if disabled {
        session::revoke_all_sessions(env, &user.id).await?;
    }
    let event = if disabled {
        "user_disabled"
    } else {
        "user_enabled"
    };
    audit::record(
        env,
        Some(&user.id),
        event,
        &client_of(&req),
        Some(&format!("by {}", admin.user.username)),
    )
    .await?;
    let updated = target(env, id).await?;
    json_ok(
        &updated.profile(),
        if disabled {
            "User disabled"
        } else {
            "User enabled"
        },
        200,
    )
}

pub async fn reset_mfa(req: Request, env: &Env, cfg: &Config, id: &str) -> EdgeResult<Response> {
    let admin = authorized(&req, env, cfg, ADMIN).await?;
    let user = target(env, id).await?;
    mfa::clear(env, &user.id).await?;
    audit::record(
        env,
        Some(&user.id),
        "mfa_reset",
        &client_of(&req),
        Some(&format!("by {}", admin.user.username)),
    )
    .await?;
    json_ok(
        &target(env, id).await?.profile(),
        "MFA reset: the user sets it up again at the next login",
        200,
    )
}

/// `GET /api/admin/audit?user_id=…&limit=…` (newest first, at most 500).
pub async fn audit_log(req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    authorized(&req, env, cfg, ADMIN).await?;
    let url = req.url()?;
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let limit = param("limit")
        .and_then(|l| l.parse::<u32>().ok())
        .unwrap_or(100)
        .clamp(1, 500);
    let user = param("user_id").unwrap_or_default();
    let entries = store::audit_log::latest(&store::db(env)?, &user, limit).await?;
    json_ok(&entries, "Audit log", 200)
}

/// `GET /api/users`: confirmed, active users' usernames and emails.
pub async fn directory(req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    authorized(&req, env, cfg, READ_USERS).await?;
    let entries = users::directory(&store::db(env)?).await?;
    json_ok(&entries, "Users", 200)
}
