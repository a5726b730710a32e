//! Who may touch a run: the caller by token, and their membership.

use meshfed_shared::{ApiError, ErrorCode};
use worker::{Env, Request};

use crate::auth::{guard, keys};
use crate::config::Config;
use crate::error::EdgeResult;
use crate::store::{self, runs::ParticipantRow, runs::RunRow, users::UserRow};

pub fn parse_id(s: &str, what: &str) -> EdgeResult<i64> {
    s.parse::<i64>().ok().filter(|&n| n >= 1).ok_or_else(|| {
        ApiError::invalid_field(what, format!("{what} must be a positive integer")).into()
    })
}

/// The caller by access token, or by ID token as the seeds send it.
pub async fn caller_any_token(req: &Request, env: &Env, cfg: &Config) -> EdgeResult<UserRow> {
    let keys = keys::load(env, cfg).await?;
    Ok(guard::require_access_or_id(req, env, &keys).await?.user)
}

/// A run as one of its participants sees it.
pub struct Member {
    pub user: UserRow,
    pub run: RunRow,
    pub participants: Vec<ParticipantRow>,
}

impl Member {
    pub fn me(&self) -> Option<&ParticipantRow> {
        self.participants.iter().find(|p| p.user_id == self.user.id)
    }

    pub fn is_creator(&self) -> bool {
        self.run.creator_id == self.user.id
    }
}

/// The run if it exists (404) and `user` takes part in it (403).
pub async fn load_member(env: &Env, user: UserRow, run_id: i64) -> EdgeResult<Member> {
    let db = store::db(env)?;
    let run = store::runs::find(&db, run_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Run {run_id}")))?;
    let participants = store::runs::participants(&db, run_id).await?;
    if !participants.iter().any(|p| p.user_id == user.id) {
        return Err(ApiError::new(
            ErrorCode::PermissionDenied,
            format!("You do not take part in run {run_id}"),
        )
        .into());
    }
    Ok(Member {
        user,
        run,
        participants,
    })
}
