//! The app's HTTP client: relative `/api/…` requests, answers read through the shared envelope.

use meshfed_shared::health::HealthReport;
use meshfed_shared::{ApiError, RawEnvelope};
use serde::de::DeserializeOwned;

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
}

async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ClientError> {
    let resp = gloo_net::http::Request::get(path)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| ClientError::Network(e.to_string()))?;
    let status = resp.status();
    let envelope: RawEnvelope<T> = resp
        .json()
        .await
        .map_err(|_| ClientError::Unexpected(status))?;
    envelope.into_result().map_err(ClientError::Api)
}

pub async fn health() -> Result<HealthReport, ClientError> {
    get_json("/api/health").await
}
