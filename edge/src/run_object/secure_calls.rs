//! A participant's calls in a secure round, under the run object's lock: `view`, `keys`,
//! `shares`, `input`, `reveal`. Each checks the round's phase and what the caller has sent
//! (each thing once), writes to D1 or R2 before it answers, and lets the phases move on.

use meshfed_shared::api::runs::{
    round_conflict, RevealRequest, SecurePhase, SecureRound, SharesRequest,
};
use meshfed_shared::secagg::identity::SignedKeys;
use meshfed_shared::secagg::{vector, RoundContext, Secret};
use meshfed_shared::{ApiError, ErrorCode};

use super::live::Live;
use super::secure::{index, is_sender, is_survivor};
use super::secure_view::round_state;
use super::RunCoordinator;
use crate::blobs;
use crate::error::{EdgeError, EdgeResult};
use crate::http::now_ms;
use crate::store::{self, secure::MemberRow};

fn conflict(message: String) -> EdgeError {
    ApiError::new(ErrorCode::Conflict, message).into()
}

fn invalid(message: &str) -> EdgeError {
    ApiError::new(ErrorCode::UnprocessableEntity, message).into()
}

impl RunCoordinator {
    /// One participant's call in a secure round: `view`, `keys`, `shares`, `input` or
    /// `reveal`; answers what the round looks like to it afterwards.
    pub(super) async fn secure_call(
        &self,
        guard: &mut Option<Live>,
        run_id: i64,
        call: &SecureCall,
    ) -> EdgeResult<SecureRound> {
        // Phases move on when someone acts (checked after each act below), at a deadline (the
        // alarm) or when someone's activity changes (the Worker pokes): in between, the
        // object's last check stands and a call need not repeat it.
        let fresh = guard
            .as_ref()
            .is_some_and(|l| l.secure_checked == Some(l.round) && now_ms() < l.deadline_ms);
        if !fresh {
            self.check(guard, run_id).await?;
        }
        let live = self.ensure(guard, run_id).await?;
        if call.round != live.round {
            return Err(round_conflict(call.round, live.round).into());
        }
        let len = vector::len(live.model.parameter_count(), live.model.classes);
        // A view sends nothing: the polling call reads the round once, in `view`.
        let acted = match call.op {
            SecureOp::View => false,
            _ => self.act(live, run_id, call, len).await?,
        };
        if acted {
            self.check(guard, run_id).await?;
        }
        let live = self.ensure(guard, run_id).await?;
        if live.secure_checked != Some(live.round) {
            // The call closed the round: the caller sees the next one's key phase.
            let db = store::db(&self.env)?;
            store::secure::start(&db, run_id, live.round, live.deadline_ms).await?;
        }
        self.view(live, run_id, &call.user_id, len).await
    }

