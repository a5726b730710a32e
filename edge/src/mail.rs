//! Outgoing mail behind one interface. In development (`ENVIRONMENT = "development"`) every
//! message goes to the dev outbox in D1, read by `GET /api/_dev/outbox?to=…`. Elsewhere it is
//! posted to an HTTP email provider configured by variables:
//! `MAIL_API_URL` (an endpoint accepting `{"from","to","subject","text"}` JSON),
//! `MAIL_API_KEY` (secret, sent as `Authorization: Bearer …`) and `MAIL_FROM`.

use meshfed_shared::{ApiError, ErrorCode};
use serde::Serialize;
use worker::{Env, Fetch, Headers, Method, Request, RequestInit};

use crate::config::Config;
use crate::error::{EdgeError, EdgeResult};
use crate::http::now_ms;
use crate::store::{self, dev_outbox};

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
}

pub async fn send(env: &Env, cfg: &Config, message: &Message) -> EdgeResult<()> {
    if cfg.is_development() {
        let db = store::db(env)?;
        dev_outbox::insert(&db, &message.to, &message.subject, &message.text, now_ms()).await?;
        return Ok(());
    }
    send_http(env, message).await
}

/// Refuses (503) before anything is written when no message could be sent: a request that
/// must mail a code then leaves no account or code behind.
pub fn ensure_configured(env: &Env, cfg: &Config) -> EdgeResult<()> {
    if cfg.is_development() {
        return Ok(());
    }
    provider(env).map(|_| ())
}

/// `(MAIL_API_URL, MAIL_FROM)`, or the 503 that says mail cannot go out.
fn provider(env: &Env) -> EdgeResult<(String, String)> {
    let var = |name: &str| env.var(name).map(|v| v.to_string()).ok();
    match (var("MAIL_API_URL"), var("MAIL_FROM")) {
        (Some(url), Some(from)) if !url.is_empty() && !from.is_empty() => Ok((url, from)),
        _ => {
            worker::console_error!("mail is not configured (MAIL_API_URL, MAIL_FROM)");
            Err(ApiError::new(
                ErrorCode::ServiceUnavailable,
                "This server cannot send email yet, so no code can be sent; try again later",
            )
            .into())
        }
    }
}

async fn send_http(env: &Env, message: &Message) -> EdgeResult<()> {
    let (url, from) = provider(env)?;
    let key = env
        .secret("MAIL_API_KEY")
        .map(|s| s.to_string())
        .unwrap_or_default();
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("authorization", &format!("Bearer {key}"))?;
    let body = serde_json::json!({
        "from": from, "to": message.to, "subject": message.subject, "text": message.text,
    });
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.to_string().into()));
    let resp = Fetch::Request(Request::new_with_init(&url, &init)?)
        .send()
        .await?;
    if !(200..300).contains(&resp.status_code()) {
        return Err(EdgeError::Internal(format!(
            "mail provider answered {}",
            resp.status_code()
        )));
    }
    Ok(())
}
