//! The API's error codes (seed 003's table plus the HTTP-level codes every API needs) and the
//! one error type that every Meshfed service returns. The Worker turns an [`ApiError`] into a
//! response in exactly one place, using [`ErrorCode::http_status`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A machine-readable error code, serialised as in seed 003 (`"VALIDATION_ERROR"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    // Seed 003's table.
    ValidationError,
    AuthenticationFailed,
    TokenExpired,
    TokenInvalid,
    MfaRequired,
    MfaInvalid,
    AccountLocked,
    AccountDisabled,
    PermissionDenied,
    UserExists,
    UserNotFound,
    RateLimitExceeded,
    // HTTP-level codes the table leaves out.
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    UnprocessableEntity,
    InternalError,
    ServiceUnavailable,
}

impl ErrorCode {
    /// Every code, in declaration order (for tests and the OpenAPI document).
    pub const ALL: [ErrorCode; 20] = [
        Self::ValidationError,
        Self::AuthenticationFailed,
        Self::TokenExpired,
        Self::TokenInvalid,
        Self::MfaRequired,
        Self::MfaInvalid,
        Self::AccountLocked,
        Self::AccountDisabled,
        Self::PermissionDenied,
        Self::UserExists,
        Self::UserNotFound,
        Self::RateLimitExceeded,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::UnprocessableEntity,
        Self::InternalError,
        Self::ServiceUnavailable,
    ];

    /// The HTTP status this code is answered with.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::ValidationError => 400,
            Self::AuthenticationFailed
            | Self::TokenExpired
            | Self::TokenInvalid
            | Self::MfaRequired
            | Self::MfaInvalid => 401,
            Self::AccountDisabled | Self::PermissionDenied => 403,
            Self::UserNotFound | Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::UserExists | Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::UnprocessableEntity => 422,
            Self::AccountLocked => 423,
            Self::RateLimitExceeded => 429,
            Self::InternalError => 500,
            Self::ServiceUnavailable => 503,
        }
    }

    /// The wire name, e.g. `"VALIDATION_ERROR"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ValidationError => "VALIDATION_ERROR",
            Self::AuthenticationFailed => "AUTHENTICATION_FAILED",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::TokenInvalid => "TOKEN_INVALID",
            Self::MfaRequired => "MFA_REQUIRED",
            Self::MfaInvalid => "MFA_INVALID",
            Self::AccountLocked => "ACCOUNT_LOCKED",
            Self::AccountDisabled => "ACCOUNT_DISABLED",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::UserExists => "USER_EXISTS",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Conflict => "CONFLICT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::UnprocessableEntity => "UNPROCESSABLE_ENTITY",
            Self::InternalError => "INTERNAL_ERROR",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// Seed 003's description, used as the message when a caller gives none.
    pub const fn description(self) -> &'static str {
        match self {
            Self::ValidationError => "Input validation failed",
            Self::AuthenticationFailed => "Invalid credentials",
            Self::TokenExpired => "JWT token has expired",
            Self::TokenInvalid => "JWT token is malformed or invalid",
            Self::MfaRequired => "Multi-factor authentication required",
            Self::MfaInvalid => "Invalid MFA token",
            Self::AccountLocked => "Account temporarily locked",
            Self::AccountDisabled => "Account has been disabled",
            Self::PermissionDenied => "Insufficient permissions",
            Self::UserExists => "Username or email already exists",
            Self::UserNotFound => "User account not found",
            Self::RateLimitExceeded => "Too many requests",
            Self::NotFound => "Resource not found",
            Self::MethodNotAllowed => "Method not allowed for this resource",
            Self::Conflict => "The request conflicts with the resource's current state",
            Self::PayloadTooLarge => "Request body too large",
            Self::UnsupportedMediaType => "Unsupported content type",
            Self::UnprocessableEntity => "The request is well-formed but cannot be processed",
            Self::InternalError => "Internal server error",
            Self::ServiceUnavailable => "Service temporarily unavailable",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the API reports it: a code, a human message and optional structured details.
///
/// It carries only what may be shown to a caller. Internal causes are logged where they occur
/// and replaced by [`ApiError::internal`], which says nothing about them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// An error with seed 003's standard message for its code.
    pub fn from_code(code: ErrorCode) -> Self {
        Self::new(code, code.description())
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// A validation failure for one field, in seed 003's `{field, reason}` shape.
    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::new(
            ErrorCode::ValidationError,
            format!("Invalid {field}: {reason}"),
        )
        .with_details(serde_json::json!({ "field": field, "reason": reason }))
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, what)
    }

    /// The only error shown for a failure inside the server: no detail leaves it.
    pub fn internal() -> Self {
        Self::from_code(ErrorCode::InternalError)
    }

    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_003_table_statuses() {
        let table = [
            ("VALIDATION_ERROR", 400),
            ("AUTHENTICATION_FAILED", 401),
            ("TOKEN_EXPIRED", 401),
            ("TOKEN_INVALID", 401),
            ("MFA_REQUIRED", 401),
            ("MFA_INVALID", 401),
            ("ACCOUNT_LOCKED", 423),
            ("ACCOUNT_DISABLED", 403),
            ("PERMISSION_DENIED", 403),
            ("USER_EXISTS", 409),
            ("USER_NOT_FOUND", 404),
            ("RATE_LIMIT_EXCEEDED", 429),
        ];
        for (name, status) in table {
            let code: ErrorCode = serde_json::from_value(Value::String(name.into())).unwrap();
            assert_eq!(code.http_status(), status, "{name}");
            assert_eq!(code.as_str(), name);
        }
    }

    #[test]
    fn wire_names_match_serde_for_every_code() {
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                Value::String(code.as_str().into())
            );
            assert_eq!(code.to_string(), code.as_str());
            assert!((400..600).contains(&code.http_status()), "{code}");
            assert!(!code.description().is_empty());
        }
    }

    #[test]
    fn all_lists_every_code_once() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn internal_error_says_nothing_specific() {
        let e = ApiError::internal();
        assert_eq!(e.http_status(), 500);
        assert_eq!(e.message, "Internal server error");
        assert!(e.details.is_none());
    }

    #[test]
    fn invalid_field_has_seed_shape() {
        let e = ApiError::invalid_field("email", "Email already exists");
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert_eq!(
            e.details,
            Some(serde_json::json!({"field": "email", "reason": "Email already exists"}))
        );
    }
}
