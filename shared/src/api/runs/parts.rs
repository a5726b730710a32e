//! `/api/runs/{id}/rounds/{round}/{weights|gradients}/parts…`: an upload too large for one
//! request goes in parts (R2 multipart through the Worker). The participant declares the
//! whole upload's size and SHA-256 first; the server answers the part size; every part but the
//! last has exactly that size; on completion the server reads the assembled upload back,
//! checks its digest, and only then counts it like a single-request upload.

use serde::{Deserialize, Serialize};

use crate::ApiError;

/// R2 refuses multipart parts under 5 MiB (all but the last).
pub const MIN_PART_BYTES: u64 = 5 << 20;
/// R2 numbers parts 1..=10,000.
pub const MAX_PARTS: u64 = 10_000;

/// How the assembled upload is encoded (the single-request route's `Content-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartsFormat {
    Safetensors,
    Json,
}

/// `POST …/parts`: the upload to come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartsRequest {
    /// The whole upload's size in bytes.
    pub bytes: u64,
    /// The whole upload's SHA-256, lowercase hex.
    pub sha256: String,
    pub format: PartsFormat,
}

/// The answer to `POST …/parts`: where to send the parts and how large each is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PartsSession {
    pub upload_id: String,
    pub bytes: u64,
    /// Every part but the last has exactly this size.
    pub part_bytes: u64,
    /// How many parts: numbered 1..=parts.
    pub parts: u64,
}

/// The answer to `PUT …/parts/{upload_id}/{n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PartReceipt {
    pub upload_id: String,
    pub part: u64,
    pub bytes: u64,
    /// Parts received so far (a part sent again replaces itself).
    pub received: u64,
    pub parts: u64,
}

/// A well-formed request that does not fit the upload: 422 naming `field`.
pub fn unfit(field: &str, reason: impl Into<String>) -> ApiError {
    let reason = reason.into();
    ApiError::new(
        crate::ErrorCode::UnprocessableEntity,
        format!("Unusable {field}: {reason}"),
    )
    .with_details(serde_json::json!({ "field": field, "reason": reason }))
}

/// The SHA-256 a participant declares for an upload: lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

impl PartsRequest {
    /// Checks the declaration against `limit` (the largest upload the run's model allows) and
    /// lays the parts out at `part_bytes` each.
    pub fn plan(&self, limit: u64, part_bytes: u64) -> Result<PartsSession, ApiError> {
        if self.sha256.len() != 64
            || !self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ApiError::invalid_field(
                "sha256",
                "must be the upload's SHA-256 as 64 lowercase hex digits",
            ));
        }
        if self.bytes == 0 {
            return Err(ApiError::invalid_field("bytes", "must be at least 1"));
        }
        if self.bytes > limit {
            return Err(ApiError::new(
                crate::ErrorCode::PayloadTooLarge,
                format!("An upload to this run is at most {limit} bytes"),
            )
            .with_details(serde_json::json!({ "limit_bytes": limit })));
        }
        let session = PartsSession::laid_out(String::new(), self.bytes, part_bytes);
        if session.parts > MAX_PARTS {
            return Err(ApiError::invalid_field(
                "bytes",
                "needs more than 10,000 parts at this server's part size",
            ));
        }
        Ok(session)
    }
}

impl PartsSession {
    /// An upload of `bytes` in parts of `part_bytes` (never under R2's minimum).
    pub fn laid_out(upload_id: String, bytes: u64, part_bytes: u64) -> Self {
        let part_bytes = part_bytes.max(MIN_PART_BYTES);
        PartsSession {
            upload_id,
            bytes,
            part_bytes,
            parts: bytes.div_ceil(part_bytes),
        }
    }

    /// The exact size of part `n`, or why there is no such part.
    pub fn part_len(&self, n: u64) -> Result<u64, ApiError> {
        if !(1..=self.parts).contains(&n) {
            return Err(unfit(
                "part",
                format!("must be 1 to {} for this upload", self.parts),
            ));
        }
        Ok(if n < self.parts {
            self.part_bytes
        } else {
            self.bytes - (self.parts - 1) * self.part_bytes
        })
    }

    /// Why the received parts (numbers, in any order) cannot complete the upload, if they
    /// cannot.
    pub fn missing(&self, received: &[u64]) -> Option<ApiError> {
        let missing: Vec<u64> = (1..=self.parts).filter(|n| !received.contains(n)).collect();
        (!missing.is_empty()).then(|| {
            ApiError::new(
                crate::ErrorCode::Conflict,
                format!("{} of {} parts are missing", missing.len(), self.parts),
            )
            .with_details(serde_json::json!({ "missing": missing }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(bytes: u64) -> PartsRequest {
        PartsRequest {
            bytes,
            sha256: "ab".repeat(32),
            format: PartsFormat::Safetensors,
        }
    }

    #[test]
    fn parts_are_the_server_size_but_the_last() {
        let s = request(12 << 20).plan(100 << 20, 5 << 20).unwrap();
        assert_eq!((s.part_bytes, s.parts), (5 << 20, 3));
        assert_eq!(s.part_len(1).unwrap(), 5 << 20);
        assert_eq!(s.part_len(3).unwrap(), 2 << 20);
        for outside in [0, 4] {
            let e = s.part_len(outside).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::UnprocessableEntity);
        }
        // Never under R2's 5 MiB minimum, even when the server's request cap is smaller.
        let s = request(3 << 20).plan(100 << 20, 1 << 20).unwrap();
        assert_eq!(
            (s.part_bytes, s.parts, s.part_len(1).unwrap()),
            (5 << 20, 1, 3 << 20)
        );
    }

    #[test]
    fn declarations_are_checked() {
        assert_eq!(
            request(0).plan(10, 5).unwrap_err().code,
            crate::ErrorCode::ValidationError
        );
        let over = request(11).plan(10, 5).unwrap_err();
        assert_eq!(over.code, crate::ErrorCode::PayloadTooLarge);
        for bad in ["AB".repeat(32), "ab".repeat(31), "zz".repeat(32)] {
            let r = PartsRequest {
                sha256: bad,
                ..request(1)
            };
            assert_eq!(
                r.plan(10, 5).unwrap_err().code,
                crate::ErrorCode::ValidationError
            );
        }
        let huge = request(MIN_PART_BYTES * (MAX_PARTS + 1));
        assert!(huge.plan(u64::MAX, 0).is_err());
    }

    #[test]
    fn the_declared_digest_is_fips_180_sha256() {
        // FIPS 180-2, appendix B.1.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn completion_needs_every_part() {
        let s = request(12 << 20).plan(100 << 20, 5 << 20).unwrap();
        assert!(s.missing(&[3, 1, 2]).is_none());
        let e = s.missing(&[1, 3]).unwrap();
        assert_eq!(e.details.unwrap()["missing"], serde_json::json!([2]));
    }
}
