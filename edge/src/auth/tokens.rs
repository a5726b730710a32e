//! Issuing tokens: access (30 min) and id (1 h) JWTs signed with the server key, and an opaque
//! refresh token (7 days) stored as a digest, in a family that rotation keeps together.

use meshfed_shared::api::auth::{TokenSet, UserSummary};
use meshfed_shared::auth::{codes, jwt, roles};
use meshfed_shared::secret::Secret;
use worker::Env;

use super::keys::ServerKeys;
use crate::error::EdgeResult;
use crate::http::now_ms;
use crate::random;
use crate::store::{self, users::UserRow};

pub const ACCESS_TTL_SECS: i64 = 30 * 60;
pub const ID_TTL_SECS: i64 = 60 * 60;
pub const ISSUER: &str = "meshfed";
pub const AUDIENCE: &str = "meshfed-api";

/// Signs a JWT of `token_type` for `user`, valid `ttl` seconds from `now` (seconds), for the
/// sign-in session `sid` (its refresh-token family), if any.
pub fn sign(
    keys: &ServerKeys,
    user: &UserRow,
    token_type: &str,
    (now, ttl): (i64, i64),
    sid: Option<&str>,
) -> EdgeResult<String> {
    let role_list = user.roles();
    let claims = jwt::Claims {
        sub: user.username.clone(),
        user_id: user.id.clone(),
        email: user.email.clone(),
        permissions: roles::permissions_for(&role_list),
        roles: role_list,
        iat: now,
        nbf: now,
        exp: now + ttl,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        jti: random::id()?,
        token_type: token_type.into(),
        sid: sid.map(str::to_string),
    };
    Ok(jwt::sign(&claims, &keys.signing, &keys.kid))
}

/// A full token set for `user`; the refresh token joins `family` (a new one at sign-in).
pub async fn issue(
    env: &Env,
    keys: &ServerKeys,
    user: &UserRow,
    family: Option<&str>,
) -> EdgeResult<TokenSet> {
    let now_ms = now_ms();
    let db = store::db(env)?;
    // Tokens issued before a user's cutoff are revoked (whole seconds): a token issued right
    // after a cutoff (a password change returning fresh tokens) must not fall before it.
    let cutoff = store::tokens::cutoff(&db, &user.id).await?;
    let now = cutoff.map_or(now_ms / 1000, |c| c.max(now_ms / 1000));
    let refresh = codes::opaque_token(&random::bytes()?);
    let family = match family {
        Some(f) => f.to_string(),
        None => random::id()?,
    };
    store::tokens::insert_refresh(&db, &refresh, &family, &user.id, now_ms).await?;
    store::accounts::record_login(&db, &user.id, now_ms).await?;
    let role_list = user.roles();
    Ok(TokenSet {
        access_token: Secret::new(sign(
            keys,
            user,
            "access",
            (now, ACCESS_TTL_SECS),
            Some(&family),
        )?),
        id_token: Secret::new(sign(keys, user, "id", (now, ID_TTL_SECS), Some(&family))?),
        refresh_token: Secret::new(refresh),
        token_type: "bearer".into(),
        expires_in: ACCESS_TTL_SECS,
        user: UserSummary {
            id: user.id.clone(),
            username: user.username.clone(),
            email: user.email.clone(),
            permissions: roles::permissions_for(&role_list),
            roles: role_list,
        },
    })
}
