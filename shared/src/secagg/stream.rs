//! The mask stream: the ChaCha12 keystream of a 32-byte seed (the RFC 8439 block function
//! with 12 rounds, a zero nonce and the block counter from 0), read as little-endian words of
//! Z/2³² and added to (or taken from) a vector in place.
//!
//! Expanding masks is secure aggregation's main cost, at the server's close above all (every
//! survivor's self-mask and each dropout's mask with every survivor: 406 streams of 1M words
//! for 64 participants with 6 dropouts), and the server is a wasm Worker on one thread. So the
//! stream is written here rather than taken from the `chacha20` crate, whose software backend
//! (the only one it has in wasm) runs one block at a time: in wasm, four blocks go at once in
//! the lanes of SIMD128 vectors (V8 has run SIMD128 since 2021, Safari since 16.4); elsewhere
//! one block at a time. `bench-secagg` prints the native figure against the crate, and
//! docs/privacy.md the Worker's close before and after. Both paths give the bytes of the
//! `chacha20` crate's `ChaCha12`: the unit tests compare them natively, the app's wasm tests
//! check the SIMD path against the same digest in Chromium.

const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];
/// Double rounds: ChaCha12.
const DOUBLE_ROUNDS: usize = 6;

/// A double round (a column round, then a diagonal round) of `quarter!` on the 16 words.
macro_rules! double_round {
    ($quarter:ident) => {
        $quarter!(0, 4, 8, 12);
        $quarter!(1, 5, 9, 13);
        $quarter!(2, 6, 10, 14);
        $quarter!(3, 7, 11, 15);
        $quarter!(0, 5, 10, 15);
        $quarter!(1, 6, 11, 12);
        $quarter!(2, 7, 8, 13);
        $quarter!(3, 4, 9, 14);
    };
}

/// `target[i] ± stream(seed)[i]` (`add` picks the sign) for every `i`, in Z/2³².
pub fn apply(target: &mut [u32], seed: &[u8; 32], add: bool) {
    match add {
        true => apply_signed::<true>(target, seed),
        false => apply_signed::<false>(target, seed),
    }
}

/// [`apply`] with its sign a constant, so no loop tests it.
fn apply_signed<const ADD: bool>(target: &mut [u32], seed: &[u8; 32]) {
    let state = initial_state(seed);
    #[cfg(target_arch = "wasm32")]
    let (state, target) = simd::apply_blocks_of_four::<ADD>(state, target);
    scalar_apply::<ADD>(state, target);
}

/// The first `len` words of the stream.
pub fn words(seed: &[u8; 32], len: usize) -> Vec<u32> {
    let mut out = vec![0u32; len];
    apply(&mut out, seed, true);
    out
}

