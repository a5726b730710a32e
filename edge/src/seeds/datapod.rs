//! Seed 002 ("Datapod"): `/users/*` and `/mnemonics/check-mnemonic`, in its
//! `{"error","success","message","data"}` envelope (signup answers with `msg`).
//!
//! Deliberate differences from the document: a wrong password and an unknown user get the
//! same message (the document tells them apart, which would reveal accounts); success bodies
//! have `error: false, success: true` (the document's confirm-signup example has them
//! swapped); `users/mfa-settings` cannot switch MFA off (that needs the password and a code).

use meshfed_shared::api::auth::{
    LoginChallenge, RegisterRequest, TokenSet, CHALLENGE_MFA_SETUP, CHALLENGE_SOFTWARE_TOKEN,
};
use meshfed_shared::secret::{constant_time_eq, Secret};
use meshfed_shared::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Request, Response};

use crate::audit::client_of;
use crate::auth::login::{self, LoginOutcome};
use crate::auth::{account, guard, keys, mfa, register};
use crate::config::Config;
use crate::error::{EdgeError, EdgeResult};
use crate::http::{now_ms, parse_json, read_body};
use crate::store::{self, sessions, users};

pub async fn dispatch(
    mut req: Request,
    env: &Env,
    cfg: &Config,
    path: &[&str],
) -> Option<worker::Result<Response>> {
    let route = match path {
        ["users", r] => *r,
        ["mnemonics", "check-mnemonic"] => "check-mnemonic",
        _ => return None,
    };
    let known = [
        "signup",
        "confirm-signup",
        "login",
        "associate-mfa",
        "verify-mfa",
        "post-login-mfa",
        "mfa-settings",
        "forgot-password",
        "confirm-password",
        "check-mnemonic",
        "awstempcredentials",
    ];
    if req.method() != worker::Method::Post || !known.contains(&route) {
        return None;
    }
    let body: Value = match read_body(&mut req, cfg.max_body_bytes)
        .await
        .and_then(|b| parse_json(&b))
    {
        Ok(v) => v,
        Err(e) => return Some(failure(e, "body")),
    };
    let client = client_of(&req);
    let result = match route {
        "signup" => signup(env, cfg, body).await,
        "confirm-signup" => confirm_signup(env, body).await,
        "login" => login(env, cfg, &client, body).await,
        "associate-mfa" => associate(env, cfg, body).await,
        "verify-mfa" => verify(env, cfg, &client, body).await,
        "post-login-mfa" => post_login(env, cfg, &client, body).await,
        "mfa-settings" => settings(env, cfg, body).await,
        "forgot-password" => forgot(env, cfg, body).await,
        "confirm-password" => confirm_password(env, &client, body).await,
        "awstempcredentials" => temp_credentials(env, cfg, body).await,
        _ => check_mnemonic(&req, env, cfg, body).await,
    };
    Some(result.or_else(|e| failure(e, route)))
}

fn reply(status: u16, message: Option<&str>, data: Value) -> EdgeResult<Response> {
    let ok = status < 400;
    let body = json!({"error": !ok, "success": ok, "message": message, "data": data});
    Ok(Response::from_json(&body)?.with_status(status))
}

/// A failure in this document's envelope; internal causes are logged and hidden.
fn failure(err: EdgeError, route: &str) -> worker::Result<Response> {
    let api = err.into_api_error(route);
    let status = match api.code {
        ErrorCode::AuthenticationFailed
        | ErrorCode::ValidationError
        | ErrorCode::MfaInvalid
        | ErrorCode::TokenInvalid => 400,
        _ => api.http_status(),
    };
    let body = json!({"error": true, "success": false, "message": api.message, "data": null});
    Ok(Response::from_json(&body)?.with_status(status))
}

fn fail(message: &str) -> EdgeError {
    ApiError::new(ErrorCode::ValidationError, message).into()
}

fn field<T: serde::de::DeserializeOwned>(body: &Value) -> EdgeResult<T> {
    serde_json::from_value(body.clone()).map_err(|e| fail(&format!("Invalid request: {e}")))
}

