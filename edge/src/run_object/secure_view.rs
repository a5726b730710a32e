//! What a participant sees of a secure round (`GET …/secure`, and the answer to each call):
//! its phase and deadline, the members with their keys and signatures, who sent and whose
//! input counts, and the shares sealed for the caller.

use meshfed_shared::api::runs::{SecurePhase, SecureRound, SecureSent};
use meshfed_shared::secagg::identity::MemberSignature;
use meshfed_shared::time::rfc3339_from_unix_ms;

use super::live::Live;
use super::secure::{index, is_sender, is_survivor, peers};
use super::RunCoordinator;
use crate::error::{EdgeError, EdgeResult};
use crate::store::{
    self,
    secure::{MemberRow, SecureRoundRow},
};

impl RunCoordinator {
    pub(super) async fn view(
        &self,
        live: &Live,
        run_id: i64,
        user_id: &str,
        len: usize,
    ) -> EdgeResult<SecureRound> {
        let db = store::db(&self.env)?;
        let round = live.round;
        let (row, phase, members) = round_state(&db, run_id, round).await?;
        let mine = members.iter().find(|m| m.user_id == user_id);
        let me = mine.and_then(index);
        let shares_for_me = match (me, phase) {
            (Some(x), SecurePhase::Input | SecurePhase::Reveal) => {
                let senders: Vec<u8> = members
                    .iter()
                    .filter(|m| is_sender(m))
                    .filter_map(index)
                    .collect();
                store::secure_shares::shares_to(&db, run_id, round, x)
                    .await?
                    .into_iter()
                    .filter(|s| senders.contains(&s.from))
                    .collect()
            }
            _ => vec![],
        };
        // Who sent shares (from the input phase) and whose inputs count (from the reveals).
        let from = |p: SecurePhase, rule: fn(&MemberRow) -> bool| -> Vec<u8> {
            match phase as u8 >= p as u8 {
                true => members
                    .iter()
                    .filter(|m| rule(m))
                    .filter_map(index)
                    .collect(),
                false => vec![],
            }
        };
        Ok(SecureRound {
            round,
            attempt: row.attempt as u32,
            phase,
            phase_deadline_at: rfc3339_from_unix_ms(row.phase_deadline_at),
            advertised: members.len() as u32,
            threshold: row.threshold.map(|t| t as u32),
            me,
            members: peers(&members, |_| true)?,
            signatures: signatures(&members),
            senders: from(SecurePhase::Input, is_sender),
            survivors: from(SecurePhase::Reveal, is_survivor),
            shares_for_me,
            vector_len: len,
            sent: SecureSent {
                keys: mine.is_some(),
                shares: mine.is_some_and(|m| m.shared != 0),
                input: mine.is_some_and(|m| m.input_key.is_some()),
                reveal: mine.is_some_and(|m| m.revealed != 0),
            },
        })
    }
}

/// The members' signatures of their keys, with the public keys they verify against.
fn signatures(members: &[MemberRow]) -> Vec<MemberSignature> {
    let signed = |m: &MemberRow| {
        let signature: [u8; 64] = hex::decode(m.signature.as_deref()?).ok()?.try_into().ok()?;
        Some(MemberSignature {
            x: index(m)?,
            username: m.username.clone(),
            public_key: m.public_key.clone()?,
            signature,
        })
    };
    members.iter().filter_map(signed).collect()
}

/// The open secure round's row, phase and members.
pub(super) async fn round_state(
    db: &worker::D1Database,
    run_id: i64,
    round: u32,
) -> EdgeResult<(SecureRoundRow, SecurePhase, Vec<MemberRow>)> {
    let row = store::secure::round(db, run_id, round)
        .await?
        .ok_or_else(|| EdgeError::Internal("secure round missing".into()))?;
    let phase = row.phase()?;
    Ok((row, phase, store::secure::members(db, run_id, round).await?))
}
