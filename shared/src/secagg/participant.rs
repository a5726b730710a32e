//! A participant's whole part in one secure round, as a state machine over what the server
//! shows (`GET …/secure`): given the round's view, [`Participant::next`] says what to send, so
//! `meshfed join` (blocking HTTP) and the browser (fetch) drive the same steps and send the
//! same bytes.

use super::{client, vector, Peer, RoundContext, RoundSecrets, SecAggError};
use ed25519_dalek::SigningKey;

use super::identity::SignedKeys;
use crate::api::runs::{RevealRequest, SecurePhase, SecureRound, SharesRequest};
use crate::privacy::noise::{add_noise, distributed_sd};

/// What the participant trained this round.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    pub global: Vec<f32>,
    pub values: Vec<f32>,
    /// FedAvg's weight for this upload, see [`vector::weight`].
    pub weight: f64,
    /// Training loss and Dice, and the federated validation of the round's global model.
    pub scores: vector::Scores,
    /// The model's classes (the vector's length depends on them).
    pub classes: usize,
    /// Under a DP plan: the noise the round's sum must carry; `values` are clipped already.
    pub noise: Option<DistributedNoise>,
}

/// Differential privacy's noise, shared among the inputs of a secure round: this input adds
/// N(0, (sd/√t)²) to each value, t the round's threshold (`privacy::noise`).
#[derive(Clone, PartialEq)]
pub struct DistributedNoise {
    /// σ·C, what the sum of at least t inputs carries.
    pub sd: f64,
    /// Fresh from the OS; it must never reach the server.
    pub seed: [u8; 32],
}

impl std::fmt::Debug for DistributedNoise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DistributedNoise {{ sd: {}, seed: <redacted> }}",
            self.sd
        )
    }
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing yet: ask for the view again later.
    Wait,
    Keys(SignedKeys),
    Shares(SharesRequest),
    /// The masked input's bytes (little-endian u32).
    Input(Vec<u8>),
    Reveal(RevealRequest),
    /// This participant's part is over (the round closed, or all is sent).
    Done,
}

pub struct Participant {
    ctx: RoundContext,
    keys: [u8; 32],
    coefficients: [u8; 32],
    trained: Trained,
    /// The Ed25519 key of the participant's recovery phrase: it signs the round's keys.
    identity: SigningKey,
}

impl std::fmt::Debug for Participant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Participant {{ {:?}, secrets: <redacted> }}", self.ctx)
    }
}

impl Participant {
    /// `entropy`: 64 fresh random bytes (the round's keys, then the share polynomials);
    /// `identity`: the key of the participant's recovery phrase (`auth::mnemonic::signing_key`).
    pub fn new(
        ctx: RoundContext,
        entropy: &[u8; 64],
        trained: Trained,
        identity: SigningKey,
    ) -> Self {
        let (keys, coefficients) = entropy.split_at(32);
        let keys: [u8; 32] = keys.try_into().unwrap_or([0; 32]);
        Self {
            ctx,
            keys,
            coefficients: coefficients.try_into().unwrap_or([0; 32]),
            trained,
            identity,
        }
    }

    /// The step `view` calls for.
    pub fn next(&self, view: &SecureRound) -> Result<Action, SecAggError> {
        if view.round != self.ctx.round {
            return Ok(Action::Done);
        }
        let sent = view.sent;
        let secrets = RoundSecrets::derive_for_attempt(&self.keys, &self.ctx, view.attempt);
        match view.phase {
            SecurePhase::Keys if !sent.keys => Ok(Action::Keys(SignedKeys::sign(
                &self.identity,
                &self.ctx,
                view.attempt,
                secrets.advert(),
            ))),
            SecurePhase::Keys => Ok(Action::Wait),
            SecurePhase::Shares if !sent.shares => {
                let me = view.me.ok_or(SecAggError::NotMember)?;
                self.check_signatures(view)?;
                let t = view.threshold.unwrap_or(2) as usize;
                let shares = client::seal_shares(
                    &secrets,
                    me,
                    &view.members,
                    t,
                    &self.ctx,
                    &self.coefficients,
                )?;
                Ok(Action::Shares(SharesRequest::of(&shares)))
            }
            SecurePhase::Input if !sent.input => {
                let me = view.me.ok_or(SecAggError::NotMember)?;
                if !view.senders.contains(&me) {
                    return Err(SecAggError::NotMember);
                }
                let t = &self.trained;
                let mut values = t.values.clone();
                if let Some(noise) = &t.noise {
                    let share = distributed_sd(noise.sd, view.threshold.unwrap_or(2) as usize);
                    add_noise(&mut values, share, noise.seed);
                }
                let input = vector::encode(
                    &values,
                    &t.global,
                    t.weight,
                    &t.scores,
                    t.classes,
                    view.members.len(),
                );
                let masked = client::masked_input(&secrets, me, &senders(view), &self.ctx, &input);
                Ok(Action::Input(
                    masked.iter().flat_map(|w| w.to_le_bytes()).collect(),
                ))
            }
            SecurePhase::Reveal if !sent.reveal => {
                let me = view.me.ok_or(SecAggError::NotMember)?;
                if !view.survivors.contains(&me) {
                    return Err(SecAggError::NotMember);
                }
                let reveals = client::reveal(
                    &secrets,
                    me,
                    &senders(view),
                    &view.shares_for_me,
                    &view.survivors,
                    view.threshold.unwrap_or(2) as usize,
                    &self.ctx,
                )?;
                Ok(Action::Reveal(RevealRequest { reveals }))
            }
            SecurePhase::Reveal => Ok(Action::Done),
            _ => Ok(Action::Wait),
        }
    }
}

