//! `/api/runs` and `/api/users` calls for the run pages.

use meshfed_shared::api::auth::DirectoryEntry;
use meshfed_shared::api::runs::{
    ActivateRequest, CreateRunRequest, RunDetail, RunSummary, UploadReceipt,
};
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

/// The run's current global model (safetensors bytes).
pub async fn global_model(access: &Secret, id: i64) -> Result<Vec<u8>, ClientError> {
    let request = gloo_net::http::Request::get(&format!("/api/runs/{id}/model"))
        .header("authorization", &format!("Bearer {}", access.expose()))
        .build();
    super::read_bytes(request).await
}

/// Uploads this participant's weights for `round`, with what the round's chart shows.
pub async fn upload_weights(
    access: &Secret,
    id: i64,
    round: u32,
    body: &[u8],
    upload: &LocalResult,
) -> Result<UploadReceipt, ClientError> {
    let path = format!(
        "/api/runs/{id}/rounds/{round}/weights?{}",
        meshfed_shared::api::upload::metrics_query(
            upload.num_examples,
            upload.loss,
            upload.dice,
            upload.validation.as_ref()
        )
    );
    let request = gloo_net::http::Request::put(&path)
        .header("authorization", &format!("Bearer {}", access.expose()))
        .header("accept", "application/json")
        .header("content-type", "application/octet-stream")
        .body(js_sys::Uint8Array::from(body));
    super::read(request).await
}

/// What local training reports with an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalResult {
    pub num_examples: u64,
    pub loss: f32,
    pub dice: f64,
    /// The round's global model on the held-out part, before training.
    pub validation: Option<meshfed_shared::plan::ValidationScore>,
}

/// Pauses or resumes my own participation: inactive participants are not waited for.
pub async fn set_active(access: &Secret, id: i64, active: bool) -> Result<RunDetail, ClientError> {
    post_json(
        &format!("/api/runs/{id}/activate"),
        &ActivateRequest { active },
        Some(access.expose()),
    )
    .await
}
