//! Helpers for identity tests: unique users, the dev outbox, codes from mail.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Value};

use crate::Ctx;

static USERS: AtomicU32 = AtomicU32::new(0);

/// A new username (unique in this run) and its email address.
pub fn unique_user(prefix: &str) -> (String, String) {
    let n = USERS.fetch_add(1, Ordering::SeqCst);
    let username = format!("{prefix}_{}_{n}", std::process::id() % 10_000);
    let email = format!("{username}@clinic.example.org");
    (username, email)
}

pub const PASSWORD: &str = "Tulip-Harbor-7";

pub fn registration(username: &str, email: &str) -> Value {
    json!({
        "username": username, "email": email, "password": PASSWORD,
        "first_name": "Ada", "last_name": "Lovelace", "organization": "Clinic Example",
    })
}

/// The mail the dev outbox holds for `to`, newest first.
pub async fn outbox(ctx: &Ctx, to: &str) -> Vec<Value> {
    // Test addresses are plain ASCII; only '+' needs escaping in a query.
    let url = format!("/api/_dev/outbox?to={}", to.replace('+', "%2B"));
    let resp = ctx.get(&url).send().await;
    assert_eq!(resp.status, 200);
    let body: Value = resp.json();
    body["data"].as_array().expect("outbox is a list").clone()
}

/// The first run of exactly six digits in `text`.
pub fn six_digits(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(5)).find_map(|i| {
        let window = &bytes[i..i + 6];
        let before = i
            .checked_sub(1)
            .map(|j| bytes[j].is_ascii_digit())
            .unwrap_or(false);
        let after = bytes.get(i + 6).is_some_and(u8::is_ascii_digit);
        (window.iter().all(u8::is_ascii_digit) && !before && !after)
            .then(|| String::from_utf8_lossy(window).into_owned())
    })
}

/// The code in the newest message to `to`.
pub async fn latest_code(ctx: &Ctx, to: &str) -> String {
    let mail = outbox(ctx, to).await;
    let newest = mail.first().unwrap_or_else(|| panic!("no mail for {to}"));
    six_digits(newest["body"].as_str().unwrap()).expect("a 6-digit code in the mail")
}

/// Registers and confirms a user; returns the confirmation data.
pub async fn registered_and_confirmed(ctx: &Ctx, prefix: &str) -> (String, String, Value) {
    let (username, email) = unique_user(prefix);
    registered_and_confirmed_as(ctx, username, email).await
}

/// Registers and confirms `username` with `email`.
pub async fn registered_and_confirmed_as(
    ctx: &Ctx,
    username: String,
    email: String,
) -> (String, String, Value) {
    let resp = ctx
        .post("/api/auth/register")
        .json(&registration(&username, &email))
        .send()
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let code = latest_code(ctx, &email).await;
    let resp = ctx
        .post("/api/auth/confirm")
        .json(&json!({"username": username, "code": code}))
        .send()
        .await;
    assert_eq!(resp.status, 200);
    let body: Value = resp.json();
    (username, email, body["data"].clone())
}

/// Signs `username` in with the password: the one-use session of its SOFTWARE_TOKEN_MFA
/// challenge.
pub async fn mfa_session(ctx: &Ctx, username: &str) -> Value {
    let body = json!({"username": username, "password": PASSWORD});
    let (status, login) = post(ctx, "/api/auth/login", body, None).await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["data"]["challenge"], "SOFTWARE_TOKEN_MFA", "{login}");
    login["data"]["session"].clone()
}

/// Signs `username` in with the password and answers the challenge with `code`.
pub async fn answer_challenge(ctx: &Ctx, username: &str, code: &str) -> (u16, Value) {
    let session = mfa_session(ctx, username).await;
    let body = json!({"username": username, "session": session, "code": code});
    post(ctx, "/api/auth/mfa/challenge", body, None).await
}

