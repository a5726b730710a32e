//! HKDF-SHA256 (RFC 5869) and the ChaCha12 stream that expands a 32-byte seed into a mask of
//! elements of Z/2³². Every key and mask is bound to its run, round and purpose through the
//! HKDF `info`, so no key material is ever used for two purposes or two rounds.
//!
//! Masks use 12 rounds, as `rand`'s `StdRng` does (Aumasson 2019, "Too Much Crypto": the best
//! attack reaches 7): expanding the masks is the protocol's main cost, at the server's close
//! above all (every survivor's self-mask and each dropout's mask with every survivor), and
//! ChaCha12 does 12 rounds per block where ChaCha20 does 20 (`bench-secagg` measures both
//! unmasking times in docs/privacy.md). Sealed shares keep ChaCha20-Poly1305.

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha12;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Which run and round key material belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundContext {
    pub run: i64,
    pub round: u32,
}

impl RoundContext {
    /// `purpose` bound to this run and round, with the participants it concerns.
    pub fn info(&self, purpose: &str, who: &[u8]) -> Vec<u8> {
        let mut info = b"meshfed-secagg-v1\0".to_vec();
        info.extend_from_slice(&self.run.to_le_bytes());
        info.extend_from_slice(&self.round.to_le_bytes());
        info.extend_from_slice(purpose.as_bytes());
        info.push(0);
        info.extend_from_slice(who);
        info
    }
}

/// HKDF-SHA256 with an empty salt, 32 bytes of output.
pub fn hkdf(ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let prk = hmac(&[0u8; 32], ikm);
    let mut input = info.to_vec();
    input.push(1);
    hmac(&prk, &input)
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `len` elements of Z/2³² from the ChaCha12 keystream of `seed` (little-endian words).
pub fn mask(seed: &[u8; 32], len: usize) -> Vec<u32> {
    let mut bytes = vec![0u8; len * 4];
    ChaCha12::new(seed.into(), &[0u8; 12].into()).apply_keystream(&mut bytes);
    bytes
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}

/// `target[i] += sign · mask(seed)[i]` in Z/2³², without holding the mask.
pub fn apply_mask(target: &mut [u32], seed: &[u8; 32], add: bool) {
    let mut cipher = ChaCha12::new(seed.into(), &[0u8; 12].into());
    let mut block = [0u8; 4096];
    for chunk in target.chunks_mut(1024) {
        let bytes = &mut block[..chunk.len() * 4];
        bytes.fill(0);
        cipher.apply_keystream(bytes);
        for (t, w) in chunk.iter_mut().zip(bytes.chunks_exact(4)) {
            let m = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            *t = if add {
                t.wrapping_add(m)
            } else {
                t.wrapping_sub(m)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_matches_rfc_5869_case_3() {
        // RFC 5869 A.3: IKM 22 × 0x0b, empty salt and info; OKM's first 32 bytes.
        let okm = hkdf(&[0x0b; 22], &[]);
        assert_eq!(
            hex::encode(okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
        );
    }

    #[test]
    fn apply_mask_adds_and_removes_the_same_stream() {
        let seed = [9u8; 32];
        let m = mask(&seed, 3000);
        let mut v = vec![5u32; 3000];
        apply_mask(&mut v, &seed, true);
        assert!(v.iter().zip(&m).all(|(a, b)| *a == 5u32.wrapping_add(*b)));
        apply_mask(&mut v, &seed, false);
        assert!(v.iter().all(|&a| a == 5));
        assert_ne!(mask(&[8u8; 32], 4), mask(&seed, 4));
    }

    #[test]
    fn info_separates_runs_rounds_and_purposes() {
        let a = RoundContext { run: 1, round: 2 };
        let b = RoundContext { run: 1, round: 3 };
        assert_ne!(a.info("mask", &[1, 2]), b.info("mask", &[1, 2]));
        assert_ne!(a.info("mask", &[1, 2]), a.info("share", &[1, 2]));
    }
}