fn initial_state(seed: &[u8; 32]) -> [u32; 16] {
    let mut state = [0u32; 16];
    state[..4].copy_from_slice(&SIGMA);
    for (word, bytes) in state[4..12].iter_mut().zip(seed.chunks_exact(4)) {
        *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    state
}

#[inline(always)]
fn combine<const ADD: bool>(target: &mut u32, mask: u32) {
    *target = if ADD {
        target.wrapping_add(mask)
    } else {
        target.wrapping_sub(mask)
    };
}

/// One block at a time from `state` (its counter, word 12, where the stream has got to).
fn scalar_apply<const ADD: bool>(mut state: [u32; 16], target: &mut [u32]) {
    for chunk in target.chunks_mut(16) {
        let block = scalar_block(&state);
        state[12] = state[12].wrapping_add(1);
        for (t, m) in chunk.iter_mut().zip(block) {
            combine::<ADD>(t, m);
        }
    }
}

fn scalar_block(state: &[u32; 16]) -> [u32; 16] {
    let mut x = *state;
    macro_rules! quarter {
        ($a:literal, $b:literal, $c:literal, $d:literal) => {
            x[$a] = x[$a].wrapping_add(x[$b]);
            x[$d] = (x[$d] ^ x[$a]).rotate_left(16);
            x[$c] = x[$c].wrapping_add(x[$d]);
            x[$b] = (x[$b] ^ x[$c]).rotate_left(12);
            x[$a] = x[$a].wrapping_add(x[$b]);
            x[$d] = (x[$d] ^ x[$a]).rotate_left(8);
            x[$c] = x[$c].wrapping_add(x[$d]);
            x[$b] = (x[$b] ^ x[$c]).rotate_left(7);
        };
    }
    for _ in 0..DOUBLE_ROUNDS {
        double_round!(quarter);
    }
    let mut out = [0u32; 16];
    for ((o, a), b) in out.iter_mut().zip(x).zip(state) {
        *o = a.wrapping_add(*b);
    }
    out
}

/// SHA-256 of the little-endian bytes of the first 100,003 words for the seed 0, 1, …, 31:
/// the app's wasm tests check the SIMD path against [`KNOWN_ANSWER`] with it.
pub fn known_answer_digest() -> String {
    use sha2::{Digest, Sha256};
    let seed: [u8; 32] = core::array::from_fn(|i| i as u8);
    let mut hash = Sha256::new();
    for w in words(&seed, 100_003) {
        hash.update(w.to_le_bytes());
    }
    hex::encode(hash.finalize())
}

/// [`known_answer_digest`] of the `chacha20` crate's ChaCha12 keystream.
pub const KNOWN_ANSWER: &str = "98dfb3553584374c9d0ed97e84490d1a377959d61dc691db39ea08d2db91b704";

/// Four blocks at once: lane `k` of vector `i` is word `i` of block `counter + k`. The 16
/// vectors are named locals and the sign a constant: at `opt-level = "z"` an indexed array or a
/// sign tested per word would cost the Worker 35 % more time per stream.
#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::*;

    #[inline(always)]
    fn rotate_16(x: v128) -> v128 {
        i8x16_shuffle::<2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13>(x, x)
    }

    #[inline(always)]
    fn rotate_8(x: v128) -> v128 {
        i8x16_shuffle::<3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14>(x, x)
    }

    #[inline(always)]
    fn rotate<const L: u32, const R: u32>(x: v128) -> v128 {
        v128_or(u32x4_shl(x, L), u32x4_shr(x, R))
    }

    /// `words[at..at + 4] ± mask`.
    #[inline(always)]
    fn combine<const ADD: bool>(words: &mut [u32], at: usize, mask: v128) {
        let words = &mut words[at..at + 4];
        let ptr = words.as_mut_ptr() as *mut v128;
        // SAFETY: `words` is 4 in-bounds u32s (16 bytes), borrowed mutably here; wasm's
        // v128.load and v128.store need no alignment.
        unsafe {
            let t = v128_load(ptr);
            v128_store(
                ptr,
                if ADD {
                    u32x4_add(t, mask)
                } else {
                    u32x4_sub(t, mask)
                },
            );
        }
    }

    /// Words `4g..4g + 4` of the four blocks are lanes of `a`, `b`, `c`, `d`: transposed, they
    /// go to each block's place in `group` (64 words).
    #[inline(always)]
    fn transpose_into<const ADD: bool>(group: &mut [u32], g: usize, [a, b, c, d]: [v128; 4]) {
        let ab_low = i32x4_shuffle::<0, 4, 1, 5>(a, b);
        let ab_high = i32x4_shuffle::<2, 6, 3, 7>(a, b);
        let cd_low = i32x4_shuffle::<0, 4, 1, 5>(c, d);
        let cd_high = i32x4_shuffle::<2, 6, 3, 7>(c, d);
        combine::<ADD>(group, 4 * g, i64x2_shuffle::<0, 2>(ab_low, cd_low));
        combine::<ADD>(group, 16 + 4 * g, i64x2_shuffle::<1, 3>(ab_low, cd_low));
        combine::<ADD>(group, 32 + 4 * g, i64x2_shuffle::<0, 2>(ab_high, cd_high));
        combine::<ADD>(group, 48 + 4 * g, i64x2_shuffle::<1, 3>(ab_high, cd_high));
    }

    /// Applies the stream to the longest prefix of `target` that is whole groups of four
    /// blocks; returns the state after it and the rest of `target`.
    #[target_feature(enable = "simd128")]
    pub(super) fn apply_blocks_of_four<const ADD: bool>(
        mut state: [u32; 16],
        target: &mut [u32],
    ) -> ([u32; 16], &mut [u32]) {
        let whole = target.len() / 64 * 64;
        let (groups, rest) = target.split_at_mut(whole);
        for group in groups.chunks_exact_mut(64) {
            let mut start = [u32x4_splat(0); 16];
            for (v, s) in start.iter_mut().zip(state) {
                *v = u32x4_splat(s);
            }
            start[12] = u32x4_add(start[12], u32x4(0, 1, 2, 3));
            let [mut x0, mut x1, mut x2, mut x3, mut x4, mut x5, mut x6, mut x7, mut x8, mut x9, mut x10, mut x11, mut x12, mut x13, mut x14, mut x15] =
                start;
            macro_rules! quarter {
                ($a:ident, $b:ident, $c:ident, $d:ident) => {
                    $a = u32x4_add($a, $b);
                    $d = rotate_16(v128_xor($d, $a));
                    $c = u32x4_add($c, $d);
                    $b = rotate::<12, 20>(v128_xor($b, $c));
                    $a = u32x4_add($a, $b);
                    $d = rotate_8(v128_xor($d, $a));
                    $c = u32x4_add($c, $d);
                    $b = rotate::<7, 25>(v128_xor($b, $c));
                };
            }
            for _ in 0..super::DOUBLE_ROUNDS {
                quarter!(x0, x4, x8, x12);
                quarter!(x1, x5, x9, x13);
                quarter!(x2, x6, x10, x14);
                quarter!(x3, x7, x11, x15);
                quarter!(x0, x5, x10, x15);
                quarter!(x1, x6, x11, x12);
                quarter!(x2, x7, x8, x13);
                quarter!(x3, x4, x9, x14);
            }
            let words = [
                x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15,
            ];
            let sum = |i: usize| u32x4_add(words[i], start[i]);
            for g in 0..4 {
                let four = [sum(4 * g), sum(4 * g + 1), sum(4 * g + 2), sum(4 * g + 3)];
                transpose_into::<ADD>(group, g, four);
            }
            state[12] = state[12].wrapping_add(4);
        }
        (state, rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::cipher::{KeyIvInit, StreamCipher};
    use sha2::{Digest, Sha256};

    fn reference(seed: &[u8; 32], len: usize) -> Vec<u32> {
        let mut bytes = vec![0u8; len * 4];
        chacha20::ChaCha12::new(seed.into(), &[0u8; 12].into()).apply_keystream(&mut bytes);
        bytes
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect()
    }

    #[test]
    fn words_are_the_chacha12_keystream_at_every_length() {
        let seed: [u8; 32] = core::array::from_fn(|i| (i * 37 + 11) as u8);
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 1000, 4099] {
            assert_eq!(words(&seed, len), reference(&seed, len), "{len} words");
        }
    }

    #[test]
    fn apply_adds_and_takes_away_the_same_words() {
        let seed = [9u8; 32];
        let stream = words(&seed, 3001);
        let mut v: Vec<u32> = (0..3001).map(|i| i * 7).collect();
        apply(&mut v, &seed, true);
        assert!(v
            .iter()
            .zip(&stream)
            .enumerate()
            .all(|(i, (a, m))| *a == (i as u32 * 7).wrapping_add(*m)));
        apply(&mut v, &seed, false);
        assert!(v.iter().enumerate().all(|(i, a)| *a == i as u32 * 7));
        assert_ne!(words(&[8u8; 32], 4), words(&seed, 4));
    }

    #[test]
    fn the_known_answer_is_the_reference_keystream() {
        let seed: [u8; 32] = core::array::from_fn(|i| i as u8);
        let mut hash = Sha256::new();
        for w in reference(&seed, 100_003) {
            hash.update(w.to_le_bytes());
        }
        assert_eq!(hex::encode(hash.finalize()), KNOWN_ANSWER);
        assert_eq!(known_answer_digest(), KNOWN_ANSWER);
    }
}