/// POSTs JSON to `path`, returning status and body.
pub async fn post(ctx: &Ctx, path: &str, body: Value, bearer: Option<&str>) -> (u16, Value) {
    let call = ctx.post(path).json(&body).maybe_bearer(bearer);
    call.send().await.status_json()
}

pub async fn get(ctx: &Ctx, path: &str, bearer: Option<&str>) -> (u16, Value) {
    ctx.get(path)
        .maybe_bearer(bearer)
        .send()
        .await
        .status_json()
}

/// The TOTP code for `secret_b32` at now + `offset_secs`.
pub fn totp_now(secret_b32: &str, offset_secs: i64) -> String {
    totp_at(secret_b32, unix_now() + offset_secs)
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Now in Unix seconds, at least 3 s before the next TOTP step begins (waiting for it if
/// need be), so a code computed now is judged by the server in the same step.
pub fn clear_of_a_step_change() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into_step = now.as_secs_f64() % 30.0;
    if into_step > 27.0 {
        std::thread::sleep(std::time::Duration::from_secs_f64(30.2 - into_step));
    }
    unix_now()
}

/// The TOTP code for `secret_b32` at Unix time `at`.
pub fn totp_at(secret_b32: &str, at: i64) -> String {
    let secret = meshfed_shared::auth::totp::base32_decode(secret_b32).expect("base32 secret");
    meshfed_shared::auth::totp::code_at(&secret, at as u64)
}

/// A confirmed user who has set MFA up through the sign-in flow.
pub struct MfaUser {
    pub username: String,
    pub email: String,
    pub secret: String,
    pub backup_codes: Vec<String>,
    pub tokens: Value,
    /// The 12-word recovery phrase confirmation gave out (it signs secure rounds' keys).
    pub recovery_phrase: String,
    /// A time in the TOTP step the setup code belongs to (that step is now used up). It is
    /// the step before the one current at setup, so the current step's code is still fresh.
    pub setup_at: i64,
}

pub async fn user_with_mfa(ctx: &Ctx, prefix: &str) -> MfaUser {
    let (username, email) = unique_user(prefix);
    user_with_mfa_as(ctx, username, email).await
}

pub async fn user_with_mfa_as(ctx: &Ctx, username: String, email: String) -> MfaUser {
    let (username, email, confirmed) = registered_and_confirmed_as(ctx, username, email).await;
    let recovery_phrase = confirmed["mnemonic"]
        .as_str()
        .expect("mnemonic")
        .to_string();
    let (status, login) = post(
        ctx,
        "/api/auth/login",
        json!({"username": username, "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["data"]["challenge"], "MFA_SETUP");
    let session = login["data"]["session"].as_str().unwrap().to_string();
    let (status, setup) = post(
        ctx,
        "/api/auth/mfa/setup",
        json!({"session": session}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{setup}");
    let setup = &setup["data"];
    let secret = setup["secret"].as_str().unwrap().to_string();
    // Set up with the previous step's code (the server allows one step of drift): the
    // current step's code stays unused, so the user can sign in straight away instead of
    // waiting up to 30 s for the next step.
    let setup_at = clear_of_a_step_change() - 30;
    let code = totp_at(&secret, setup_at);
    let verify = json!({"session": setup["session"], "code": code});
    let (status, tokens) = post(ctx, "/api/auth/mfa/verify", verify, None).await;
    assert_eq!(status, 200, "{tokens}");
    let backup_codes = setup["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    MfaUser {
        username,
        email,
        secret,
        backup_codes,
        tokens: tokens["data"].clone(),
        recovery_phrase,
        setup_at,
    }
}

#[cfg(test)]
mod tests {
    use super::six_digits;

    #[test]
    fn finds_exactly_six_digits() {
        assert_eq!(
            six_digits("Your code is 012345. Valid 15 minutes").as_deref(),
            Some("012345")
        );
        assert_eq!(six_digits("1234567 then 654321").as_deref(), Some("654321"));
        assert_eq!(six_digits("no code"), None);
    }
}
