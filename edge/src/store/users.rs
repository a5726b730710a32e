//! The `users` table.

use meshfed_shared::api::auth::DirectoryEntry;
use meshfed_shared::api::auth::{UserProfile, ValidRegistration};
use meshfed_shared::secret::Secret;
use meshfed_shared::time::rfc3339_from_unix_ms;
use serde::Deserialize;
use worker::query;
use worker::{D1Database, D1Type};

use crate::error::EdgeResult;

#[derive(Debug, Clone, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub organization: Option<String>,
    /// Argon2id PHC string: redacted in `Debug`, never in a response.
    pub password_hash: Secret,
    pub roles: String,
    pub confirmed: i64,
    pub disabled: i64,
    pub mfa_enabled: i64,
    pub created_at: i64,
    pub last_login: Option<i64>,
    pub locked_until: Option<i64>,
    /// Sealed TOTP secrets (see `auth::keys`): redacted in `Debug`.
    pub mfa_secret_enc: Option<Secret>,
    pub mfa_pending_enc: Option<Secret>,
}

const COLUMNS: &str = "id, username, email, first_name, last_name, organization, password_hash, \
                       roles, confirmed, disabled, mfa_enabled, created_at, last_login, \
                       locked_until, mfa_secret_enc, mfa_pending_enc";

impl UserRow {
    pub fn roles(&self) -> Vec<String> {
        serde_json::from_str(&self.roles).unwrap_or_else(|_| vec!["user".into()])
    }

    pub fn profile(&self) -> UserProfile {
        let roles = self.roles();
        UserProfile {
            id: self.id.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            organization: self.organization.clone(),
            permissions: meshfed_shared::auth::roles::permissions_for(&roles),
            roles,
            created_at: rfc3339_from_unix_ms(self.created_at),
            last_login: self.last_login.map(rfc3339_from_unix_ms),
            is_active: self.disabled == 0,
            is_confirmed: self.confirmed != 0,
            mfa_enabled: self.mfa_enabled != 0,
        }
    }
}

/// By username or email, case-insensitively.
pub async fn find_by_login(db: &D1Database, login: &str) -> EdgeResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE username = ?1 OR email = ?1 LIMIT 1");
    Ok(query!(&db, sql, login)?.first(None).await?)
}

/// Every user, oldest first (administration).
pub async fn all(db: &D1Database) -> EdgeResult<Vec<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY created_at, id");
    Ok(db.prepare(sql).all().await?.results()?)
}

/// Confirmed, enabled users (who can be invited to a run).
pub async fn directory(db: &D1Database) -> EdgeResult<Vec<DirectoryEntry>> {
    Ok(db
        .prepare(
            "SELECT username, email FROM users WHERE confirmed = 1 AND disabled = 0 \
             ORDER BY username",
        )
        .all()
        .await?
        .results()?)
}

pub async fn find_by_id(db: &D1Database, id: &str) -> EdgeResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = ?1");
    Ok(query!(&db, sql, id)?.first(None).await?)
}

/// Which of `username` and `email` are already taken (`"username"`, `"email"`).
pub async fn taken_fields(
    db: &D1Database,
    username: &str,
    email: &str,
) -> EdgeResult<Vec<&'static str>> {
    #[derive(Deserialize)]
    struct Taken {
        username_taken: i64,
        email_taken: i64,
    }
    let row: Option<Taken> = query!(
        &db,
        "SELECT EXISTS(SELECT 1 FROM users WHERE username = ?1) AS username_taken, \
             EXISTS(SELECT 1 FROM users WHERE email = ?2) AS email_taken",
        username,
        email
    )?
    .first(None)
    .await?;
    let mut fields = Vec::new();
    if let Some(t) = row {
        if t.username_taken != 0 {
            fields.push("username");
        }
        if t.email_taken != 0 {
            fields.push("email");
        }
    }
    Ok(fields)
}

/// Inserts a new, unconfirmed user. `Ok(false)` when a concurrent registration took the
/// username or email first (the UNIQUE constraints decide).
pub async fn insert(
    db: &D1Database,
    id: &str,
    reg: &ValidRegistration,
    password_hash: &str,
    now: i64,
) -> EdgeResult<bool> {
    let org = reg.organization.as_deref();
    let changes = super::changed_rows(query!(
        &db,
        "INSERT INTO users (id, username, email, first_name, last_name, organization, \
             password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) \
             ON CONFLICT DO NOTHING",
        id,
        reg.username.as_str(),
        reg.email.as_str(),
        reg.first_name.as_str(),
        reg.last_name.as_str(),
        org,
        password_hash,
        now
    )?)
    .await?;
    Ok(changes == 1)
}

/// Marks the user confirmed and stores the mnemonic's public key and digests (only those).
pub async fn confirm(
    db: &D1Database,
    id: &str,
    roles: &[String],
    mnemonic: &meshfed_shared::auth::mnemonic::IssuedMnemonic,
    now: i64,
) -> EdgeResult<()> {
    query!(
        &db,
        "UPDATE users SET confirmed = 1, roles = ?2, public_key = ?3, mnemonic_sha3_256 = ?4, \
         mnemonic_sha3_512 = ?5, updated_at = ?6 WHERE id = ?1",
        id,
        serde_json::to_string(roles)?,
        mnemonic.public_key_hex.as_str(),
        mnemonic.digests.sha3_256_hex.as_str(),
        mnemonic.digests.sha3_512_hex.as_str(),
        now
    )?
    .run()
    .await?;
    Ok(())
}

/// Records a failed password: counts it, and locks the account for `lock_ms` once the count
/// reaches `max_failures` (the count then starts again). Returns (failures, locked_until).
pub async fn record_failure(
    db: &D1Database,
    id: &str,
    max_failures: i64,
    lock_ms: i64,
    now: i64,
) -> EdgeResult<(i64, Option<i64>)> {
    #[derive(Deserialize)]
    struct Row {
        failed_logins: i64,
        locked_until: Option<i64>,
    }
    let row: Option<Row> = query!(
        &db,
        "UPDATE users SET \
               locked_until = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 ELSE locked_until END, \
               failed_logins = CASE WHEN failed_logins + 1 >= ?2 THEN 0 ELSE failed_logins + 1 END \
             WHERE id = ?1 RETURNING failed_logins, locked_until",
        id,
        max_failures,
        now + lock_ms
    )?
    .first(None)
    .await?;
    Ok(row.map_or((0, None), |r| {
        let locked = r.locked_until.filter(|&t| t > now);
        (
            if locked.is_some() {
                max_failures
            } else {
                r.failed_logins
            },
            locked,
        )
    }))
}

pub async fn clear_failures(db: &D1Database, id: &str) -> EdgeResult<()> {
    query!(
        &db,
        "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?1",
        id
    )?
    .run()
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
        let binds: Vec<D1Type> = chunk.iter().map(|e| D1Type::Text(e)).collect();
        let rows: Vec<Row> = db
            .prepare(format!(
                "SELECT id, email FROM users WHERE confirmed = 1 AND disabled = 0 AND \
                 lower(email) IN ({})",
                marks.join(", ")
            ))
            .bind_refs(&binds)?
            .all()
            .await?
            .results()?;
        out.extend(rows.into_iter().map(|r| (r.id, r.email.to_lowercase())));
    }
    Ok(out)
}
