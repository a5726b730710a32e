//! Uploads larger than the server takes in one request (it answered 413): in parts, laid out
//! as the server says, the whole upload's SHA-256 declared first (the server counts it only if
//! the parts join to that digest).

use meshfed_shared::api::runs::{
    sha256_hex, PartReceipt, PartsFormat, PartsRequest, PartsSession, UploadReceipt,
};
use reqwest::StatusCode;

use super::{data, Server, Upload};
use crate::error::CliResult;

impl Server {
    /// Uploads weights for `round` in parts. `None`: the completion was retried and the
    /// server had already used the upload up (the first try counted it or the round closed).
    pub(super) fn put_weights_in_parts(
        &self,
        run: i64,
        round: u32,
        body: &[u8],
        upload: &Upload,
    ) -> CliResult<Option<UploadReceipt>> {
        let base = format!("/api/runs/{run}/rounds/{round}/weights/parts");
        let declared = PartsRequest {
            bytes: body.len() as u64,
            sha256: sha256_hex(body),
            format: PartsFormat::Safetensors,
        };
        let session: PartsSession = self.post_json(&base, &declared)?;
        let base = format!("{base}/{}", session.upload_id);
        let bar = crate::progress::bar(session.parts, "uploading in parts");
        for (i, part) in body.chunks(session.part_bytes as usize).enumerate() {
            let _: PartReceipt = self.put_octets(&format!("{base}/{}", i + 1), part.to_vec())?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        let url = format!("{}{base}/complete?{}", self.base, upload.query());
        let (res, retried) = self.send(|token| self.client.post(&url).bearer_auth(token))?;
        let used_up = matches!(res.status(), StatusCode::NOT_FOUND | StatusCode::CONFLICT);
        if retried && used_up {
            return Ok(None);
        }
        data(res).map(Some)
    }
}
