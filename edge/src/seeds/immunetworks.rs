//! Seeds 000/001 ("Immunetworks") identity routes: `POST /dev/login` (`"request": "LOGIN"` or
//! `"REFRESH"`) in Cognito's `ChallengeParameters / AuthenticationResult / ResponseMetadata`
//! shape, and `POST /dev/identityadd`. As the documents show, LOGIN answers unwrapped and
//! REFRESH wrapped in `{"statusCode": 200, "body": …}`. When MFA is required, LOGIN answers with
//! `ChallengeName` and `Session`, to be continued on `/api/auth/mfa/*` or `/users/*`.

use meshfed_shared::api::auth::{LoginRequest, RegisterRequest, TokenSet};
use meshfed_shared::secret::Secret;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Request, Response};

use crate::audit::client_of;
use crate::auth::login::{self, LoginOutcome};
use crate::auth::{register, session};
use crate::config::Config;
use crate::error::{EdgeError, EdgeResult};
use crate::http::{parse_json, read_json_body};
use crate::random;

/// `POST /dev/login` (`route` "login") or `POST /dev/identityadd`.
pub async fn handle(
    mut req: Request,
    env: &Env,
    cfg: &Config,
    route: &'static str,
) -> worker::Result<Response> {
    let client = client_of(&req);
    let result = match read_json_body(&mut req, cfg.max_body_bytes)
        .await
        .and_then(|b| parse_json::<Value>(&b))
    {
        Ok(body) if route == "login" => login(env, cfg, &client, body).await,
        Ok(body) => identity_add(env, cfg, body).await,
        Err(e) => Err(e),
    };
    result.or_else(|e| failure(e, route))
}

/// `{"statusCode": N, "body": {"error": CODE, "message": …}}` at HTTP status N.
pub(crate) fn failure(err: EdgeError, route: &str) -> worker::Result<Response> {
    let api = err.into_api_error(route);
    let status = api.http_status();
    let body = json!({"statusCode": status, "body": {"error": api.code, "message": api.message}});
    Ok(Response::from_json(&body)?.with_status(status))
}

fn metadata() -> EdgeResult<Value> {
    Ok(json!({
        "RequestId": random::id()?,
        "HTTPStatusCode": 200,
        "HTTPHeaders": {"date": worker::Date::now().to_string(), "content-type": "application/x-amz-json-1.1"},
        "RetryAttempts": 0,
    }))
}

fn authentication_result(t: &TokenSet) -> Value {
    json!({
        "AccessToken": t.access_token.expose(), "ExpiresIn": t.expires_in, "TokenType": "Bearer",
        "RefreshToken": t.refresh_token.expose(), "IdToken": t.id_token.expose(),
    })
}

#[derive(Deserialize)]
struct LoginBody {
    request: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: Secret,
    #[serde(default, rename = "REFRESH_TOKEN")]
    refresh_token: Option<Secret>,
}

async fn login(env: &Env, cfg: &Config, client: &str, body: Value) -> EdgeResult<Response> {
    let b: LoginBody = serde_json::from_value(body).map_err(|e| invalid(&e.to_string()))?;
    match b.request.as_str() {
        "LOGIN" => {
            let request = LoginRequest {
                username: b.username.clone(),
                password: b.password,
                mfa_token: None,
            };
            let body = match login::sign_in(env, cfg, client, &request).await? {
                LoginOutcome::Tokens(t) => json!({
                    "ChallengeParameters": {}, "AuthenticationResult": authentication_result(&t),
                    "ResponseMetadata": metadata()?,
                }),
                LoginOutcome::Challenge(c) => json!({
                    "ChallengeName": c.challenge, "Session": c.session.expose(),
                    "ChallengeParameters": {"USER_ID_FOR_SRP": b.username},
                    "ResponseMetadata": metadata()?,
                }),
            };
            Ok(Response::from_json(&body)?)
        }
        "REFRESH" => {
            let token = b
                .refresh_token
                .ok_or_else(|| invalid("REFRESH_TOKEN is required"))?;
            let t = session::rotate(env, cfg, token.expose(), client).await?;
            let inner = json!({"ChallengeParameters": {}, "AuthenticationResult": authentication_result(&t),
                               "ResponseMetadata": metadata()?});
            Ok(Response::from_json(
                &json!({"statusCode": 200, "body": inner}),
            )?)
        }
        other => Err(invalid(&format!(
            "request must be LOGIN or REFRESH, not {other:?}"
        ))),
    }
}

fn invalid(reason: &str) -> EdgeError {
    meshfed_shared::ApiError::invalid_field("body", reason).into()
}

#[derive(Deserialize)]
struct IdentityAdd {
    email: String,
    password: Secret,
    username: String,
}

/// Creates an unconfirmed user (the username doubles as the display name); the emailed code
/// confirms it on `/api/auth/confirm` or `/users/confirm-signup`.
async fn identity_add(env: &Env, cfg: &Config, body: Value) -> EdgeResult<Response> {
    let b: IdentityAdd = serde_json::from_value(body).map_err(|e| invalid(&e.to_string()))?;
    let request = RegisterRequest {
        name: Some(b.username.clone()),
        username: b.username,
        email: b.email,
        password: b.password,
        ..Default::default()
    };
    let user = register::create_user(env, cfg, &request).await?;
    let body = json!({"statusCode": 200, "body": {
        "message": "User created; confirm it with the code sent by email",
        "username": user.username, "UserConfirmed": false, "UserSub": user.id,
    }});
    Ok(Response::from_json(&body)?)
}
