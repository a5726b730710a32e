//! `/api/auth/…` calls, one function per flow step, with the shared request and answer types.

use meshfed_shared::api::auth::{
    Confirmation, LoginChallenge, LoginRequest, MfaSetup, RegisterRequest, TokenSet, UserProfile,
};
use meshfed_shared::secret::Secret;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{get_json, post_json, ClientError};

/// What `POST /api/auth/login` (or a second factor) answers: tokens, or the next step.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum LoginAnswer {
    Tokens(TokenSet),
    Challenge(LoginChallenge),
}

pub async fn register(request: &RegisterRequest) -> Result<UserProfile, ClientError> {
    post_json("/api/auth/register", request, None).await
}

pub async fn confirm(username: &str, code: &str) -> Result<Confirmation, ClientError> {
    let body = json!({ "username": username, "code": code });
    post_json("/api/auth/confirm", &body, None).await
}

pub async fn resend_code(username: &str) -> Result<Value, ClientError> {
    post_json(
        "/api/auth/confirm/resend",
        &json!({ "username": username }),
        None,
    )
    .await
}

pub async fn login(username: &str, password: &Secret) -> Result<LoginAnswer, ClientError> {
    let body = LoginRequest {
        username: username.to_string(),
        password: password.clone(),
        mfa_token: None,
    };
    post_json("/api/auth/login", &body, None).await
}

/// MFA setup inside sign-in (`session` from an `MFA_SETUP` challenge).
pub async fn mfa_setup(session: &Secret) -> Result<MfaSetup, ClientError> {
    post_json("/api/auth/mfa/setup", &json!({ "session": session }), None).await
}

/// The first code from the authenticator app: enables MFA and signs in.
pub async fn mfa_verify(session: &Secret, code: &str) -> Result<LoginAnswer, ClientError> {
    let body = json!({ "session": session, "code": code });
    post_json("/api/auth/mfa/verify", &body, None).await
}

/// The second factor of a sign-in: a TOTP or backup code.
pub async fn mfa_challenge(session: &Secret, code: &str) -> Result<LoginAnswer, ClientError> {
    let body = json!({ "session": session, "code": code });
    post_json("/api/auth/mfa/challenge", &body, None).await
}

pub async fn refresh(refresh_token: &Secret) -> Result<TokenSet, ClientError> {
    let body = json!({ "refresh_token": refresh_token });
    post_json("/api/auth/refresh", &body, None).await
}

pub async fn logout(access: &Secret, refresh_token: &Secret) -> Result<Value, ClientError> {
    let body = json!({ "refresh_token": refresh_token });
    post_json("/api/auth/logout", &body, Some(access.expose())).await
}

pub async fn me(access: &Secret) -> Result<UserProfile, ClientError> {
    get_json("/api/auth/me", Some(access.expose())).await
}

/// Emails a reset code to the account with this username or email (same answer either way).
pub async fn forgot_password(login: &str) -> Result<Value, ClientError> {
    post_json(
        "/api/auth/forgot-password",
        &json!({ "email": login }),
        None,
    )
    .await
}

pub async fn reset_password(
    username: &str,
    code: &str,
    new_password: &Secret,
) -> Result<Value, ClientError> {
    let body = json!({
        "username": username, "code": code,
        "new_password": new_password, "confirm_password": new_password,
    });
    post_json("/api/auth/reset-password", &body, None).await
}

/// Changes the password; the answer is a fresh token set (other sessions are signed out).
pub async fn change_password(
    access: &Secret,
    current: &Secret,
    new_password: &Secret,
    confirm: &Secret,
) -> Result<TokenSet, ClientError> {
    let body = json!({
        "current_password": current, "new_password": new_password, "confirm_password": confirm,
    });
    post_json("/api/auth/change-password", &body, Some(access.expose())).await
}
