//! A secure round in the run's object: the phases of [`meshfed_shared::secagg`] (keys,
//! shares, masked inputs, reveals), each with a deadline, and the close that unmasks the sum.
//! D1 and R2 hold everything (the object keeps nothing of it in memory), so a restart in any
//! phase loses nothing, and each member's keys, shares, input and reveals are written once.

use meshfed_shared::aggregate::metrics::RoundMetrics;
use meshfed_shared::api::runs::{
    round_conflict, RevealRequest, SecurePhase, SecureRound, SecureSent, SharesRequest, UploadKind,
};
use meshfed_shared::secagg::{server, vector, KeyAdvert, Peer, RoundContext, Secret};
use meshfed_shared::time::rfc3339_from_unix_ms;
use meshfed_shared::{ApiError, ErrorCode};

use super::close::Outcome;
use super::live::Live;
use super::RunCoordinator;
use crate::blobs;
use crate::error::{EdgeError, EdgeResult};
use crate::http::now_ms;
use crate::store::{self, secure::MemberRow};

/// How long the phases after the keys wait for the slow: a quarter of the round's timeout,
/// from 5 seconds to 5 minutes.
fn phase_ms(live: &Live) -> i64 {
    (live.run.round_timeout_secs * 1000 / 4).clamp(5_000, 300_000)
}

fn conflict(message: String) -> EdgeError {
    ApiError::new(ErrorCode::Conflict, message).into()
}

fn invalid(message: &str) -> EdgeError {
    ApiError::new(ErrorCode::UnprocessableEntity, message).into()
}

/// A member's index (members without one joined too late for this round's keys).
fn index(m: &MemberRow) -> Option<u8> {
    m.x.and_then(|x| u8::try_from(x).ok())
}

fn peers(members: &[MemberRow], filter: impl Fn(&MemberRow) -> bool) -> EdgeResult<Vec<Peer>> {
    members
        .iter()
        .filter(|m| filter(m))
        .filter_map(|m| index(m).map(|x| (x, m)))
        .map(|(x, m)| Ok(Peer { x, keys: m.keys()? }))
        .collect()
}

/// A test on a member: whether it is to act in a phase, or has.
type Rule = fn(&MemberRow) -> bool;

fn is_sender(m: &MemberRow) -> bool {
    index(m).is_some() && m.shared != 0
}

fn is_survivor(m: &MemberRow) -> bool {
    is_sender(m) && m.input_key.is_some()
}

impl RunCoordinator {
    /// Moves the secure round on as far as it may go now; true if the round closed.
    pub(super) async fn advance_secure(
        &self,
        guard: &mut Option<Live>,
        run_id: i64,
    ) -> EdgeResult<bool> {
        let live = self.ensure(guard, run_id).await?;
        let db = store::db(&self.env)?;
        let round = live.round;
        store::secure::start(&db, run_id, round, live.deadline_ms).await?;
        loop {
            let row = store::secure::round(&db, run_id, round)
                .await?
                .ok_or_else(|| EdgeError::Internal("secure round vanished".into()))?;
            let members = store::secure::members(&db, run_id, round).await?;
            let now = now_ms();
            let late = now >= row.phase_deadline_at;
            let threshold = row.threshold.unwrap_or(2).max(2) as usize;
            let next = now + phase_ms(live);
            let phase = row.phase()?;
            let everyone = store::runs::participants(&db, run_id).await?;
            if phase == SecurePhase::Keys {
                let needed = live.run.contributors_needed(everyone.len()).max(2);
                let all = everyone
                    .iter()
                    .filter(|p| p.active != 0)
                    .all(|p| members.iter().any(|m| m.user_id == p.user_id));
                if members.len() >= needed && members.len() <= 255 && (all || late) {
                    let indices: Vec<(String, u8)> = members
                        .iter()
                        .enumerate()
                        .map(|(i, m)| (m.user_id.clone(), i as u8 + 1))
                        .collect();
                    let t = vector::threshold(members.len(), needed);
                    store::secure::fix_keys(&db, run_id, round, &indices, t, next).await?;
                    continue;
                }
            }
            // Who is to act in this phase, and who has; an inactive member is not waited for.
            let (expected, acted): (Rule, Rule) = match phase {
                SecurePhase::Keys => (|_| false, |_| false),
                SecurePhase::Shares => (|m| index(m).is_some(), is_sender),
                SecurePhase::Input => (is_sender, is_survivor),
                SecurePhase::Reveal => (is_survivor, |m| is_survivor(m) && m.revealed != 0),
            };
            let active = |m: &MemberRow| {
                everyone
                    .iter()
                    .any(|p| p.user_id == m.user_id && p.active != 0)
            };
            let done = members.iter().filter(|m| acted(m)).count();
            let everyone_acted = !members
                .iter()
                .any(|m| expected(m) && !acted(m) && active(m));
            if phase == SecurePhase::Keys || !(everyone_acted || late) {
                live.deadline_ms = row.phase_deadline_at;
                self.arm(row.phase_deadline_at).await?;
                return Ok(false);
            }
            if done < threshold {
                worker::console_log!(
                    "run {run_id} round {round}: {done} of {threshold} in the {} phase; \
                     starting the round's keys again",
                    phase.as_str()
                );
                let deadline = now + live.run.round_timeout_secs * 1000;
                store::secure::restart(&db, run_id, round, deadline).await?;
                continue;
            }
            match phase {
                SecurePhase::Shares => {
                    store::secure::set_phase(&db, run_id, round, SecurePhase::Input, next).await?
                }
                SecurePhase::Input => {
                    store::secure::set_phase(&db, run_id, round, SecurePhase::Reveal, next).await?
                }
                _ => {
                    let reason = if late { "deadline" } else { "all_uploaded" };
                    self.close_secure(live, run_id, &members, threshold, reason)
                        .await?;
                    return Ok(true);
                }
            }
        }
    }

