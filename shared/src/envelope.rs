//! Seed 003's response envelope, used by every canonical route:
//! success `{"success":true,"data":…,"message":…,"timestamp":…}`,
//! failure `{"success":false,"error":{"code":…,"message":…,"details":…},"timestamp":…}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, ErrorCode};
use crate::time::rfc3339_from_unix_ms;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Success<T> {
    pub success: bool,
    pub data: T,
    pub message: String,
    pub timestamp: String,
}

impl<T> Success<T> {
    pub fn new(data: T, message: impl Into<String>, now_ms: i64) -> Self {
        Self {
            success: true,
            data,
            message: message.into(),
            timestamp: rfc3339_from_unix_ms(now_ms),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub success: bool,
    pub error: ErrorBody,
    pub timestamp: String,
}

impl Failure {
    pub fn new(err: &ApiError, now_ms: i64) -> Self {
        Self {
            success: false,
            error: ErrorBody {
                code: err.code,
                message: err.message.clone(),
                details: err.details.clone(),
            },
            timestamp: rfc3339_from_unix_ms(now_ms),
        }
    }
}

/// Either envelope, as a client reads it before knowing which it got.
#[derive(Debug, Clone, Deserialize)]
pub struct RawEnvelope<T> {
    pub success: bool,
    #[serde(default = "none")]
    pub data: Option<T>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error: Option<ErrorBody>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> RawEnvelope<T> {
    /// The data of a success, or the server's error; a malformed envelope is an internal error.
    pub fn into_result(self) -> Result<T, ApiError> {
        match (self.success, self.data, self.error) {
            (true, Some(data), _) => Ok(data),
            (false, _, Some(e)) => Err(ApiError {
                code: e.code,
                message: e.message,
                details: e.details,
            }),
            _ => Err(ApiError::new(
                ErrorCode::InternalError,
                "Malformed response envelope",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn success_has_seed_shape() {
        let s = Success::new(json!({"id": 1}), "ok", 1_704_067_200_000);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"success": true, "data": {"id": 1}, "message": "ok",
                   "timestamp": "2024-01-01T00:00:00.000Z"})
        );
    }

    #[test]
    fn failure_has_seed_shape_and_omits_empty_details() {
        let f = Failure::new(&ApiError::from_code(ErrorCode::NotFound), 0);
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["success"], json!(false));
        assert_eq!(v["error"]["code"], json!("NOT_FOUND"));
        assert!(v["error"].get("details").is_none());
        let f = Failure::new(&ApiError::invalid_field("email", "bad"), 0);
        assert_eq!(
            serde_json::to_value(&f).unwrap()["error"]["details"]["field"],
            "email"
        );
    }

    #[test]
    fn raw_envelope_round_trips_both_outcomes() {
        let ok: RawEnvelope<u32> =
            serde_json::from_value(json!({"success": true, "data": 7, "message": "m",
                                          "timestamp": "t"}))
            .unwrap();
        assert_eq!(ok.into_result().unwrap(), 7);

        let err = ApiError::invalid_field("username", "too short");
        let wire = serde_json::to_value(Failure::new(&err, 0)).unwrap();
        let back: RawEnvelope<u32> = serde_json::from_value(wire).unwrap();
        assert_eq!(back.into_result().unwrap_err(), err);
    }

    #[test]
    fn raw_envelope_without_data_or_error_is_internal() {
        let e: RawEnvelope<u32> = serde_json::from_value(json!({"success": true})).unwrap();
        assert_eq!(e.into_result().unwrap_err().code, ErrorCode::InternalError);
    }
}
