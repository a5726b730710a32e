//! A participant's whole part in one secure round, as a state machine over what the server
//! shows (`GET …/secure`): given the round's view, [`Participant::next`] says what to send, so
//! `meshfed join` (blocking HTTP) and the browser (fetch) drive the same steps and send the
//! same bytes.

use super::{client, vector, Peer, RoundContext, RoundSecrets, SecAggError};
use crate::api::runs::{RevealRequest, SecurePhase, SecureRound, SharesRequest};

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
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing yet: ask for the view again later.
    Wait,
    Keys(super::KeyAdvert),
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
}

impl std::fmt::Debug for Participant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Participant {{ {:?}, secrets: <redacted> }}", self.ctx)
    }
}

impl Participant {
    /// `entropy`: 64 fresh random bytes (the round's keys, then the share polynomials).
    pub fn new(ctx: RoundContext, entropy: &[u8; 64], trained: Trained) -> Self {
        let (keys, coefficients) = entropy.split_at(32);
        let keys: [u8; 32] = keys.try_into().unwrap_or([0; 32]);
        Self {
            ctx,
            keys,
            coefficients: coefficients.try_into().unwrap_or([0; 32]),
            trained,
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
            SecurePhase::Keys if !sent.keys => Ok(Action::Keys(secrets.advert())),
            SecurePhase::Keys => Ok(Action::Wait),
            SecurePhase::Shares if !sent.shares => {
                let me = view.me.ok_or(SecAggError::NotMember)?;
                let t = view.threshold.unwrap_or(2) as usize;
                let shares = client::seal_shares(
                    &secrets,
                    me,
                    &view.members,
                    t,
                    &self.ctx,
                    &self.coefficients,
                )?;
                Ok(Action::Shares(SharesRequest { shares }))
            }
            SecurePhase::Input if !sent.input => {
                let me = view.me.ok_or(SecAggError::NotMember)?;
                if !view.senders.contains(&me) {
                    return Err(SecAggError::NotMember);
                }
                let t = &self.trained;
                let input = vector::encode(
                    &t.values,
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
        };
        Participant::new(RoundContext { run: 1, round: 2 }, &[3; 64], trained)
    }

    fn view(phase: SecurePhase, sent: SecureSent, me: Option<u8>) -> SecureRound {
        let members: Vec<Peer> = (1..=3u8)
            .map(|x| Peer {
                x,
                keys: RoundSecrets::derive(&[x; 32], &RoundContext { run: 1, round: 2 }).advert(),
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
}
