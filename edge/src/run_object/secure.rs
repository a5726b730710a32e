//! A secure round in the run's object: the phases of [`meshfed_shared::secagg`] (keys,
//! shares, masked inputs, reveals), each with a deadline, and the close that unmasks the sum.
//! D1 and R2 hold everything (the object keeps nothing of it in memory), so a restart in any
//! phase loses nothing. What each participant's call may do is in [`super::secure_calls`].

use meshfed_shared::aggregate::metrics::{validation_dice, RoundMetrics};
use meshfed_shared::api::runs::{SecurePhase, UploadKind};
use meshfed_shared::secagg::{server, vector, Peer, RoundContext};

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

/// A member's index (members without one joined too late for this round's keys).
pub(super) fn index(m: &MemberRow) -> Option<u8> {
    m.x.and_then(|x| u8::try_from(x).ok())
}

pub(super) fn peers(
    members: &[MemberRow],
    filter: impl Fn(&MemberRow) -> bool,
) -> EdgeResult<Vec<Peer>> {
    members
        .iter()
        .filter(|m| filter(m))
        .filter_map(|m| index(m).map(|x| (x, m)))
        .map(|(x, m)| Ok(Peer { x, keys: m.keys()? }))
        .collect()
}

/// A test on a member: whether it is to act in a phase, or has.
type Rule = fn(&MemberRow) -> bool;

pub(super) fn is_sender(m: &MemberRow) -> bool {
    index(m).is_some() && m.shared != 0
}

pub(super) fn is_survivor(m: &MemberRow) -> bool {
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
        if live.secure_checked != Some(round) {
            store::secure::start(&db, run_id, round, live.deadline_ms).await?;
        }
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
                live.secure_checked = Some(round);
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
                for key in members.iter().filter_map(|m| m.input_key.as_deref()) {
                    blobs::delete(&self.env, key).await?;
                }
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
        let len = vector::len(live.model.parameter_count(), live.model.classes);
        let mut sum = vec![0u32; len];
        let survivors: Vec<&MemberRow> = members.iter().filter(|m| is_survivor(m)).collect();
        for m in &survivors {
            let key = m.input_key.as_deref().unwrap_or_default();
            server::add(&mut sum, &words(&blobs::get(&self.env, key).await?, len)?);
        }
        let senders = peers(members, is_sender)?;
        let survivor_x: Vec<u8> = survivors.iter().filter_map(|m| index(m)).collect();
        let reveals = store::secure_shares::reveals(&db, run_id, round).await?;
        let ctx = RoundContext { run: run_id, round };
        server::unmask(&mut sum, &senders, &survivor_x, &reveals, threshold, &ctx)
            .map_err(|e| EdgeError::Internal(format!("unmasking round {round}: {e}")))?;
        let global = blobs::get_values(&self.env, &live.model_key, &live.model).await?;
        let decoded = vector::decode(&sum, &global, live.model.classes)
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
        let (val_dice, val_dice_per_class) = validation_dice(decoded.val_dice_per_class);
        let metrics = RoundMetrics {
            uploads: survivors.len() as u64,
            num_examples: examples.round() as u64,
            loss: Some(decoded.loss),
            dice: Some(decoded.dice),
            val_loss: decoded.val_loss,
            val_dice,
            val_dice_per_class,
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
