//! The open round as the run's object holds it: which uploads count, their running sums and
//! metrics. Rebuilt from D1 and R2 whenever the object starts.

use std::collections::BTreeMap;

use meshfed_shared::aggregate::metrics::MetricSums;
use meshfed_shared::aggregate::{Method, RunningSum};
use meshfed_shared::api::runs::{round_conflict, UploadKind, UploadReceipt};
use meshfed_shared::api::upload::TensorForm;
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::tensor::safetensors;
use meshfed_shared::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};

use super::RunCoordinator;
use crate::blobs;
use crate::error::{EdgeError, EdgeResult};
use crate::http::now_ms;
use crate::store::{self, rounds::UploadRow, runs::RunRow};

/// What the Worker tells the object about an upload it has decoded and stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitMeta {
    pub user_id: String,
    pub round: u32,
    pub kind: UploadKind,
    pub r2_key: String,
    pub bytes: u64,
    pub sha256: String,
    pub num_examples: u64,
    pub loss: Option<f64>,
    pub dice: Option<f64>,
    pub val_loss: Option<f64>,
    pub val_dice: Option<Vec<Option<f64>>>,
    pub form: TensorForm,
}

pub struct Live {
    pub run: RunRow,
    pub model: ModelConfig,
    pub method: Method,
    pub round: u32,
    pub kind: Option<UploadKind>,
    pub deadline_ms: i64,
    pub model_key: String,
    pub uploads: BTreeMap<String, UploadRow>,
    /// Σ wᵢ·xᵢ for the streaming methods; `None` for median and trimmed mean.
    pub sums: Option<RunningSum>,
    pub metrics: MetricSums,
    /// The secure round whose phases this object has checked (its row exists, and
    /// `deadline_ms` is its phase's deadline until the round moves on).
    pub secure_checked: Option<u32>,
}

impl Live {
    /// Rebuilds the open round of `run_id` from D1 rows and R2 blobs.
    pub async fn load(env: &worker::Env, run_id: i64) -> EdgeResult<Live> {
        let db = store::db(env)?;
        let run = store::runs::find(&db, run_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Run {run_id}")))?;
        let round = store::rounds::open_round(&db, run_id)
            .await?
            .ok_or_else(|| EdgeError::Internal(format!("run {run_id} has no open round")))?;
        let model = run.model()?;
        let method = run.method();
        let mut live = Live {
            model: model.clone(),
            method,
            round: round.round as u32,
            kind: round.kind(),
            deadline_ms: round.deadline_at,
            model_key: round.model_key.clone(),
            uploads: BTreeMap::new(),
            sums: method
                .is_streaming()
                .then(|| RunningSum::new(model.parameter_count())),
            metrics: MetricSums::default(),
            secure_checked: None,
            run,
        };
        for upload in store::rounds::uploads(&db, run_id, live.round).await? {
            if let Some(sums) = live.sums.as_mut() {
                let values = blobs::get_values(env, &upload.r2_key, &model).await?;
                sums.add(&values, method.weight(upload.num_examples as u64));
            }
            live.metrics.add(&upload.metrics());
            live.uploads.insert(upload.user_id.clone(), upload);
        }
        Ok(live)
    }
}

impl RunCoordinator {
    pub(super) async fn ensure<'a>(
        &self,
        guard: &'a mut Option<Live>,
        run_id: i64,
    ) -> EdgeResult<&'a mut Live> {
        if guard.is_none() {
            let live = Live::load(&self.env, run_id).await?;
            self.state
                .storage()
                .set_alarm(super::at(live.deadline_ms.max(now_ms() + 100)))
                .await?;
            *guard = Some(live);
        }
        guard
            .as_mut()
            .ok_or_else(|| EdgeError::Internal("run state vanished".into()))
    }

    pub(super) async fn commit_locked(
        &self,
        guard: &mut Option<Live>,
        run_id: i64,
        meta: &CommitMeta,
        body: &[u8],
    ) -> EdgeResult<UploadReceipt> {
        let live = self.ensure(guard, run_id).await?;
        if meta.round != live.round {
            return Err(round_conflict(meta.round, live.round).into());
        }
        if let Some(kind) = live.kind.filter(|&k| k != meta.kind) {
            let message = format!(
                "Round {} collects {}, not {}",
                live.round,
                kind.as_str(),
                meta.kind.as_str()
            );
            return Err(ApiError::new(ErrorCode::Conflict, message)
                .with_details(serde_json::json!({"current_round": live.round, "kind": kind}))
                .into());
        }
        let file = safetensors::read(body).map_err(|e| EdgeError::Internal(e.to_string()))?;
        let values = live
            .model
            .flatten_named(&file.tensors)
            .map_err(|e| EdgeError::Internal(e.to_string()))?;
        drop(file);
        let row = UploadRow {
            user_id: meta.user_id.clone(),
            kind: meta.kind.as_str().to_string(),
            r2_key: meta.r2_key.clone(),
            bytes: meta.bytes as i64,
            sha256: meta.sha256.clone(),
            num_examples: meta.num_examples as i64,
            loss: meta.loss,
            dice: meta.dice,
            val_loss: meta.val_loss,
            val_dice: meta
                .val_dice
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        };
        let db = store::db(&self.env)?;
        let now = now_ms();
        db.batch(store::rounds::upsert_upload(
            &db, run_id, live.round, &row, meta.form, now,
        )?)
        .await?;
        let previous = live.uploads.insert(meta.user_id.clone(), row.clone());
        // The replaced upload's blob no longer counts anywhere: D1 names the new one.
        if let Some(old) = previous.as_ref().filter(|p| p.r2_key != row.r2_key) {
            if let Err(e) = blobs::delete(&self.env, &old.r2_key).await {
                worker::console_log!("replaced upload {} stays in R2: {e}", old.r2_key);
            }
        }
        if let Some(sums) = live.sums.as_mut() {
            if previous.is_some() {
                // Rebuilt from the stored uploads, never subtracted: in floating point,
                // adding and then removing a huge upload (3e38) would erase everyone else's.
                *sums = RunningSum::new(live.model.parameter_count());
                for (user, upload) in live.uploads.iter().filter(|(u, _)| **u != meta.user_id) {
                    let kept = blobs::get_values(&self.env, &upload.r2_key, &live.model)
                        .await
                        .map_err(|e| EdgeError::Internal(format!("upload of {user}: {e}")))?;
                    sums.add(&kept, live.method.weight(upload.num_examples as u64));
                }
            }
            sums.add(&values, live.method.weight(meta.num_examples));
        }
        if previous.is_some() {
            live.metrics = MetricSums::default();
            for upload in live.uploads.values() {
                live.metrics.add(&upload.metrics());
            }
        } else {
            live.metrics.add(&row.metrics());
        }
        live.kind = Some(meta.kind);
        let round = live.round;
        let uploads = live.uploads.len() as u32;
        let closed = self.check(guard, run_id).await?;
        let current_round = guard.as_ref().map_or(round, |l| l.round);
        Ok(UploadReceipt {
            run_id,
            round,
            kind: meta.kind,
            replaced: previous.is_some(),
            bytes: meta.bytes,
            sha256: meta.sha256.clone(),
            num_examples: meta.num_examples,
            uploads,
            closed,
            current_round,
        })
    }
}
