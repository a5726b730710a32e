//! Sealing secrets the server must read back (TOTP secrets): ChaCha20-Poly1305 with a key
//! derived from the server's signing secret for this one purpose, and a random nonce per
//! message. Stored as hex of `nonce || ciphertext`.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

pub const NONCE_BYTES: usize = 12;

/// A key for one purpose, derived from the server secret (domain-separated SHA-256).
pub fn derive_key(server_secret: &[u8], purpose: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"meshfed-seal-v1\0");
    h.update(purpose.as_bytes());
    h.update(b"\0");
    h.update(server_secret);
    h.finalize().into()
}

pub fn seal(key: &[u8; 32], nonce: &[u8; NONCE_BYTES], plaintext: &[u8]) -> String {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let ct = cipher
        .encrypt(Nonce::from_slice(nonce), plaintext)
        .expect("encryption cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    hex::encode(out)
}

/// The plaintext, or `None` when the text was not sealed with `key` or was altered.
pub fn open(key: &[u8; 32], sealed_hex: &str) -> Option<Vec<u8>> {
    let bytes = hex::decode(sealed_hex).ok()?;
    if bytes.len() < NONCE_BYTES + 16 {
        return None;
    }
    let (nonce, ct) = bytes.split_at(NONCE_BYTES);
    ChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(Nonce::from_slice(nonce), ct)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let key = derive_key(b"server secret", "totp");
        let sealed = seal(&key, &[9; NONCE_BYTES], b"JBSWY3DPEHPK3PXP");
        assert!(!sealed.contains(&hex::encode(b"JBSWY3DPEHPK3PXP")));
        assert_eq!(open(&key, &sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        let other = derive_key(b"server secret", "other");
        assert_ne!(key, other);
        assert!(open(&other, &sealed).is_none());
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        assert!(open(&key, &String::from_utf8(tampered).unwrap()).is_none());
        assert!(open(&key, "zz").is_none());
    }
}
