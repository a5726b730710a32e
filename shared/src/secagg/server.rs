//! The server's side of a secure round: it only ever adds masked inputs (in Z/2³²) and, at
//! the end, rebuilds from the survivors' reveals the self-mask seed of each counted
//! participant and the mask key of each dropped one, then strips those masks from the sum.
//! What remains is the sum of the counted inputs; no single input is ever in the clear.

use super::client::{pair_seed, Peer, Reveal, Secret};
use super::kdf::RoundContext;
use super::keys::{agree, public_key};
use super::shamir::{self, Share};
use super::stream;
use super::SecAggError;

/// Adds one masked input to the running sum.
pub fn add(sum: &mut [u32], masked: &[u32]) {
    for (s, m) in sum.iter_mut().zip(masked) {
        *s = s.wrapping_add(*m);
    }
}

/// Strips the masks from `sum` (the sum of the `survivors`' masked inputs), given the
/// `senders` (who shared their secrets before masking) and the reveals of the survivors
/// (`(revealer, reveal)`). Each secret needs `threshold` shares; a rebuilt mask key must
/// match its advertised public key.
pub fn unmask(
    sum: &mut [u32],
    senders: &[Peer],
    survivors: &[u8],
    reveals: &[(u8, Reveal)],
    threshold: usize,
    ctx: &RoundContext,
) -> Result<(), SecAggError> {
    super::client::check_peers(senders, threshold)?;
    if survivors.len() < threshold || survivors.iter().any(|x| !senders.iter().any(|p| p.x == *x)) {
        return Err(SecAggError::Survivors);
    }
    for peer in senders {
        let counted = survivors.contains(&peer.x);
        let wanted = if counted {
            Secret::SelfMask
        } else {
            Secret::MaskKey
        };
        let mut shares: Vec<Share> = reveals
            .iter()
            .filter(|(from, r)| r.about == peer.x && r.secret == wanted && survivors.contains(from))
            .map(|(from, r)| Share {
                x: *from,
                y: r.share,
            })
            .collect();
        shares.sort_by_key(|s| s.x);
        shares.dedup_by_key(|s| s.x);
        if shares.len() < threshold {
            return Err(SecAggError::TooFewShares {
                about: peer.x,
                have: shares.len(),
                need: threshold,
            });
        }
        let secret = shamir::combine(&shares[..threshold]).ok_or(SecAggError::Duplicate)?;
        if counted {
            stream::apply(sum, &secret, false);
        } else {
            if public_key(&secret) != peer.keys.s_pk {
                return Err(SecAggError::WrongKey { about: peer.x });
            }
            // Each survivor u added +mask(u, v) if u < v, else −mask(u, v): take it back.
            for u in senders.iter().filter(|u| survivors.contains(&u.x)) {
                let seed = pair_seed(ctx, &agree(&secret, &u.keys.s_pk), u.x, peer.x);
                stream::apply(sum, &seed, u.x > peer.x);
            }
        }
    }
    Ok(())
}
