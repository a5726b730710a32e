//! `/api/admin/…` calls (the `admin:users` permission).

use meshfed_shared::api::auth::{AuditEntry, UserProfile};
use meshfed_shared::secret::Secret;
use serde_json::json;

use super::{get_json, post_json, ClientError};

pub async fn users(access: &Secret) -> Result<Vec<UserProfile>, ClientError> {
    get_json("/api/admin/users", Some(access.expose())).await
}

pub async fn audit(access: &Secret) -> Result<Vec<AuditEntry>, ClientError> {
    get_json("/api/admin/audit?limit=100", Some(access.expose())).await
}

/// `action`: `disable`, `enable` or `mfa/reset`.
pub async fn act(access: &Secret, user_id: &str, action: &str) -> Result<UserProfile, ClientError> {
    let path = format!("/api/admin/users/{user_id}/{action}");
    post_json(&path, &json!({}), Some(access.expose())).await
}
