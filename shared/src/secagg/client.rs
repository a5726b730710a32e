//! The participant's side of a secure round (Bonawitz et al. 2017, honest-but-curious
//! server), after it has advertised its keys and learnt the round's key list:
//! 1. [`seal_shares`]: Shamir shares (t of n) of its mask key `s` and self-mask seed `b`, one
//!    per peer, each encrypted for that peer only (ChaCha20-Poly1305 under a key agreed with
//!    the peer's `c` key, bound to run, round, sender and recipient);
//! 2. [`masked_input`]: its fixed-point input plus the self-mask and, for every peer that sent
//!    shares, a pairwise mask (added towards higher indices, subtracted towards lower), so the
//!    pairwise masks cancel in the sum of everyone;
//! 3. [`reveal`]: for each peer that sent shares, the share of `b` if the peer's masked input
//!    was counted, otherwise the share of `s` (never both: either alone reveals nothing of an
//!    input, both would unmask it).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};

use super::kdf::{hkdf, RoundContext};
use super::keys::{agree, KeyAdvert, RoundSecrets};
use super::shamir::{self, Share};
use super::stream;
use super::SecAggError;

/// A participant of the round: its index (1-based, its Shamir x) and advertised keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Peer {
    pub x: u8,
    pub keys: KeyAdvert,
}

/// An encrypted pair of shares from one participant to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SealedShare {
    pub from: u8,
    pub to: u8,
    #[serde(with = "super::keys::base64_bytes")]
    #[schemars(with = "String", pattern(r"^[A-Za-z0-9+/]*={0,2}$"))]
    pub ciphertext: Vec<u8>,
}

/// Which of a peer's secrets a share belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "ShareSecret")]
pub enum Secret {
    /// The self-mask seed of a peer whose input counts.
    SelfMask,
    /// The mask key of a peer that dropped out.
    MaskKey,
}

/// One share revealed to the server for unmasking.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reveal {
    pub about: u8,
    pub secret: Secret,
    #[serde(with = "super::keys::base64_bytes")]
    #[schemars(with = "String", pattern(r"^[A-Za-z0-9+/]{43}=$"))]
    pub share: [u8; 32],
}

impl std::fmt::Debug for Reveal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Reveal {{ about: {}, secret: {:?} }}",
            self.about, self.secret
        )
    }
}

fn share_key(ctx: &RoundContext, shared: &[u8; 32], from: u8, to: u8) -> [u8; 32] {
    hkdf(shared, &ctx.info("share", &[from, to]))
}

/// The seed of the pairwise mask between `a` and `b` (either order).
pub(super) fn pair_seed(ctx: &RoundContext, shared: &[u8; 32], a: u8, b: u8) -> [u8; 32] {
    hkdf(shared, &ctx.info("mask", &[a.min(b), a.max(b)]))
}

fn cipher_parts(ctx: &RoundContext, from: u8, to: u8) -> Vec<u8> {
    ctx.info("share-aad", &[from, to])
}

/// Step 1: shares of `s` and `b` for every peer (itself included), any `threshold` of which
/// rebuild them. `entropy`: 32 fresh random bytes for the polynomials.
pub fn seal_shares(
    secrets: &RoundSecrets,
    me: u8,
    peers: &[Peer],
    threshold: usize,
    ctx: &RoundContext,
    entropy: &[u8; 32],
) -> Result<Vec<SealedShare>, SecAggError> {
    check_peers(peers, threshold)?;
    let xs: Vec<u8> = peers.iter().map(|p| p.x).collect();
    let words = (threshold - 1) * 8;
    let coefficients = |purpose: &str| -> Vec<u8> {
        let seed = hkdf(entropy, &ctx.info(purpose, &[me]));
        stream::words(&seed, words)
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect()
    };
    let s_shares = shamir::split(&secrets.s_sk, threshold, &xs, &coefficients("coef-s"));
    let b_shares = shamir::split(&secrets.b, threshold, &xs, &coefficients("coef-b"));
    peers
        .iter()
        .zip(s_shares.iter().zip(&b_shares))
        .map(|(peer, (s, b))| {
            let key = share_key(ctx, &agree(&secrets.c_sk, &peer.keys.c_pk), me, peer.x);
            let mut plain = s.y.to_vec();
            plain.extend_from_slice(&b.y);
            let aad = cipher_parts(ctx, me, peer.x);
            let ciphertext = ChaCha20Poly1305::new(Key::from_slice(&key))
                .encrypt(
                    Nonce::from_slice(&[0u8; 12]),
                    Payload {
                        msg: &plain,
                        aad: &aad,
                    },
                )
                .map_err(|_| SecAggError::BadShare { from: me })?;
            Ok(SealedShare {
                from: me,
                to: peer.x,
                ciphertext,
            })
        })
        .collect()
}

