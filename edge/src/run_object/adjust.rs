//! What the round's plan does to the uploads before they count, at the close: FedAvg's
//! `num_examples` capped ([`examples_cap`]) and each update clipped to the plan's norm
//! ([`clip`]). The running sums are rebuilt from the stored uploads where either changes
//! anything; otherwise they stand as the uploads built them.

use meshfed_shared::aggregate::metrics::{MetricSums, UploadMetrics};
use meshfed_shared::aggregate::{clip, examples_cap, Method, RunningSum};
use meshfed_shared::api::runs::UploadKind;
use meshfed_shared::plan::TrainingPlan;

use super::live::Live;
use super::RunCoordinator;
use crate::blobs;
use crate::error::EdgeResult;
use crate::store::rounds::UploadRow;

/// How the round's uploads count.
pub(super) struct Counting {
    clip_norm: Option<f64>,
    /// The round's global model, which weights updates are clipped against.
    global: Option<Vec<f32>>,
}

impl Counting {
    pub(super) fn clip_norm(&self) -> Option<f64> {
        self.clip_norm
    }

    /// The global model updates are clipped against (none for gradients rounds).
    pub(super) fn global(&self) -> Option<&[f32]> {
        self.global.as_deref()
    }
}

impl RunCoordinator {
    pub(super) async fn counting(&self, live: &Live, plan: &TrainingPlan) -> EdgeResult<Counting> {
        let weights = live.kind.unwrap_or(UploadKind::Weights) == UploadKind::Weights;
        let global = match plan.clip_norm {
            Some(_) if weights => {
                Some(blobs::get_values(&self.env, &live.model_key, &live.model).await?)
            }
            _ => None,
        };
        Ok(Counting {
            clip_norm: plan.clip_norm,
            global,
        })
    }

    /// An upload's values as they count: read from R2, clipped where the plan says.
    pub(super) async fn counted(
        &self,
        live: &Live,
        counting: &Counting,
        upload: &UploadRow,
    ) -> EdgeResult<Vec<f32>> {
        let mut values = blobs::get_values(&self.env, &upload.r2_key, &live.model).await?;
        if let Some(max_norm) = counting.clip_norm {
            clip::clip(&mut values, counting.global.as_deref(), max_norm);
        }
        Ok(values)
    }

    /// Rebuilds the streaming sums and the metrics where capping or clipping changes them.
    pub(super) async fn recount(
        &self,
        live: &mut Live,
        plan: &TrainingPlan,
        counting: &Counting,
    ) -> EdgeResult<()> {
        if !live.method.is_streaming() {
            return Ok(());
        }
        let declared: Vec<u64> = live
            .uploads
            .values()
            .map(|u| u.num_examples.max(0) as u64)
            .collect();
        let weights = match live.method {
            Method::Fedavg => examples_cap::capped(&declared, plan.max_num_examples),
            _ => declared.clone(),
        };
        if weights == declared && counting.clip_norm.is_none() {
            return Ok(());
        }
        let mut sums = RunningSum::new(live.model.parameter_count());
        let mut metrics = MetricSums::default();
        for (upload, &n) in live.uploads.values().zip(&weights) {
            let values = self.counted(live, counting, upload).await?;
            sums.add(&values, live.method.weight(n));
            metrics.add(&UploadMetrics {
                num_examples: n,
                ..upload.metrics()
            });
        }
        live.sums = Some(sums);
        live.metrics = metrics;
        Ok(())
    }
}
