//! Changes to a user's own row after registration: profile, email, password, mnemonic check,
//! sign-ins and disabling (`users`; creating and confirming users is `users`).

use worker::query;
use worker::D1Database;

use crate::error::EdgeResult;

/// The names a profile edit may change (already validated).
pub struct Profile<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub organization: Option<&'a str>,
}

pub async fn update_profile(
    db: &D1Database,
    user_id: &str,
    profile: &Profile<'_>,
    now: i64,
) -> EdgeResult<()> {
    query!(
        &db,
        "UPDATE users SET first_name = ?2, last_name = ?3, organization = ?4, updated_at = ?5 \
         WHERE id = ?1",
        user_id,
        profile.first_name,
        profile.last_name,
        profile.organization,
        now
    )?
    .run()
    .await?;
    Ok(())
}

/// Sets the user's email; `false` when another user has it (the UNIQUE constraint decides).
pub async fn change_email(
    db: &D1Database,
    user_id: &str,
    email: &str,
    now: i64,
) -> EdgeResult<bool> {
    let changed = super::changed_rows(query!(
        &db,
        "UPDATE OR IGNORE users SET email = ?2, updated_at = ?3 WHERE id = ?1",
        user_id,
        email,
        now
    )?)
    .await?;
    Ok(changed == 1)
}

/// Stores a new password hash and clears any lockout.
pub async fn set_password(
    db: &D1Database,
    user_id: &str,
    password_hash: &str,
    now: i64,
) -> EdgeResult<()> {
    query!(
        &db,
        "UPDATE users SET password_hash = ?2, failed_logins = 0, locked_until = NULL, \
         updated_at = ?3 WHERE id = ?1",
        user_id,
        password_hash,
        now
    )?
    .run()
    .await?;
    Ok(())
}

/// The SHA3-256 digest (hex) of the user's recovery mnemonic, once confirmed.
pub async fn mnemonic_digest(db: &D1Database, user_id: &str) -> EdgeResult<Option<String>> {
    Ok(query!(
        &db,
        "SELECT mnemonic_sha3_256 FROM users WHERE id = ?1",
        user_id
    )?
    .first(Some("mnemonic_sha3_256"))
    .await?)
}

pub async fn record_login(db: &D1Database, user_id: &str, now: i64) -> EdgeResult<()> {
    query!(
        &db,
        "UPDATE users SET last_login = ?2 WHERE id = ?1",
        user_id,
        now
    )?
    .run()
    .await?;
    Ok(())
}

pub async fn set_disabled(db: &D1Database, user_id: &str, disabled: bool) -> EdgeResult<()> {
    query!(
        &db,
        "UPDATE users SET disabled = ?2 WHERE id = ?1",
        user_id,
        i32::from(disabled)
    )?
    .run()
    .await?;
    Ok(())
}
