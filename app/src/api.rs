//! The app's HTTP client: relative `/api/…` requests, answers read through the shared envelope.

use gloo_net::http::{Request, RequestBuilder};
use meshfed_shared::health::HealthReport;
use meshfed_shared::{ApiError, ErrorCode, RawEnvelope};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub mod admin;
pub mod auth;
pub mod runs;

/// Why a request to the server did not produce data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached at all.
    #[error("The server cannot be reached: {0}")]
    Network(String),
    /// The server answered with an error envelope.
    #[error("{}", .0.message)]
    Api(ApiError),
    /// The server answered with something that is not Meshfed's envelope.
    #[error("The server sent an unexpected answer (HTTP {0})")]
    Unexpected(u16),
    /// The form's own check refused the input before anything was sent (`field`: where).
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
}

impl ClientError {
    /// A refusal by the form's own check, shown beside `field` (or above the form).
    pub fn invalid(field: Option<&str>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.map(String::from),
            message: message.into(),
        }
    }

    /// The request field the server (or the form's check) blamed, to show the error beside it.
    pub fn field(&self) -> Option<String> {
        match self {
            Self::Api(e) => e.details.as_ref()?.get("field")?.as_str().map(String::from),
            Self::Invalid { field, .. } => field.clone(),
            _ => None,
        }
    }

    /// A `details` string the server attached (a retry `session`, say).
    pub fn detail(&self, key: &str) -> Option<String> {
        match self {
            Self::Api(e) => e.details.as_ref()?.get(key)?.as_str().map(String::from),
            _ => None,
        }
    }

    /// The access token is missing, expired or revoked: the person must sign in again.
    pub fn is_session_over(&self) -> bool {
        matches!(self, Self::Api(e) if matches!(e.code, ErrorCode::TokenExpired | ErrorCode::TokenInvalid))
    }
}

async fn send(
    request: Result<Request, gloo_net::Error>,
) -> Result<gloo_net::http::Response, ClientError> {
    request
        .map_err(|e| ClientError::Network(e.to_string()))?
        .send()
        .await
        .map_err(|e| ClientError::Network(e.to_string()))
}

async fn read<T: DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Result<T, ClientError> {
    let resp = send(request).await?;
    let status = resp.status();
    let envelope: RawEnvelope<T> = resp
        .json()
        .await
        .map_err(|_| ClientError::Unexpected(status))?;
    envelope.into_result().map_err(ClientError::Api)
}

/// A binary answer; an error answer is still read as the envelope.
async fn read_bytes(request: Result<Request, gloo_net::Error>) -> Result<Vec<u8>, ClientError> {
    let resp = send(request).await?;
    let status = resp.status();
    if !resp.ok() {
        let envelope: RawEnvelope<serde_json::Value> = resp
            .json()
            .await
            .map_err(|_| ClientError::Unexpected(status))?;
        return Err(envelope
            .into_result()
            .err()
            .map_or(ClientError::Unexpected(status), ClientError::Api));
    }
    resp.binary()
        .await
        .map_err(|e| ClientError::Network(e.to_string()))
}

fn with_bearer(builder: RequestBuilder, bearer: Option<&str>) -> RequestBuilder {
    let builder = builder.header("accept", "application/json");
    match bearer {
        Some(token) => builder.header("authorization", &format!("Bearer {token}")),
        None => builder,
    }
}

pub async fn get_json<T: DeserializeOwned>(
    path: &str,
    bearer: Option<&str>,
) -> Result<T, ClientError> {
    read(with_bearer(Request::get(path), bearer).build()).await
}

pub async fn post_json<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
    bearer: Option<&str>,
) -> Result<T, ClientError> {
    read(with_bearer(Request::post(path), bearer).json(body)).await
}

/// PUTs raw bytes (`application/octet-stream`) and reads the JSON envelope.
pub async fn put_octets<T: DeserializeOwned>(
    path: &str,
    body: &[u8],
    bearer: Option<&str>,
) -> Result<T, ClientError> {
    let builder =
        with_bearer(Request::put(path), bearer).header("content-type", "application/octet-stream");
    read(builder.body(js_sys::Uint8Array::from(body))).await
}

pub async fn health() -> Result<HealthReport, ClientError> {
    get_json("/api/health", None).await
}