fn token_data(t: &TokenSet) -> Value {
    json!({
        "id_token": t.id_token.expose(), "access_token": t.access_token.expose(),
        "refresh_token": t.refresh_token.expose(), "expires_in": t.expires_in, "token_type": "Bearer",
    })
}

fn challenge_data(c: &LoginChallenge, username: &str) -> Value {
    let mut params = json!({"USER_ID_FOR_SRP": username});
    if c.challenge == CHALLENGE_MFA_SETUP {
        params["MFAS_CAN_SETUP"] = json!("[\"SOFTWARE_TOKEN_MFA\"]");
    }
    json!({"challenge_name": c.challenge, "session_token": c.session.expose(), "challenge_parameters": params})
}

async fn signup(env: &Env, cfg: &Config, body: Value) -> EdgeResult<Response> {
    let request: RegisterRequest = field(&body)?;
    match register::create_user(env, cfg, &request).await {
        Ok(_) => {
            let body = json!({"error": false, "success": true,
                "msg": "Please confirm your signup, check Email for validation code"});
            Ok(Response::from_json(&body)?)
        }
        Err(EdgeError::Api(e)) => {
            let field = e
                .details
                .as_ref()
                .and_then(|d| d["field"].as_str())
                .unwrap_or_default()
                .to_string();
            let (status, msg) = match (e.code, field.as_str()) {
                (ErrorCode::UserExists, "email") => (400, "An error occurred (UserLambdaValidationException) when calling the SignUp operation: PreSignUp failed with error This email already exists.".to_string()),
                (ErrorCode::UserExists, _) => (401, "An error occurred (UsernameExistsException) when calling the SignUp operation: User already exists".to_string()),
                _ => {
                    let reason = e.details.as_ref().and_then(|d| d["reason"].as_str()).unwrap_or(&e.message).to_string();
                    (400, format!("An error occurred (InvalidParameterException) when calling the SignUp operation: {reason}"))
                }
            };
            Ok(
                Response::from_json(&json!({"msg": msg, "error": true, "success": false}))?
                    .with_status(status),
            )
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
struct ConfirmSignup {
    username: String,
    code: Secret,
}

async fn confirm_signup(env: &Env, body: Value) -> EdgeResult<Response> {
    let b: ConfirmSignup = field(&body)?;
    let c = match register::confirm_user(env, &b.username, b.code.expose()).await {
        Err(EdgeError::Api(e)) if e.code == ErrorCode::AuthenticationFailed => {
            return reply(401, Some("Invalid Verification code"), Value::Null)
        }
        other => other?,
    };
    let user = users::find_by_login(&store::db(env)?, &c.username)
        .await?
        .ok_or_else(ApiError::internal)?;
    let data = json!({
        "username": c.username, "code": b.code.expose(), "mnemonic": c.mnemonic.expose(),
        "public": c.public_key, "private": c.private_key.expose(),
        "name": format!("{} {}", user.first_name, user.last_name), "email": c.email,
    });
    reply(
        200,
        Some("The user has been confirmed, Please sign in"),
        data,
    )
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: Secret,
}

async fn login(env: &Env, cfg: &Config, client: &str, body: Value) -> EdgeResult<Response> {
    let b: Login = field(&body)?;
    let request = meshfed_shared::api::auth::LoginRequest {
        username: b.username.clone(),
        password: b.password,
        mfa_token: None,
    };
    match login::sign_in(env, cfg, client, &request).await {
        Ok(LoginOutcome::Tokens(t)) => reply(200, Some("success"), token_data(&t)),
        Ok(LoginOutcome::Challenge(c)) => reply(200, None, challenge_data(&c, &b.username)),
        Err(EdgeError::Api(e))
            if e.code == ErrorCode::AuthenticationFailed
                && e.message != "User is not confirmed" =>
        {
            reply(
                400,
                Some("The username or password is incorrect"),
                Value::Null,
            )
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct MfaBody {
    session: Option<Secret>,
    access_token: Option<Secret>,
    username: Option<String>,
    code: Option<Secret>,
}

/// The user by a one-use session of `challenge`, or by an access token in the body.
async fn mfa_caller(
    env: &Env,
    cfg: &Config,
    b: &MfaBody,
    challenge: &str,
) -> EdgeResult<(users::UserRow, bool)> {
    let keys = keys::load(env, cfg).await?;
    if let Some(token) = &b.access_token {
        return Ok((
            guard::verify(env, &keys, token.expose(), "access")
                .await?
                .user,
            false,
        ));
    }
    let session = b
        .session
        .as_ref()
        .ok_or_else(|| fail("session or access_token is required"))?;
    let db = store::db(env)?;
    let (user_id, kind) = sessions::take_challenge(&db, session.expose(), now_ms())
        .await?
        .map_err(mfa::session_error)?;
    if kind != challenge {
        return Err(fail("Session has expired"));
    }
    let user = users::find_by_id(&db, &user_id)
        .await?
        .ok_or_else(|| fail("Username doesnt exists"))?;
    if b.username
        .as_deref()
        .is_some_and(|n| !n.eq_ignore_ascii_case(&user.username))
    {
        return Err(fail("Username doesnt exists"));
    }
    Ok((user, true))
}

async fn associate(env: &Env, cfg: &Config, body: Value) -> EdgeResult<Response> {
    let b: MfaBody = field(&body)?;
    let (user, in_sign_in) = mfa_caller(env, cfg, &b, CHALLENGE_MFA_SETUP).await?;
    let keys = keys::load(env, cfg).await?;
    let (secret, _backup) = mfa::begin_setup(env, &keys, &user).await?;
    let mut data = json!({"secret_code": secret});
    if in_sign_in {
        data["session_token"] = json!(login::challenge(env, cfg, &user, mfa::SETUP_VERIFY)
            .await?
            .session
            .expose());
    }
    reply(200, Some("success"), data)
}

async fn verify(env: &Env, cfg: &Config, client: &str, body: Value) -> EdgeResult<Response> {
    let b: MfaBody = field(&body)?;
    let (user, in_sign_in) = mfa_caller(env, cfg, &b, mfa::SETUP_VERIFY).await?;
    let keys = keys::load(env, cfg).await?;
    let code = b.code.as_ref().ok_or_else(|| fail("code is required"))?;
    if !mfa::enable(env, &keys, &user, code.expose(), client).await? {
        return reply(400, Some("Invalid Verification code"), Value::Null);
    }
    let mut data = json!({});
    if in_sign_in {
        let tokens = crate::auth::tokens::issue(env, &keys, &user, None).await?;
        data = token_data(&tokens);
        data["session_token"] = json!(login::challenge(env, cfg, &user, CHALLENGE_SOFTWARE_TOKEN)
            .await?
            .session
            .expose());
    }
    reply(200, Some("success"), data)
}

async fn post_login(env: &Env, cfg: &Config, client: &str, body: Value) -> EdgeResult<Response> {
    let b: MfaBody = field(&body)?;
    let code = b.code.clone().ok_or_else(|| fail("code is required"))?;
    // The sign-in session only: an access token is not a second factor.
    let (user, _) = mfa_caller(
        env,
        cfg,
        &MfaBody {
            access_token: None,
            ..b
        },
        CHALLENGE_SOFTWARE_TOKEN,
    )
    .await?;
    let keys = keys::load(env, cfg).await?;
    if mfa::check_second_factor(env, &keys, &user, code.expose(), client)
        .await
        .is_err()
    {
        return reply(400, Some("Wrong code entered"), Value::Null);
    }
    let tokens = crate::auth::tokens::issue(env, &keys, &user, None).await?;
    reply(200, Some("success"), token_data(&tokens))
}

async fn settings(env: &Env, cfg: &Config, body: Value) -> EdgeResult<Response> {
    #[derive(Deserialize)]
    struct Settings {
        enabled: bool,
        access_token: Secret,
    }
    let b: Settings = field(&body)?;
    let keys = keys::load(env, cfg).await?;
    let user = guard::verify(env, &keys, b.access_token.expose(), "access")
        .await?
        .user;
    match (b.enabled, user.mfa_enabled != 0) {
        (true, true) => reply(200, Some("MFA is enabled"), Value::Null),
        (true, false) => reply(
            400,
            Some("Set MFA up first with users/associate-mfa and users/verify-mfa"),
            Value::Null,
        ),
        (false, _) if login::mfa_required(env) => {
            reply(400, Some("MFA is mandatory on this server"), Value::Null)
        }
        (false, _) => reply(
            400,
            Some("Disabling MFA needs the password and a code: POST /api/auth/mfa/disable"),
            Value::Null,
        ),
    }
}

async fn forgot(env: &Env, cfg: &Config, body: Value) -> EdgeResult<Response> {
    #[derive(Deserialize)]
    struct Forgot {
        username: String,
    }
    let b: Forgot = field(&body)?;
    crate::auth::limit_account(env, cfg, "forgot-password", &b.username).await?;
    account::send_reset_code(env, cfg, b.username.trim()).await?;
    reply(
        200,
        Some("Please check your Registered email id for validation code"),
        Value::Null,
    )
}

async fn confirm_password(env: &Env, client: &str, body: Value) -> EdgeResult<Response> {
    #[derive(Deserialize)]
    struct Confirm {
        username: String,
        code: Secret,
        newpassword: Secret,
    }
    let b: Confirm = field(&body)?;
    let reset = account::ResetPassword {
        username: b.username,
        code: b.code,
        confirm_password: b.newpassword.clone(),
        new_password: b.newpassword,
    };
    match account::reset_with_code(env, &reset, client).await {
        Err(EdgeError::Api(e)) if e.code == ErrorCode::AuthenticationFailed => {
            reply(400, Some("Invalid Verification code"), Value::Null)
        }
        Err(e) => Err(e),
        Ok(()) => reply(
            200,
            Some("Password has been changed successfully"),
            Value::Null,
        ),
    }
}

async fn check_mnemonic(
    req: &Request,
    env: &Env,
    cfg: &Config,
    body: Value,
) -> EdgeResult<Response> {
    #[derive(Deserialize)]
    struct Check {
        mnemonic_sha_256: Secret,
    }
    let b: Check = field(&body)?;
    let keys = keys::load(env, cfg).await?;
    let token = guard::bearer(req)
        .ok_or_else(|| ApiError::new(ErrorCode::TokenInvalid, "Missing id token"))?;
    let user = guard::verify(env, &keys, &token, "id").await?.user;
    let stored: Option<String> = store::db(env)?
        .prepare("SELECT mnemonic_sha3_256 FROM users WHERE id = ?1")
        .bind(&[user.id.as_str().into()])?
        .first(Some("mnemonic_sha3_256"))
        .await?;
    let given = b.mnemonic_sha_256.expose().trim().to_ascii_lowercase();
    if stored.is_some_and(|s| constant_time_eq(s.as_bytes(), given.as_bytes())) {
        reply(200, Some("Mnemonic hash matched"), Value::Null)
    } else {
        reply(
            400,
            Some("sha3_256 hash of mnemonic didnt match"),
            Value::Null,
        )
    }
}

/// Seed 002's "AWS temporary credentials": here the backup capability (see `crate::backup`),
/// in the document's field names. `session_token` (and `secret_key`) is the bearer token for
/// `/api/backup/objects/{key}`.
async fn temp_credentials(env: &Env, cfg: &Config, body: Value) -> EdgeResult<Response> {
    #[derive(Deserialize)]
    struct Temp {
        id_token: Secret,
    }
    let b: Temp = field(&body)?;
    let keys = keys::load(env, cfg).await?;
    let user = match guard::verify(env, &keys, b.id_token.expose(), "id").await {
        Ok(caller) => caller.user,
        Err(_) => {
            return reply(
                400,
                Some("Invalid login token. Not a valid OpenId Connect identity token."),
                Value::Null,
            )
        }
    };
    let cap = crate::backup::issue(env, cfg, &user).await?;
    let data = json!({
        "identity_id": user.id, "access_key": user.id, "secret_key": cap.token.expose(),
        "session_token": cap.token.expose(), "prefix": cap.prefix, "endpoint": cap.endpoint,
        "expiration": cap.expires_at,
    });
    reply(200, None, data)
}
