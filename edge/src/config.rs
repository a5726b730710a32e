//! Worker configuration from `wrangler.toml` `[vars]`, read once per request.

use worker::Env;

/// Bodies above this many bytes are refused with 413 unless `MAX_BODY_BYTES` says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Workers accept request bodies up to 100 MB; uploads stay below that.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 96 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    /// `development` enables the dev-only routes (`/api/_dev/…`); anything else disables them.
    pub environment: String,
    /// Largest JSON body accepted by the canonical API.
    pub max_body_bytes: usize,
    /// Largest tensor upload (weights, gradients, a run with initial weights): the Worker
    /// also refuses anything far larger than the run's model could need.
    pub max_upload_bytes: usize,
    /// Scales every rate limit (`RATE_LIMIT_MULTIPLIER`, default 1: seed 003's table). Only
    /// for load tests and the shared end-to-end server, which acts as one client.
    pub rate_limit_multiplier: u32,
    /// How long five wrong passwords lock an account (`LOCKOUT_SECS`, default 900).
    pub lockout_secs: i64,
    /// How long a sign-in challenge session lives (`CHALLENGE_SESSION_SECS`, default 180).
    pub challenge_session_secs: i64,
}

impl Config {
    pub fn from_env(env: &Env) -> Self {
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
        Self {
            environment: var("ENVIRONMENT").unwrap_or_else(|| "production".into()),
            max_body_bytes: var("MAX_BODY_BYTES")
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_MAX_BODY_BYTES),
            max_upload_bytes: var("MAX_UPLOAD_BYTES")
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_MAX_UPLOAD_BYTES),
            rate_limit_multiplier: var("RATE_LIMIT_MULTIPLIER")
                .and_then(|v| v.parse().ok())
                .filter(|&m| m >= 1)
                .unwrap_or(1),
            lockout_secs: var("LOCKOUT_SECS")
                .and_then(|v| v.parse().ok())
                .filter(|&s| s > 0)
                .unwrap_or(900),
            challenge_session_secs: var("CHALLENGE_SESSION_SECS")
                .and_then(|v| v.parse().ok())
                .filter(|&s| s > 0)
                .unwrap_or(180),
        }
    }

    pub fn is_development(&self) -> bool {
        self.environment == "development"
    }

    /// The defaults in `environment`, for unit tests.
    #[cfg(test)]
    pub fn for_tests(environment: &str) -> Self {
        Self {
            environment: environment.into(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            rate_limit_multiplier: 1,
            lockout_secs: 900,
            challenge_session_secs: 180,
        }
    }
}