/// Step 2: `input` (fixed point, see [`super::fixed`]) masked for the peers in `senders`
/// (those whose shares reached the server; itself included or not).
pub fn masked_input(
    secrets: &RoundSecrets,
    me: u8,
    senders: &[Peer],
    ctx: &RoundContext,
    input: &[u32],
) -> Vec<u32> {
    let mut y = input.to_vec();
    stream::apply(&mut y, &secrets.b, true);
    for peer in senders.iter().filter(|p| p.x != me) {
        let seed = pair_seed(ctx, &agree(&secrets.s_sk, &peer.keys.s_pk), me, peer.x);
        stream::apply(&mut y, &seed, me < peer.x);
    }
    y
}

/// Step 3: this participant's reveals, from the sealed shares addressed to it by the
/// `senders`, once the server names the `survivors` whose masked inputs it counted.
pub fn reveal(
    secrets: &RoundSecrets,
    me: u8,
    senders: &[Peer],
    received: &[SealedShare],
    survivors: &[u8],
    threshold: usize,
    ctx: &RoundContext,
) -> Result<Vec<Reveal>, SecAggError> {
    if survivors.len() < threshold || survivors.iter().any(|x| !senders.iter().any(|p| p.x == *x)) {
        return Err(SecAggError::Survivors);
    }
    senders
        .iter()
        .map(|peer| {
            let sealed = received
                .iter()
                .find(|s| s.from == peer.x && s.to == me)
                .ok_or(SecAggError::BadShare { from: peer.x })?;
            let (s, b) = open(secrets, me, peer, sealed, ctx)?;
            Ok(if survivors.contains(&peer.x) {
                Reveal {
                    about: peer.x,
                    secret: Secret::SelfMask,
                    share: b.y,
                }
            } else {
                Reveal {
                    about: peer.x,
                    secret: Secret::MaskKey,
                    share: s.y,
                }
            })
        })
        .collect()
}

fn open(
    secrets: &RoundSecrets,
    me: u8,
    peer: &Peer,
    sealed: &SealedShare,
    ctx: &RoundContext,
) -> Result<(Share, Share), SecAggError> {
    let bad = SecAggError::BadShare { from: peer.x };
    let key = share_key(ctx, &agree(&secrets.c_sk, &peer.keys.c_pk), peer.x, me);
    let aad = cipher_parts(ctx, peer.x, me);
    let plain = ChaCha20Poly1305::new(Key::from_slice(&key))
        .decrypt(
            Nonce::from_slice(&[0u8; 12]),
            Payload {
                msg: &sealed.ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| bad.clone())?;
    let half = |range: std::ops::Range<usize>| -> Result<Share, SecAggError> {
        let y: [u8; 32] = plain
            .get(range)
            .and_then(|b| b.try_into().ok())
            .ok_or(bad.clone())?;
        Ok(Share { x: me, y })
    };
    Ok((half(0..32)?, half(32..64)?))
}

/// Distinct, non-zero indices, at least `threshold` of them, and a threshold of at least 2.
pub(super) fn check_peers(peers: &[Peer], threshold: usize) -> Result<(), SecAggError> {
    let mut xs: Vec<u8> = peers.iter().map(|p| p.x).collect();
    xs.sort_unstable();
    xs.dedup();
    if xs.len() != peers.len() || xs.first() == Some(&0) {
        return Err(SecAggError::Duplicate);
    }
    if threshold < 2 || peers.len() < threshold {
        return Err(SecAggError::Threshold {
            threshold,
            participants: peers.len(),
        });
    }
    Ok(())
}
