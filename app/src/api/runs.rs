//! `/api/runs` and `/api/users` calls for the run pages.

use meshfed_shared::api::auth::DirectoryEntry;
use meshfed_shared::api::runs::{CreateRunRequest, RunDetail, RunSummary};
use meshfed_shared::secret::Secret;

use super::{get_json, post_json, ClientError};

pub async fn list(access: &Secret) -> Result<Vec<RunSummary>, ClientError> {
    get_json("/api/runs", Some(access.expose())).await
}

pub async fn detail(access: &Secret, id: i64) -> Result<RunDetail, ClientError> {
    get_json(&format!("/api/runs/{id}"), Some(access.expose())).await
}

pub async fn create(access: &Secret, request: &CreateRunRequest) -> Result<RunDetail, ClientError> {
    post_json("/api/runs", request, Some(access.expose())).await
}

/// Everyone who can be invited to a run.
pub async fn users(access: &Secret) -> Result<Vec<DirectoryEntry>, ClientError> {
    get_json("/api/users", Some(access.expose())).await
}
