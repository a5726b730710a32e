//! The server's Ed25519 signing key. In production it is the `JWT_SIGNING_KEY` secret (64 hex
//! characters, the key's seed) with `JWT_KEY_ID` naming it; in development, without the
//! secret, a key is generated once and kept in D1 so tokens survive restarts.

use ed25519_dalek::SigningKey;
use meshfed_shared::auth::seal;
use meshfed_shared::{ApiError, ErrorCode};
use worker::Env;

use crate::config::Config;
use crate::error::{EdgeError, EdgeResult};
use crate::http::now_ms;
use crate::store::signing_keys;
use crate::{random, store};

pub struct ServerKeys {
    pub kid: String,
    pub signing: SigningKey,
    /// The `MFA_SEALING_KEY` secret, when set: lets the JWT key rotate without making stored
    /// TOTP secrets unreadable. Without it the sealing key derives from the signing key.
    sealing_secret: Option<String>,
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKeys")
            .field("kid", &self.kid)
            .field("signing", &"[redacted]")
            .finish()
    }
}

impl ServerKeys {
    /// The key that seals stored TOTP secrets, derived from the signing key.
    pub fn totp_seal_key(&self) -> [u8; 32] {
        match &self.sealing_secret {
            Some(secret) => seal::derive_key(secret.as_bytes(), "totp-secret"),
            None => seal::derive_key(self.signing.as_bytes(), "totp-secret"),
        }
    }
}

fn sealing_secret(env: &Env) -> Option<String> {
    env.secret("MFA_SEALING_KEY")
        .ok()
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty())
}

/// Outside development the Worker serves nothing until `JWT_SIGNING_KEY` holds a valid key:
/// every request gets this 503, which names the secret to set; whether it is missing or
/// malformed goes to the Worker log only.
pub fn refuse_unconfigured(env: &Env, cfg: &Config) -> Result<(), ApiError> {
    if cfg.is_development() {
        return Ok(());
    }
    let problem = match env.secret("JWT_SIGNING_KEY") {
        Err(_) => "JWT_SIGNING_KEY is not set".to_string(),
        Ok(secret) => match parse_seed(&secret.to_string()) {
            Ok(_) => return Ok(()),
            Err(e) => format!("JWT_SIGNING_KEY is unusable: {e}"),
        },
    };
    worker::console_error!("refusing to serve: {problem} (see README, Deploying)");
    Err(ApiError::new(
        ErrorCode::ServiceUnavailable,
        "This Meshfed server is not configured yet: its operator must set the \
         JWT_SIGNING_KEY secret",
    ))
}

pub async fn load(env: &Env, cfg: &Config) -> EdgeResult<ServerKeys> {
    if let Ok(secret) = env.secret("JWT_SIGNING_KEY") {
        let kid = env
            .var("JWT_KEY_ID")
            .map(|v| v.to_string())
            .unwrap_or_else(|_| "k1".into());
        return Ok(ServerKeys {
            sealing_secret: sealing_secret(env),
            kid,
            signing: parse_seed(&secret.to_string())?,
        });
    }
    if !cfg.is_development() {
        return Err(EdgeError::Internal(
            "JWT_SIGNING_KEY is not configured".into(),
        ));
    }
    let db = store::db(env)?;
    if let Some(row) = signing_keys::first(&db).await? {
        return Ok(ServerKeys {
            sealing_secret: sealing_secret(env),
            kid: row.kid,
            signing: parse_seed(&row.private_key)?,
        });
    }
    let seed = random::bytes::<32>()?;
    let kid = format!("dev-{}", &random::id()?[..8]);
    signing_keys::insert(&db, &kid, &hex::encode(seed), now_ms()).await?;
    // Another request may have raced us: whichever key is first is the key.
    let row = signing_keys::first(&db)
        .await?
        .ok_or_else(|| EdgeError::Internal("no signing key".into()))?;
    Ok(ServerKeys {
        sealing_secret: sealing_secret(env),
        kid: row.kid,
        signing: parse_seed(&row.private_key)?,
    })
}

fn parse_seed(hex_seed: &str) -> EdgeResult<SigningKey> {
    let bytes = hex::decode(hex_seed.trim())
        .map_err(|_| EdgeError::Internal("signing key is not hex".into()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| EdgeError::Internal("signing key is not 32 bytes".into()))?;
    Ok(SigningKey::from_bytes(&seed))
}