    /// Applies the call if it is one that sends something; true if it did.
    async fn act(
        &self,
        live: &Live,
        run_id: i64,
        call: &SecureCall,
        len: usize,
    ) -> EdgeResult<bool> {
        let db = store::db(&self.env)?;
        let round = live.round;
        let (row, phase, members) = round_state(&db, run_id, round).await?;
        let me = members.iter().find(|m| m.user_id == call.user_id);
        let wrong_phase = |wanted: SecurePhase| {
            conflict(format!(
                "Round {round} is in its {} phase, not {}",
                phase.as_str(),
                wanted.as_str()
            ))
        };
        match &call.op {
            SecureOp::View => Ok(false),
            SecureOp::Keys(signed) => {
                let keys = &signed.keys;
                if let Some(m) = me {
                    return match m.keys()? == *keys {
                        true => Ok(false), // the same advertisement again: nothing changes
                        false => Err(conflict(format!(
                            "You advertised other keys for round {round}; keys cannot change"
                        ))),
                    };
                }
                if phase != SecurePhase::Keys {
                    return Err(wrong_phase(SecurePhase::Keys));
                }
                if members.iter().any(|m| {
                    m.keys()
                        .is_ok_and(|k| k.s_pk == keys.s_pk || k.c_pk == keys.c_pk)
                }) {
                    return Err(conflict("Another member advertised these keys".into()));
                }
                let public = store::secure::public_key(&db, &call.user_id).await?;
                let public = hex::decode(public.unwrap_or_default()).unwrap_or_default();
                let ctx = RoundContext { run: run_id, round };
                signed
                    .verify(&public, &ctx, row.attempt as u32)
                    .map_err(|e| invalid(&format!("Round keys refused: {e}")))?;
                store::secure::advertise(&db, run_id, round, &call.user_id, signed).await?;
                Ok(true)
            }
            SecureOp::Shares(req) => {
                if phase != SecurePhase::Shares {
                    return Err(wrong_phase(SecurePhase::Shares));
                }
                let m = me.filter(|m| index(m).is_some()).ok_or_else(|| {
                    conflict(format!("You are not among round {round}'s members"))
                })?;
                let x = index(m).unwrap_or_default();
                let shares = req.sealed_by(x);
                if m.shared != 0 {
                    // The same shares again (a retried request) change nothing; others are
                    // refused: nobody may swap shares once the inputs can depend on them.
                    let mut sent = store::secure_shares::shares_from(&db, run_id, round, x).await?;
                    let mut again = shares.clone();
                    sent.sort_by_key(|s| s.to);
                    again.sort_by_key(|s| s.to);
                    return match sent == again {
                        true => Ok(false),
                        false => Err(conflict(format!(
                            "You already sent other shares for round {round}; they cannot change"
                        ))),
                    };
                }
                let mut to: Vec<u8> = shares.iter().map(|s| s.to).collect();
                to.sort_unstable();
                let mut expected: Vec<u8> = members.iter().filter_map(index).collect();
                expected.sort_unstable();
                if to != expected || shares.iter().any(|s| s.ciphertext.len() != 80) {
                    return Err(invalid(
                        "Send one sealed share (80 bytes) to each member, yourself included",
                    ));
                }
                store::secure_shares::insert_shares(&db, run_id, round, &call.user_id, &shares)
                    .await?;
                Ok(true)
            }
            SecureOp::Input(bytes) => {
                if phase != SecurePhase::Input {
                    return Err(wrong_phase(SecurePhase::Input));
                }
                let m = me.filter(|m| is_sender(m)).ok_or_else(|| {
                    conflict(format!(
                        "Your shares did not reach round {round} in time; it goes on without you"
                    ))
                })?;
                if let Some(key) = &m.input_key {
                    return match blobs::get(&self.env, key).await? == *bytes {
                        true => Ok(false), // a retried upload
                        false => Err(conflict(format!(
                            "You already uploaded another input for round {round}; it cannot change"
                        ))),
                    };
                }
                if bytes.len() != len * 4 {
                    return Err(invalid(&format!(
                        "A masked input of this run is {len} little-endian u32 ({} bytes), not {} bytes",
                        len * 4,
                        bytes.len()
                    )));
                }
                let key = format!("runs/{run_id}/rounds/{round}/secure/{}.u32", call.user_id);
                blobs::put(&self.env, &key, bytes.clone()).await?;
                store::secure::set_input(&db, run_id, round, &call.user_id, &key).await?;
                Ok(true)
            }
            SecureOp::Reveal(req) => {
                if phase != SecurePhase::Reveal {
                    return Err(wrong_phase(SecurePhase::Reveal));
                }
                let m = me.filter(|m| is_survivor(m)).ok_or_else(|| {
                    conflict(format!("Your masked input did not count in round {round}"))
                })?;
                if m.revealed != 0 {
                    let x = index(m).unwrap_or_default();
                    let mut sent: Vec<(u8, [u8; 32])> =
                        store::secure_shares::reveals(&db, run_id, round)
                            .await?
                            .into_iter()
                            .filter(|(from, _)| *from == x)
                            .map(|(_, r)| (r.about, r.share))
                            .collect();
                    let mut again: Vec<(u8, [u8; 32])> =
                        req.reveals.iter().map(|r| (r.about, r.share)).collect();
                    sent.sort_unstable();
                    again.sort_unstable();
                    return match sent == again {
                        true => Ok(false), // a retried request
                        false => Err(conflict(format!(
                            "You already revealed other shares for round {round}; they cannot change"
                        ))),
                    };
                }
                let fits = |m: &MemberRow| {
                    let x = index(m);
                    let wanted = if is_survivor(m) {
                        Secret::SelfMask
                    } else {
                        Secret::MaskKey
                    };
                    req.reveals
                        .iter()
                        .filter(|r| Some(r.about) == x && r.secret == wanted)
                        .count()
                        == 1
                };
                let senders = members.iter().filter(|m| is_sender(m));
                if req.reveals.len() != senders.clone().count() || !senders.clone().all(fits) {
                    return Err(invalid(
                        "Reveal one share per sender: of the self-mask for a survivor, of the mask key for one that dropped",
                    ));
                }
                let x = index(m).unwrap_or_default();
                store::secure_shares::insert_reveals(
                    &db,
                    run_id,
                    round,
                    &call.user_id,
                    x,
                    &req.reveals,
                )
                .await?;
                Ok(true)
            }
        }
    }
}

/// A participant's call, as the Worker hands it to the object.
#[derive(Debug, Clone)]
pub struct SecureCall {
    pub user_id: String,
    pub round: u32,
    pub op: SecureOp,
}

#[derive(Debug, Clone)]
pub enum SecureOp {
    View,
    Keys(SignedKeys),
    Shares(SharesRequest),
    Input(Vec<u8>),
    Reveal(RevealRequest),
}
