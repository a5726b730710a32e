//! The Worker's error type and the one place where any error becomes an HTTP response.

use meshfed_shared::{ApiError, Failure};
use worker::Response;

use crate::http::now_ms;

/// Everything a handler can fail with. [`EdgeError::Api`] is shown to the caller as it is;
/// every other variant is an internal failure: logged in full, answered with a bare 500.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("worker runtime: {0}")]
    Worker(#[from] worker::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Internal(String),
}

pub type EdgeResult<T> = Result<T, EdgeError>;

impl EdgeError {
    /// The error as the caller may see it; internal causes are logged here and hidden.
    pub fn into_api_error(self, context: &str) -> ApiError {
        match self {
            EdgeError::Api(e) => e,
            other => {
                worker::console_error!("internal error in {context}: {other}");
                ApiError::internal()
            }
        }
    }
}

/// The one mapping from an error to an HTTP response (seed 003's failure envelope).
pub fn error_response(err: &ApiError) -> worker::Result<Response> {
    let body = Failure::new(err, now_ms());
    let mut resp = Response::from_json(&body)?.with_status(err.http_status());
    if err.code == meshfed_shared::ErrorCode::MethodNotAllowed {
        if let Some(allow) = err.details.as_ref().and_then(|d| d["allow"].as_str()) {
            resp.headers_mut().set("allow", allow)?;
        }
    }
    if err.code == meshfed_shared::ErrorCode::RateLimitExceeded {
        if let Some(secs) = err.details.as_ref().and_then(|d| d["retry_after"].as_u64()) {
            resp.headers_mut().set("retry-after", &secs.to_string())?;
        }
    }
    Ok(resp)
}
