//! Request and response helpers shared by every handler: the success envelope, bounded body
//! reading and JSON parsing with the API's error codes.

use futures_util::StreamExt;
use meshfed_shared::api::media;
use meshfed_shared::{ApiError, ErrorCode, Success};
use serde::{de::DeserializeOwned, Serialize};
use worker::{Request, Response};

use crate::error::{EdgeError, EdgeResult};

pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// A success envelope with `data` and `message`, at `status`.
pub fn json_ok<T: Serialize>(data: &T, message: &str, status: u16) -> EdgeResult<Response> {
    let body = Success::new(data, message, now_ms());
    Ok(Response::from_json(&body)?.with_status(status))
}

/// Reads the whole body, refusing (413) anything over `limit` bytes: first by the declared
/// `Content-Length`, before reading, then by what arrives, as it arrives.
pub async fn read_body(req: &mut Request, limit: usize) -> EdgeResult<Vec<u8>> {
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("Request body exceeds {limit} bytes"),
        )
        .with_details(serde_json::json!({ "limit_bytes": limit }))
    };
    if let Some(declared) = req.headers().get("content-length")? {
        if declared
            .trim()
            .parse::<u64>()
            .is_ok_and(|n| n > limit as u64)
        {
            return Err(too_large().into());
        }
    }
    if req.inner().body().is_none() {
        return Ok(Vec::new());
    }
    // Counted as it streams: a body without Content-Length (chunked) is refused as soon as it
    // passes the limit, never held in memory whole.
    let mut stream = req.stream()?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large().into());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Parses a JSON body into `T`; malformed or mistyped JSON is a 400 `VALIDATION_ERROR` that
/// says where the problem is. Values are never echoed back: a mistyped password must not
/// appear in an error.
pub async fn read_json<T: DeserializeOwned>(req: &mut Request, limit: usize) -> EdgeResult<T> {
    let bytes = read_json_body(req, limit).await?;
    parse_json(&bytes)
}

/// [`read_body`] for a route that takes JSON: a declared type that is not JSON is a 415
/// before anything is read (no cross-site form post reaches a handler).
pub async fn read_json_body(req: &mut Request, limit: usize) -> EdgeResult<Vec<u8>> {
    let declared = req.headers().get("content-type")?;
    media::check_json_request(declared.as_deref())?;
    read_body(req, limit).await
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> EdgeResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let text = e.to_string();
        let reason = match e.classify() {
            serde_json::error::Category::Data
                if text.starts_with("missing field") || text.starts_with("unknown field") =>
            {
                text
            }
            serde_json::error::Category::Data => {
                format!("a value has the wrong type or format at line {line} column {column}")
            }
            _ => format!("malformed JSON at line {line} column {column}"),
        };
        EdgeError::Api(
            ApiError::new(ErrorCode::ValidationError, "Request body is not valid JSON")
                .with_details(serde_json::json!({ "field": "body", "reason": reason })),
        )
    })
}
