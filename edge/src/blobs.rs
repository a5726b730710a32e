//! Tensor blobs in R2: where each one lives and how it is written and read. Every blob is
//! safetensors F32 in parameter order, whatever format it arrived in.

use std::collections::BTreeMap;

use meshfed_shared::api::runs::UploadKind;
use meshfed_shared::meshnet::{file, ModelConfig};
use meshfed_shared::tensor::safetensors;
use sha2::{Digest, Sha256};
use worker::{Env, Range};

use crate::error::{EdgeError, EdgeResult};

const BUCKET: &str = "BLOBS";

pub fn initial_model_key(run_id: i64) -> String {
    format!("runs/{run_id}/rounds/1/model.safetensors")
}

/// Each attempt gets its own key (`unique`), so deleting a refused attempt never touches a
/// blob that counts.
pub fn upload_key(
    run_id: i64,
    round: u32,
    kind: UploadKind,
    user_id: &str,
    unique: &str,
) -> String {
    format!(
        "runs/{run_id}/rounds/{round}/{}/{user_id}-{unique}.safetensors",
        kind.as_str()
    )
}

/// The server step's state after `round` (FedAvgM / FedAdam / FedYogi).
pub fn server_state_key(run_id: i64, round: u32) -> String {
    format!("runs/{run_id}/rounds/{round}/server-state.safetensors")
}

pub fn aggregate_key(run_id: i64, round: u32, kind: UploadKind) -> String {
    match kind {
        UploadKind::Weights => format!("runs/{run_id}/rounds/{round}/aggregate.safetensors"),
        UploadKind::Gradients => format!("runs/{run_id}/rounds/{round}/gradients-avg.safetensors"),
    }
}

/// A blob ready to store: its bytes and their SHA-256.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

pub fn encode(model: &ModelConfig, values: &[f32], metadata: BTreeMap<String, String>) -> Encoded {
    // The model config rides along as `meshfed.model`, so a download is self-describing.
    let bytes = file::to_safetensors(model, values, metadata);
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Encoded { bytes, sha256 }
}

pub async fn put(env: &Env, key: &str, bytes: Vec<u8>) -> EdgeResult<()> {
    env.bucket(BUCKET)?.put(key, bytes).execute().await?;
    Ok(())
}

pub async fn get(env: &Env, key: &str) -> EdgeResult<Vec<u8>> {
    read(env, key, None).await
}

/// The whole object `key`, or `range` of it.
async fn read(env: &Env, key: &str, range: Option<Range>) -> EdgeResult<Vec<u8>> {
    let bucket = env.bucket(BUCKET)?;
    let mut get = bucket.get(key);
    if let Some(range) = range {
        get = get.range(range);
    }
    let object = get
        .execute()
        .await?
        .ok_or_else(|| EdgeError::Internal(format!("R2 object {key} is missing")))?;
    let body = object
        .body()
        .ok_or_else(|| EdgeError::Internal(format!("R2 object {key} has no body")))?;
    Ok(body.bytes().await?)
}

/// The flat values of a stored blob, checked against the model.
pub async fn get_values(env: &Env, key: &str, model: &ModelConfig) -> EdgeResult<Vec<f32>> {
    let bytes = get(env, key).await?;
    let file = safetensors::read(&bytes).map_err(|e| EdgeError::Internal(format!("{key}: {e}")))?;
    model
        .flatten_named(&file.tensors)
        .map_err(|e| EdgeError::Internal(format!("{key}: {e}")))
}

/// `length` bytes of `key` from `offset` (an R2 range read).
pub async fn get_range(env: &Env, key: &str, offset: u64, length: u64) -> EdgeResult<Vec<u8>> {
    let range = Range::OffsetWithLength { offset, length };
    let bytes = read(env, key, Some(range)).await?;
    if bytes.len() as u64 != length {
        return Err(EdgeError::Internal(format!(
            "R2 object {key}: {} bytes at {offset}, not {length}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Where a stored safetensors blob's tensors lie: its header alone, in two range reads.
pub async fn layout(env: &Env, key: &str) -> EdgeResult<safetensors::Layout> {
    let internal =
        |e: meshfed_shared::tensor::TensorError| EdgeError::Internal(format!("{key}: {e}"));
    let prefix = get_range(env, key, 0, 8).await?;
    let header_len = safetensors::header_len(&prefix).map_err(internal)?;
    let head = get_range(env, key, 0, 8 + header_len as u64).await?;
    safetensors::layout(&head).map_err(internal)
}

pub async fn delete(env: &Env, key: &str) -> EdgeResult<()> {
    env.bucket(BUCKET)?.delete(key).await?;
    Ok(())
}

/// The keys of the objects under `prefix` (the first 1,000).
pub async fn list(env: &Env, prefix: &str) -> EdgeResult<Vec<String>> {
    let listed = env.bucket(BUCKET)?.list().prefix(prefix).execute().await?;
    Ok(listed.objects().iter().map(|o| o.key()).collect())
}

/// Starts an R2 multipart upload at `key`; its upload id.
pub async fn start_multipart(env: &Env, key: &str) -> EdgeResult<String> {
    let upload = env
        .bucket(BUCKET)?
        .create_multipart_upload(key)
        .execute()
        .await?;
    Ok(upload.upload_id().await)
}

/// Stores part `part` of the multipart upload; its etag.
pub async fn put_part(
    env: &Env,
    key: &str,
    upload_id: &str,
    part: u16,
    bytes: Vec<u8>,
) -> EdgeResult<String> {
    let upload = env
        .bucket(BUCKET)?
        .resume_multipart_upload(key, upload_id)?;
    Ok(upload.upload_part(part, bytes).await?.etag())
}

/// Joins the parts `(number, etag)` into the object `key`.
pub async fn complete_multipart(
    env: &Env,
    key: &str,
    upload_id: &str,
    parts: &[(u16, String)],
) -> EdgeResult<()> {
    let upload = env
        .bucket(BUCKET)?
        .resume_multipart_upload(key, upload_id)?;
    let parts = parts
        .iter()
        .map(|(n, etag)| worker::UploadedPart::new(*n, etag.clone()));
    upload.complete(parts).await?;
    Ok(())
}

/// Drops a multipart upload that will not be completed, and its parts.
pub async fn abort_multipart(env: &Env, key: &str, upload_id: &str) -> EdgeResult<()> {
    let upload = env
        .bucket(BUCKET)?
        .resume_multipart_upload(key, upload_id)?;
    upload.abort().await?;
    Ok(())
}

/// The object `key` of `bytes` bytes, read in 8 MiB ranges and checked against `sha256`
/// (lowercase hex) as it streams: `Err(Ok(digest))` when the digest differs.
pub async fn get_checked(
    env: &Env,
    key: &str,
    bytes: u64,
    sha256: &str,
) -> EdgeResult<Result<Vec<u8>, String>> {
    const STEP: u64 = 8 << 20;
    let mut out = Vec::with_capacity(bytes as usize);
    let mut hasher = Sha256::new();
    let mut offset = 0;
    while offset < bytes {
        let chunk = get_range(env, key, offset, STEP.min(bytes - offset)).await?;
        hasher.update(&chunk);
        out.extend_from_slice(&chunk);
        offset += chunk.len() as u64;
    }
    let digest = hex::encode(hasher.finalize());
    Ok(if digest == sha256 {
        Ok(out)
    } else {
        Err(digest)
    })
}