impl Participant {
    /// Every member's keys signed by that member's key, before any secret is sealed for it.
    fn check_signatures(&self, view: &SecureRound) -> Result<(), SecAggError> {
        for peer in &view.members {
            let unsigned = SecAggError::UnsignedMember { about: peer.x };
            let sig = (view.signatures.iter())
                .find(|s| s.x == peer.x)
                .ok_or(unsigned.clone())?;
            let public = hex::decode(&sig.public_key).map_err(|_| unsigned.clone())?;
            let signed = SignedKeys {
                keys: peer.keys,
                signature: sig.signature,
            };
            signed
                .verify(&public, &self.ctx, view.attempt)
                .map_err(|_| unsigned)?;
        }
        Ok(())
    }
}

fn senders(view: &SecureRound) -> Vec<Peer> {
    view.members
        .iter()
        .filter(|p| view.senders.contains(&p.x))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::runs::SecureSent;
    use crate::secagg::identity::MemberSignature;

    fn participant() -> Participant {
        let trained = Trained {
            global: vec![0.0; 4],
            values: vec![0.1; 4],
            weight: 1.0,
            scores: vector::Scores {
                loss: 0.5,
                dice: 0.5,
                validation: Some((0.7, vec![Some(0.6)])),
            },
            classes: 2,
            noise: None,
        };
        Participant::new(
            RoundContext { run: 1, round: 2 },
            &[3; 64],
            trained,
            identity(1),
        )
    }

    /// Member `x`'s recovery-phrase key.
    fn identity(x: u8) -> SigningKey {
        let issued = crate::auth::mnemonic::issue(&[x; 16]);
        crate::auth::mnemonic::signing_key(issued.phrase.expose()).unwrap()
    }

    fn view(phase: SecurePhase, sent: SecureSent, me: Option<u8>) -> SecureRound {
        let ctx = RoundContext { run: 1, round: 2 };
        let members: Vec<Peer> = (1..=3u8)
            .map(|x| Peer {
                x,
                keys: RoundSecrets::derive(&[x; 32], &ctx).advert(),
            })
            .collect();
        let signatures = (members.iter())
            .map(|p| MemberSignature {
                x: p.x,
                username: format!("member{}", p.x),
                public_key: hex::encode(identity(p.x).verifying_key().as_bytes()),
                signature: SignedKeys::sign(&identity(p.x), &ctx, 0, p.keys).signature,
            })
            .collect();
        SecureRound {
            round: 2,
            attempt: 0,
            phase,
            phase_deadline_at: String::new(),
            advertised: 3,
            threshold: Some(2),
            me,
            members,
            signatures,
            senders: vec![1, 2, 3],
            survivors: vec![1, 2],
            shares_for_me: vec![],
            vector_len: vector::len(4, 2),
            sent,
        }
    }

    #[test]
    fn each_phase_asks_for_its_step_once() {
        let p = participant();
        let none = SecureSent::default();
        assert!(matches!(
            p.next(&view(SecurePhase::Keys, none, None)),
            Ok(Action::Keys(_))
        ));
        let keys = SecureSent { keys: true, ..none };
        assert_eq!(
            p.next(&view(SecurePhase::Keys, keys, None)),
            Ok(Action::Wait)
        );
        let Ok(Action::Shares(req)) = p.next(&view(SecurePhase::Shares, keys, Some(1))) else {
            panic!("shares expected");
        };
        assert_eq!(req.shares.len(), 3, "one per member, itself included");
        let shared = SecureSent {
            shares: true,
            ..keys
        };
        assert_eq!(
            p.next(&view(SecurePhase::Shares, shared, Some(1))),
            Ok(Action::Wait)
        );
        let Ok(Action::Input(bytes)) = p.next(&view(SecurePhase::Input, shared, Some(1))) else {
            panic!("input expected");
        };
        assert_eq!(bytes.len(), vector::len(4, 2) * 4);
        // Keys fixed without us, or our input not counted: said, not guessed.
        assert_eq!(
            p.next(&view(SecurePhase::Shares, keys, None)),
            Err(SecAggError::NotMember)
        );
        let input = SecureSent {
            input: true,
            ..shared
        };
        assert_eq!(
            p.next(&view(SecurePhase::Reveal, input, Some(3))),
            Err(SecAggError::NotMember)
        );
        let Ok(Action::Keys(first)) = p.next(&view(SecurePhase::Keys, none, None)) else {
            panic!("keys expected");
        };
        let mut again = view(SecurePhase::Keys, none, None);
        again.attempt = 1;
        let Ok(Action::Keys(second)) = p.next(&again) else {
            panic!("keys expected");
        };
        assert_ne!(first, second, "a round's keys that start over are fresh");
        let mut closed = view(SecurePhase::Keys, none, None);
        closed.round = 3;
        assert_eq!(p.next(&closed), Ok(Action::Done), "the round moved on");
        assert!(!format!("{p:?}").contains("secrets: Round"), "{p:?}");
    }

    /// No secret is sealed for a member whose keys its owner did not sign (or signed for
    /// another attempt), and the keys a participant advertises carry its own signature.
    #[test]
    fn secrets_go_only_to_members_whose_keys_are_signed() {
        let p = participant();
        let keys = SecureSent {
            keys: true,
            ..SecureSent::default()
        };
        let ctx = RoundContext { run: 1, round: 2 };
        let Ok(Action::Keys(mine)) = p.next(&view(SecurePhase::Keys, SecureSent::default(), None))
        else {
            panic!("keys expected");
        };
        let public = identity(1).verifying_key().to_bytes();
        assert_eq!(mine.verify(&public, &ctx, 0), Ok(()));
        let mut forged = view(SecurePhase::Shares, keys, Some(1));
        forged.signatures[2].signature =
            SignedKeys::sign(&identity(1), &ctx, 0, forged.members[2].keys).signature;
        let refused = Err(SecAggError::UnsignedMember { about: 3 });
        assert_eq!(p.next(&forged), refused);
        let mut missing = view(SecurePhase::Shares, keys, Some(1));
        missing.signatures.pop();
        assert_eq!(p.next(&missing), refused);
        let mut restarted = view(SecurePhase::Shares, keys, Some(1));
        restarted.attempt = 1;
        assert!(matches!(
            p.next(&restarted),
            Err(SecAggError::UnsignedMember { .. })
        ));
    }

    /// The input's noise is σC/√t for the view's threshold t: the noised input minus the
    /// plain one (same keys, so the same masks) is that noise.
    #[test]
    fn the_noise_share_follows_the_rounds_threshold() {
        let n = 20_000;
        let with = |noise: Option<DistributedNoise>| {
            let trained = Trained {
                global: vec![0.0; n],
                values: vec![0.0; n],
                weight: 1.0,
                scores: vector::Scores::default(),
                classes: 2,
                noise,
            };
            Participant::new(
                RoundContext { run: 1, round: 2 },
                &[3; 64],
                trained,
                identity(1),
            )
        };
        let shared = SecureSent {
            keys: true,
            shares: true,
            ..SecureSent::default()
        };
        let noise = DistributedNoise {
            sd: 0.1,
            seed: [9; 32],
        };
        assert!(!format!("{noise:?}").contains('9'), "{noise:?}");
        for t in [2u32, 4] {
            let mut v = view(SecurePhase::Input, shared, Some(1));
            v.threshold = Some(t);
            let input = |p: &Participant| match p.next(&v) {
                Ok(Action::Input(bytes)) => bytes,
                other => panic!("input expected: {other:?}"),
            };
            let (plain, noised) = (input(&with(None)), input(&with(Some(noise.clone()))));
            let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let diffs: Vec<f64> = plain
                .chunks_exact(4)
                .zip(noised.chunks_exact(4))
                .take(n)
                .map(|(a, b)| super::super::fixed::decode(word(b).wrapping_sub(word(a))))
                .collect();
            let sd = (diffs.iter().map(|d| d * d).sum::<f64>() / n as f64).sqrt();
            let expected = 0.1 / (t as f64).sqrt();
            assert!(
                (sd - expected).abs() < 0.03 * expected,
                "t {t}: {sd} vs {expected}"
            );
        }
    }
}
