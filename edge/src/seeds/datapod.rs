//! Seed 002 ("Datapod"): `/users/*` and `/mnemonics/check-mnemonic`, in its
//! `{"error","success","message","data"}` envelope (signup answers with `msg`).
//!
//! Deliberate differences from the document: a wrong password and an unknown user get the
//! same message (the document tells them apart, which would reveal accounts); success bodies
//! have `error: false, success: true` (the document's confirm-signup example has them
//! swapped); `users/mfa-settings` cannot switch MFA off (that needs the password and a code).

use meshfed_shared::api::auth::{LoginChallenge, RegisterRequest, TokenSet, CHALLENGE_MFA_SETUP};
use meshfed_shared::secret::Secret;
use meshfed_shared::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Request, Response};

use super::datapod_mfa;
use crate::audit::client_of;
use crate::auth::login::{self, LoginOutcome};
use crate::auth::{account, guard, keys, register};
use crate::config::Config;
use crate::error::{EdgeError, EdgeResult};
use crate::http::{parse_json, read_json_body};
use crate::store::{self, users};

/// One of seed 002's routes: `POST /users/{route}`, or `POST /mnemonics/check-mnemonic`.
pub async fn handle(
    mut req: Request,
    env: &Env,
    cfg: &Config,
    route: &'static str,
) -> worker::Result<Response> {
    let body: Value = match read_json_body(&mut req, cfg.max_body_bytes)
        .await
        .and_then(|b| parse_json(&b))
    {
        Ok(v) => v,
        Err(e) => return failure(e, "body"),
    };
    let client = client_of(&req);
    let result = match route {
        "signup" => signup(env, cfg, body).await,
        "confirm-signup" => confirm_signup(env, body).await,
        "login" => login(env, cfg, &client, body).await,
        "associate-mfa" => datapod_mfa::associate(env, cfg, body).await,
        "verify-mfa" => datapod_mfa::verify(env, cfg, &client, body).await,
        "post-login-mfa" => datapod_mfa::post_login(env, cfg, &client, body).await,
        "mfa-settings" => datapod_mfa::settings(env, cfg, body).await,
        "forgot-password" => forgot(env, cfg, body).await,
        "confirm-password" => confirm_password(env, &client, body).await,
        "awstempcredentials" => temp_credentials(env, cfg, body).await,
        _ => check_mnemonic(&req, env, cfg, body).await,
    };
    result.or_else(|e| failure(e, route))
}

pub(super) fn reply(status: u16, message: Option<&str>, data: Value) -> EdgeResult<Response> {
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

pub(super) fn fail(message: &str) -> EdgeError {
    ApiError::new(ErrorCode::ValidationError, message).into()
}

pub(super) fn field<T: serde::de::DeserializeOwned>(body: &Value) -> EdgeResult<T> {
    serde_json::from_value(body.clone()).map_err(|e| fail(&format!("Invalid request: {e}")))
}

pub(super) fn token_data(t: &TokenSet) -> Value {
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
    if account::mnemonic_matches(env, &user.id, b.mnemonic_sha_256.expose()).await? {
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
