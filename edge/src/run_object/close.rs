//! Closing a round: when every active participant has uploaded, or the deadline has passed
//! with at least `min_participants` uploads; never with fewer than `min_contributors`. The
//! aggregate goes to R2 first, then one D1 transaction closes the round and opens the next;
//! a crash between the two leaves the round open, and closing it again writes the same
//! aggregate to the same key.

use std::collections::BTreeMap;

use meshfed_shared::aggregate::adaptive::{server_step, ServerState};
use meshfed_shared::aggregate::metrics::{MetricSums, RoundMetrics};
use meshfed_shared::aggregate::RunningSum;
use meshfed_shared::api::runs::PlanVersion;
use meshfed_shared::api::runs::UploadKind;
use meshfed_shared::plan::ServerStep;

use super::live::Live;
use super::RunCoordinator;
use crate::blobs;
use crate::error::{EdgeError, EdgeResult};
use crate::http::now_ms;
use crate::store::{self, rounds::Closing};

/// What a closing round produced.
pub(super) struct Outcome {
    pub aggregate: Vec<f32>,
    pub metrics: RoundMetrics,
    pub reason: &'static str,
    pub kind: UploadKind,
}

/// Why a round may close now, if it may. Never below the run's `min_contributors`, even
/// when everyone still active has uploaded: no global model is one participant's weights.
fn close_reason(
    live: &Live,
    participants: usize,
    active: &[String],
    now: i64,
) -> Option<&'static str> {
    if live.uploads.len() < live.run.contributors_needed(participants) {
        return None;
    }
    if !active.is_empty() && active.iter().all(|id| live.uploads.contains_key(id)) {
        return Some("all_uploaded");
    }
    let needed = live
        .run
        .min_participants
        .map_or(active.len(), |k| k as usize)
        .max(1);
    (now >= live.deadline_ms && live.uploads.len() >= needed).then_some("deadline")
}

impl RunCoordinator {
    /// Closes the open round if it may close; true if it did.
    pub(super) async fn check(&self, guard: &mut Option<Live>, run_id: i64) -> EdgeResult<bool> {
        if self.ensure(guard, run_id).await?.run.is_secure() {
            return self.advance_secure(guard, run_id).await;
        }
        let live = self.ensure(guard, run_id).await?;
        let db = store::db(&self.env)?;
        let everyone = store::runs::participants(&db, run_id).await?;
        let participants = everyone.len();
        let active: Vec<String> = everyone
            .into_iter()
            .filter(|p| p.active != 0)
            .map(|p| p.user_id)
            .collect();
        let now = now_ms();
        let Some(reason) = close_reason(live, participants, &active, now) else {
            return Ok(false);
        };
        let kind = live.kind.unwrap_or(UploadKind::Weights);
        let plan = store::plans::of_round(&db, run_id, live.round).await?;
        let counting = self.counting(live, &plan.plan).await?;
        self.recount(live, &plan.plan, &counting).await?;
        let aggregate = match &live.sums {
            Some(sums) => sums.mean(),
            None => self.chunked_aggregate(live, &counting).await?,
        }
        .ok_or_else(|| EdgeError::Internal("a round with uploads has no aggregate".into()))?;
        let metrics = live.metrics.summary();
        let closing = Outcome {
            aggregate,
            metrics,
            reason,
            kind,
        };
        self.finish(live, run_id, &plan, closing).await?;
        Ok(true)
    }

    /// Writes the round's aggregate (after the plan's server step) to R2, closes the round
    /// and opens the next in D1, and moves the object's state on.
    pub(super) async fn finish(
        &self,
        live: &mut Live,
        run_id: i64,
        plan: &PlanVersion,
        outcome: Outcome,
    ) -> EdgeResult<()> {
        let Outcome {
            mut aggregate,
            metrics,
            reason,
            kind,
        } = outcome;
        if plan.plan.dp.is_some() {
            meshfed_shared::privacy::noise::repair_variances(&live.model, &mut aggregate);
        }
        let db = store::db(&self.env)?;
        let now = now_ms();
        let stepped = match kind {
            UploadKind::Weights if plan.plan.server.is_stateful() => Some(
                self.step_server(live, run_id, &plan.plan.server, &aggregate)
                    .await?,
            ),
            _ => None,
        };
        let (aggregate, state_key) = match stepped {
            Some((next, key)) => (next, Some(key)),
            None => (aggregate, None),
        };
        let metadata = BTreeMap::from([
            ("run_id".to_string(), run_id.to_string()),
            ("round".to_string(), live.round.to_string()),
            ("kind".to_string(), kind.as_str().to_string()),
            ("aggregation".to_string(), live.method.as_str().to_string()),
            (
                "server_step".to_string(),
                plan.plan.server.name().to_string(),
            ),
            ("plan_version".to_string(), plan.version.to_string()),
            ("uploads".to_string(), metrics.uploads.to_string()),
            ("num_examples".to_string(), metrics.num_examples.to_string()),
        ]);
        let encoded = blobs::encode(&live.model, &aggregate, metadata);
        let key = blobs::aggregate_key(run_id, live.round, kind);
        let size = encoded.bytes.len();
        blobs::put(&self.env, &key, encoded.bytes).await?;
        let next_model_key = match kind {
            UploadKind::Weights => key.clone(),
            UploadKind::Gradients => live.model_key.clone(),
        };
        let next_deadline = now + live.run.round_timeout_secs * 1000;
        store::rounds::close_round(
            &db,
            &Closing {
                run_id,
                round: live.round,
                reason,
                aggregate_key: &key,
                aggregate_bytes: size,
                aggregate_sha256: &encoded.sha256,
                metrics,
                server_state_key: state_key.as_deref(),
                next_model_key: &next_model_key,
                now,
                next_deadline,
            },
        )
        .await?;
        live.round += 1;
        live.kind = None;
        live.deadline_ms = next_deadline;
        live.model_key = next_model_key;
        live.uploads.clear();
        live.sums = live.sums.as_ref().map(|s| RunningSum::new(s.len()));
        live.metrics = MetricSums::default();
        self.state
            .storage()
            .set_alarm(super::at(next_deadline))
            .await?;
        Ok(())
    }

    /// The plan's server step from the round's global model and `mean`: the next global
    /// model, and the R2 key of the state it leaves (written here, before D1 records the
    /// close; a repeated close recomputes the same state from the previous round's).
    async fn step_server(
        &self,
        live: &Live,
        run_id: i64,
        step: &ServerStep,
        mean: &[f32],
    ) -> EdgeResult<(Vec<f32>, String)> {
        let global = blobs::get_values(&self.env, &live.model_key, &live.model).await?;
        let db = store::db(&self.env)?;
        let previous = match live.round {
            1 => None,
            r => store::rounds::round(&db, run_id, r - 1)
                .await?
                .and_then(|row| row.server_state_key),
        };
        let mut state = match previous {
            Some(key) => ServerState::from_safetensors(&blobs::get(&self.env, &key).await?, step),
            None => None,
        }
        .filter(|s| s.fits(step, global.len()))
        .unwrap_or_else(|| ServerState::fresh(step, global.len()));
        let next = server_step(
            step,
            &mut state,
            &global,
            mean,
            &live.model.trainable_mask(),
        );
        let key = blobs::server_state_key(run_id, live.round);
        blobs::put(&self.env, &key, state.to_safetensors(step)).await?;
        Ok((next, key))
    }
}