    async fn arm(&self, deadline: i64) -> EdgeResult<()> {
        let at = deadline.max(now_ms() + 100);
        self.state.storage().set_alarm(super::at(at)).await?;
        Ok(())
    }

    /// Sums the survivors' masked inputs, strips the masks with the revealed shares and
    /// closes the round with the average they stand for.
    async fn close_secure(
        &self,
        live: &mut Live,
        run_id: i64,
        members: &[MemberRow],
        threshold: usize,
        reason: &'static str,
    ) -> EdgeResult<()> {
        let db = store::db(&self.env)?;
        let round = live.round;
        let len = vector::len(live.model.parameter_count());
        let mut sum = vec![0u32; len];
        let survivors: Vec<&MemberRow> = members.iter().filter(|m| is_survivor(m)).collect();
        for m in &survivors {
            let key = m.input_key.as_deref().unwrap_or_default();
            server::add(&mut sum, &words(&blobs::get(&self.env, key).await?, len)?);
        }
        let senders = peers(members, is_sender)?;
        let survivor_x: Vec<u8> = survivors.iter().filter_map(|m| index(m)).collect();
        let reveals = store::secure::reveals(&db, run_id, round).await?;
        let ctx = RoundContext { run: run_id, round };
        server::unmask(&mut sum, &senders, &survivor_x, &reveals, threshold, &ctx)
            .map_err(|e| EdgeError::Internal(format!("unmasking round {round}: {e}")))?;
        let global = blobs::get_values(&self.env, &live.model_key, &live.model).await?;
        let decoded = vector::decode(&sum, &global)
            .ok_or_else(|| EdgeError::Internal(format!("round {round}: the sum weighs nothing")))?;
        let plan = store::plans::of_round(&db, run_id, round).await?;
        let examples = match live.method == meshfed_shared::aggregate::Method::Fedavg {
            true => {
                decoded.weight
                    * plan
                        .plan
                        .max_num_examples
                        .unwrap_or(vector::DEFAULT_EXAMPLES_CAP) as f64
            }
            false => survivors.len() as f64,
        };
        let metrics = RoundMetrics {
            uploads: survivors.len() as u64,
            num_examples: examples.round() as u64,
            loss: Some(decoded.loss),
            dice: Some(decoded.dice),
            ..RoundMetrics::default()
        };
        let outcome = Outcome {
            aggregate: decoded.model,
            metrics,
            reason,
            kind: UploadKind::Weights,
        };
        self.finish(live, run_id, &plan, outcome).await?;
        for m in survivors {
            if let Err(e) =
                blobs::delete(&self.env, m.input_key.as_deref().unwrap_or_default()).await
            {
                worker::console_log!("masked input stays in R2: {e}");
            }
        }
        Ok(())
    }

