//! Which request content types a JSON route takes. A browser can send a cross-site request
//! with a body without asking first only as a form (`application/x-www-form-urlencoded`,
//! `multipart/form-data`, `text/plain`); JSON routes refuse every declared type that is not
//! JSON, so no such request reaches a handler. A request without `Content-Type` (curl, the
//! seeds' clients) is read as JSON: no browser sends a body without one.

use crate::{ApiError, ErrorCode};

/// Whether `content_type` (a `Content-Type` value, parameters allowed) names JSON:
/// `application/json`, a structured `application/…+json` type, or AWS's
/// `application/x-amz-json-1.0|1.1` (the seeds' Cognito-style clients may send it).
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence.starts_with("application/x-amz-json-1.")
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.len() > "+json".len() && sub.ends_with("+json"))
}

/// `Ok` for JSON or no declared type; else 415 `UNSUPPORTED_MEDIA_TYPE` naming what was sent.
pub fn check_json_request(content_type: Option<&str>) -> Result<(), ApiError> {
    match content_type {
        None => Ok(()),
        Some(given) if is_json(given) => Ok(()),
        Some(given) => {
            let shown: String = given.chars().take(100).collect();
            Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "This route takes JSON: send Content-Type: application/json",
            )
            .with_details(serde_json::json!({
                "field": "content-type", "reason": format!("{shown:?} is not JSON"),
            })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_types_pass_with_parameters_and_any_case() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/problem+json",
            " application/vnd.api+json ;x=1",
            "application/x-amz-json-1.1",
        ] {
            assert!(is_json(ok), "{ok}");
            assert_eq!(check_json_request(Some(ok)), Ok(()), "{ok}");
        }
        assert_eq!(check_json_request(None), Ok(()));
    }

    #[test]
    fn form_and_other_types_are_415() {
        for refused in [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/plain",
            "text/json",
            "application/+json",
            "application/jsonx",
            "",
        ] {
            assert!(!is_json(refused), "{refused}");
            let err = check_json_request(Some(refused)).unwrap_err();
            assert_eq!(err.code, ErrorCode::UnsupportedMediaType, "{refused}");
            assert_eq!(err.http_status(), 415);
        }
    }

    #[test]
    fn a_long_type_is_cut_in_the_details() {
        let long = format!("text/{}", "x".repeat(500));
        let err = check_json_request(Some(&long)).unwrap_err();
        let reason = err.details.unwrap()["reason"].as_str().unwrap().to_string();
        assert!(reason.len() < 130, "{reason}");
    }
}
