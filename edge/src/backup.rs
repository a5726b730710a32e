//! Backup capabilities (seed 002's temporary credentials): a 1-hour JWT of type `backup` that
//! allows PUT, GET, LIST and DELETE under `backups/<user_id>/` in R2, through
//! `/api/backup/objects/{key}`, and nothing else. The prefix comes from the signed token, so no
//! key can reach outside it; a key is also refused if it is not a clean relative path.

use meshfed_shared::{ApiError, ErrorCode};
use serde::Serialize;
use worker::{Env, Method, Request, Response};

use crate::auth::{guard, keys, tokens};
use crate::config::Config;
use crate::error::EdgeResult;
use crate::http::{json_ok, now_ms, read_body};
use crate::store::users::UserRow;

pub const CAPABILITY_TTL_SECS: i64 = 60 * 60;
/// Largest object one PUT may store (`BACKUP_MAX_BYTES`, default 25 MiB).
pub const DEFAULT_MAX_OBJECT_BYTES: usize = 25 * 1024 * 1024;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Capability {
    pub token: meshfed_shared::secret::Secret,
    pub prefix: String,
    pub endpoint: String,
    pub expires_at: String,
}

pub fn prefix_for(user_id: &str) -> String {
    format!("backups/{user_id}/")
}

/// A capability for `user`'s backup folder.
pub async fn issue(env: &Env, cfg: &Config, user: &UserRow) -> EdgeResult<Capability> {
    let keys = keys::load(env, cfg).await?;
    let now = now_ms() / 1000;
    let token = tokens::sign(&keys, user, "backup", (now, CAPABILITY_TTL_SECS), None)?;
    Ok(Capability {
        token: meshfed_shared::secret::Secret::new(token),
        prefix: prefix_for(&user.id),
        endpoint: "/api/backup/objects/".into(),
        expires_at: meshfed_shared::time::rfc3339_from_unix_ms((now + CAPABILITY_TTL_SECS) * 1000),
    })
}

/// `POST /api/auth/backup-credentials` (access token).
pub async fn credentials(req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let keys = keys::load(env, cfg).await?;
    let user = guard::require(&req, env, &keys).await?.user;
    json_ok(
        &issue(env, cfg, &user).await?,
        "Backup capability valid for one hour",
        200,
    )
}

/// A key relative to the user's folder: 1–512 bytes of path segments without `.`/`..`, empty
/// segments, a leading `/`, backslashes or control characters.
pub fn valid_key(key: &str) -> Result<(), String> {
    let ok = (1..=512).contains(&key.len())
        && !key.starts_with('/')
        && !key.chars().any(|c| c.is_control() || c == '\\')
        && key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    ok.then_some(())
        .ok_or_else(|| "a relative path of non-empty segments without . or ..".to_string())
}

pub async fn objects(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    // The key is the raw rest of the path: the router's trimming would turn `dir/` into `dir`.
    let path = req.path();
    let key = path
        .strip_prefix("/api/backup/objects")
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let keys = keys::load(env, cfg).await?;
    let token = guard::bearer(&req)
        .ok_or_else(|| ApiError::new(ErrorCode::TokenInvalid, "Missing backup capability"))?;
    let user = guard::verify(env, &keys, &token, "backup").await?.user;
    let prefix = prefix_for(&user.id);
    let bucket = env.bucket("BLOBS")?;
    if key.is_empty() {
        if req.method() != Method::Get {
            return Err(ApiError::from_code(ErrorCode::MethodNotAllowed).into());
        }
        let listed = bucket
            .list()
            .prefix(prefix.clone())
            .limit(1000)
            .execute()
            .await?;
        let items: Vec<_> = listed
            .objects()
            .iter()
            .map(|o| serde_json::json!({"key": o.key().trim_start_matches(&prefix), "size": o.size()}))
            .collect();
        return json_ok(&items, "Backup objects", 200);
    }
    valid_key(&key).map_err(|reason| ApiError::invalid_field("key", reason))?;
    let full = format!("{prefix}{key}");
    match req.method() {
        Method::Put => {
            let limit = env
                .var("BACKUP_MAX_BYTES")
                .ok()
                .and_then(|v| v.to_string().parse().ok())
                .unwrap_or(DEFAULT_MAX_OBJECT_BYTES);
            let bytes = read_body(&mut req, limit).await?;
            let size = bytes.len();
            bucket.put(&full, bytes).execute().await?;
            json_ok(
                &serde_json::json!({"key": key, "size": size}),
                "Stored",
                201,
            )
        }
        Method::Get => {
            let object = bucket
                .get(&full)
                .execute()
                .await?
                .ok_or_else(|| ApiError::not_found(format!("No backup object {key}")))?;
            let body = object
                .body()
                .ok_or_else(|| ApiError::not_found(format!("No backup object {key}")))?;
            let mut resp = Response::from_bytes(body.bytes().await?)?;
            resp.headers_mut()
                .set("content-type", "application/octet-stream")?;
            Ok(resp)
        }
        Method::Delete => {
            bucket.delete(&full).await?;
            json_ok(&serde_json::json!({"key": key}), "Deleted", 200)
        }
        _ => Err(ApiError::from_code(ErrorCode::MethodNotAllowed).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn keys_stay_relative_and_clean() {
        for ok in ["a", "models/round-1.safetensors", "2026/11/22/notes.txt"] {
            assert!(valid_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/a", "../a", "a/../b", "a/./b", ".", "a//b", "a/", "a\\b", "a\u{0}b",
        ] {
            assert!(valid_key(bad).is_err(), "{bad:?}");
        }
        assert!(valid_key(&"k".repeat(513)).is_err());
    }
}