    /// One participant's call in a secure round: `view`, `keys`, `shares`, `input` or
    /// `reveal`; answers what the round looks like to it afterwards.
    pub(super) async fn secure_call(
        &self,
        guard: &mut Option<Live>,
        run_id: i64,
        call: &SecureCall,
    ) -> EdgeResult<SecureRound> {
        self.check(guard, run_id).await?;
        let live = self.ensure(guard, run_id).await?;
        if call.round != live.round {
            return Err(round_conflict(call.round, live.round).into());
        }
        let len = vector::len(live.model.parameter_count());
        let acted = self.act(live, run_id, call, len).await?;
        if acted {
            self.check(guard, run_id).await?;
        }
        let live = self.ensure(guard, run_id).await?;
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
        let row = store::secure::round(&db, run_id, round)
            .await?
            .ok_or_else(|| EdgeError::Internal("secure round missing".into()))?;
        let phase = row.phase()?;
        let members = store::secure::members(&db, run_id, round).await?;
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
            SecureOp::Keys(keys) => {
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
                store::secure::advertise(&db, run_id, round, &call.user_id, keys).await?;
                Ok(true)
            }
            SecureOp::Shares(req) => {
                if phase != SecurePhase::Shares {
                    return Err(wrong_phase(SecurePhase::Shares));
                }
                let m = me.filter(|m| index(m).is_some()).ok_or_else(|| {
                    conflict(format!("You are not among round {round}'s members"))
                })?;
                if m.shared != 0 {
                    return Err(conflict(format!(
                        "You already sent your shares for round {round}"
                    )));
                }
                let x = index(m).unwrap_or_default();
                let mut to: Vec<u8> = req.shares.iter().map(|s| s.to).collect();
                to.sort_unstable();
                let mut expected: Vec<u8> = members.iter().filter_map(index).collect();
                expected.sort_unstable();
                if to != expected
                    || req
                        .shares
                        .iter()
                        .any(|s| s.from != x || s.ciphertext.len() != 80)
                {
                    return Err(invalid(
                        "Send one sealed share (80 bytes) from your index to each member, yourself included",
                    ));
                }
                store::secure::insert_shares(&db, run_id, round, &call.user_id, &req.shares)
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
                if m.input_key.is_some() {
                    return Err(conflict(format!(
                        "You already uploaded your input for round {round}"
                    )));
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
                    return Err(conflict(format!(
                        "You already revealed your shares for round {round}"
                    )));
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
                store::secure::insert_reveals(&db, run_id, round, &call.user_id, x, &req.reveals)
                    .await?;
                Ok(true)
            }
        }
    }

    async fn view(
        &self,
        live: &Live,
        run_id: i64,
        user_id: &str,
        len: usize,
    ) -> EdgeResult<SecureRound> {
        let db = store::db(&self.env)?;
        // The round may have closed: the caller then sees the next one's key phase.
        let round = live.round;
        store::secure::start(&db, run_id, round, live.deadline_ms).await?;
        let row = store::secure::round(&db, run_id, round)
            .await?
            .ok_or_else(|| EdgeError::Internal("secure round missing".into()))?;
        let phase = row.phase()?;
        let members = store::secure::members(&db, run_id, round).await?;
        let mine = members.iter().find(|m| m.user_id == user_id);
        let me = mine.and_then(index);
        let shares_for_me = match (me, phase) {
            (Some(x), SecurePhase::Input | SecurePhase::Reveal) => {
                let senders: Vec<u8> = members
                    .iter()
                    .filter(|m| is_sender(m))
                    .filter_map(index)
                    .collect();
                store::secure::shares_to(&db, run_id, round, x)
                    .await?
                    .into_iter()
                    .filter(|s| senders.contains(&s.from))
                    .collect()
            }
            _ => vec![],
        };
        let later = |p: SecurePhase| phase as u8 >= p as u8;
        Ok(SecureRound {
            round,
            phase,
            phase_deadline_at: rfc3339_from_unix_ms(row.phase_deadline_at),
            advertised: members.len() as u32,
            threshold: row.threshold.map(|t| t as u32),
            me,
            members: peers(&members, |_| true)?,
            senders: if later(SecurePhase::Input) {
                members
                    .iter()
                    .filter(|m| is_sender(m))
                    .filter_map(index)
                    .collect()
            } else {
                vec![]
            },
            survivors: if later(SecurePhase::Reveal) {
                members
                    .iter()
                    .filter(|m| is_survivor(m))
                    .filter_map(index)
                    .collect()
            } else {
                vec![]
            },
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

/// Little-endian u32 words of a stored masked input.
fn words(bytes: &[u8], len: usize) -> EdgeResult<Vec<u32>> {
    if bytes.len() != len * 4 {
        return Err(EdgeError::Internal(
            "a stored masked input has the wrong size".into(),
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect())
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
    Keys(KeyAdvert),
    Shares(SharesRequest),
    Input(Vec<u8>),
    Reveal(RevealRequest),
}
