//! One-time codes and opaque tokens: how they are made from random bytes and how they are
//! stored (SHA-256 hex, so a leaked table cannot be replayed).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Bytes of randomness in an opaque token (refresh tokens, challenge sessions): 256 bits.
pub const TOKEN_BYTES: usize = 32;

/// SHA-256 hex of a secret, the form in which codes and tokens are stored.
pub fn digest_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// An opaque URL-safe token from `TOKEN_BYTES` random bytes.
pub fn opaque_token(random: &[u8; TOKEN_BYTES]) -> String {
    B64.encode(random)
}

/// A 6-digit code (emailed confirmation and reset codes) from 4 random bytes. Rejection
/// sampling keeps every code equally likely: `None` asks the caller for fresh bytes.
pub fn six_digit_code(random: [u8; 4]) -> Option<String> {
    let n = u32::from_be_bytes(random);
    // The largest multiple of 1,000,000 that fits in u32.
    const LIMIT: u32 = (u32::MAX / 1_000_000) * 1_000_000;
    (n < LIMIT).then(|| format!("{:06}", n % 1_000_000))
}

/// An 8-digit backup code (shown once at MFA setup) from 4 random bytes; `None` asks for
/// fresh bytes.
pub fn backup_code(random: [u8; 4]) -> Option<String> {
    let n = u32::from_be_bytes(random);
    const LIMIT: u32 = (u32::MAX / 100_000_000) * 100_000_000;
    (n < LIMIT).then(|| format!("{:08}", n % 100_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn codes_are_fixed_width_and_rejection_sampled() {
        assert_eq!(six_digit_code([0, 0, 0, 7]).unwrap(), "000007");
        assert_eq!(six_digit_code([0xff; 4]), None);
        assert_eq!(backup_code([0, 0, 0, 42]).unwrap(), "00000042");
        assert_eq!(backup_code([0xff; 4]), None);
        assert_eq!(
            six_digit_code(1_000_001u32.to_be_bytes()).unwrap(),
            "000001"
        );
    }

    #[test]
    fn opaque_tokens_are_url_safe_and_43_chars() {
        let t = opaque_token(&[0xfb; TOKEN_BYTES]);
        assert_eq!(t.len(), 43);
        assert!(t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
