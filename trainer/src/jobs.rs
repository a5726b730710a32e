//! What the worker does with each request: load the data, train, segment. One job at a time;
//! a cancel stops training after the current step.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use meshfed_meshnet::{context_of, validate_async, Participant};
use meshfed_meshnet::{finish, predict_async, LocalData, MeshNetConfig, SegmentOptions};
use meshfed_meshnet::{TrainConfig, Trainer};
use meshfed_shared::meshnet::file;
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::plan::HeldOut;
use meshfed_shared::privacy::noise::{clip, privatize, repair_variances};
use meshfed_shared::privacy::DifferentialPrivacy;
use meshfed_shared::training::{smooth, Progress, RoundRequest, TrainRequest, WorkerReply};
use meshfed_shared::volume::mean_dice;
use meshfed_shared::volume::{Labels, Volume};

use crate::device::Chosen;

/// What a wasm32 tab can address (4 GiB), less room for the page's data and the model.
const WASM_MEMORY_BYTES: u64 = 3 << 30;

/// Reads the two NIfTI files and prepares them.
pub fn load(volume: &[u8], labels: &[u8]) -> Result<(LocalData, WorkerReply), String> {
    let data = LocalData::from_nifti(volume, labels)?;
    let reply = WorkerReply::Loaded {
        dims: data.full_labels.dims,
        cropped: data.volume.dims,
        classes: data.classes,
    };
    Ok((data, reply))
}

fn read_model(bytes: &[u8], data: &LocalData) -> Result<(ModelConfig, Vec<f32>), String> {
    let (config, values) =
        file::from_safetensors(bytes, None).map_err(|e| format!("The model: {e}"))?;
    if data.classes > config.classes {
        return Err(format!(
            "The label map has {} classes; this model has {}",
            data.classes, config.classes
        ));
    }
    Ok((config, values))
}

/// Trains the model in `model` on `data`; `progress` hears of every step. Returns the reply
/// and the trained model as safetensors.
pub async fn train(
    chosen: &Chosen,
    data: &LocalData,
    request: &TrainRequest,
    model: &[u8],
    cancel: Rc<Cell<bool>>,
    progress: impl Fn(&Progress),
) -> Result<(WorkerReply, Vec<u8>), String> {
    let (config, values) = read_model(model, data)?;
    let ad = chosen.device.clone().autodiff();
    let net = MeshNetConfig::from(config.clone())
        .load(&values, &ad)
        .map_err(|e| e.to_string())?;
    let train = TrainConfig {
        patch: request.patch,
        learning_rate: request.learning_rate,
        seed: request.seed,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(net, config.classes, train, &ad);
    let data_pair = (&data.volume, &data.labels);
    let s = steps(
        chosen,
        &mut trainer,
        data_pair,
        request.steps,
        cancel,
        progress,
    )
    .await?;
    let reply = WorkerReply::Trained {
        steps: s.done,
        cancelled: s.done < request.steps,
        loss: s.loss,
        dice: s.dice,
        num_examples: data.examples,
        ms_per_step: s.ms_per_step,
    };
    Ok((reply, s.model(&config, &values, None).await?))
}

/// What a run of local steps ends with.
struct Stepped {
    done: usize,
    loss: f32,
    dice: f64,
    ms_per_step: f64,
    model: meshfed_meshnet::MeshNet,
}

impl Stepped {
    /// The trained model as safetensors; under a DP plan, the global model plus the clipped,
    /// noised update (nothing else leaves the tab), or in a secure round (`(dp, true)`) the
    /// clipped update alone: its noise is added when it is masked.
    async fn model(
        &self,
        config: &ModelConfig,
        global: &[f32],
        dp: Option<(&DifferentialPrivacy, bool)>,
    ) -> Result<Vec<u8>, String> {
        let mut values = self.model.values_async().await.map_err(|e| e.to_string())?;
        if let Some((dp, true)) = dp {
            clip(&mut values, global, dp.clip_norm);
        } else if let Some((dp, false)) = dp {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed)
                .map_err(|e| format!("No random numbers for the privacy noise: {e}"))?;
            privatize(&mut values, global, dp, seed);
            // Post-processing (free of privacy cost): no BatchNorm variance at or below zero.
            repair_variances(config, &mut values);
        }
        let meta = BTreeMap::from([("meshfed.local_steps".to_string(), self.done.to_string())]);
        Ok(file::to_safetensors(config, &values, meta))
    }
}

/// Up to `total` steps on `(volume, labels)` (fewer when cancelled), then the trained model's
/// Dice on them.
async fn steps(
    chosen: &Chosen,
    trainer: &mut Trainer,
    (volume, labels): (&Volume, &Labels),
    total: usize,
    cancel: Rc<Cell<bool>>,
    progress: impl Fn(&Progress),
) -> Result<Stepped, String> {
    let start = js_sys::Date::now();
    let (mut done, mut smoothed) = (0, None);
    while done < total && !cancel.get() {
        let loss = trainer
            .step_async(volume, labels)
            .await
            .map_err(|e| format!("Step {}: {e}", done + 1))?;
        done += 1;
        smoothed = Some(smooth(smoothed, loss));
        progress(&Progress {
            step: done,
            steps: total,
            loss,
            elapsed_ms: js_sys::Date::now() - start,
        });
        crate::next_task().await;
    }
    let elapsed = js_sys::Date::now() - start;
    let model = trainer.inference_model();
    let predicted = predict_async(&model, volume, &chosen.device)
        .await
        .map_err(|e| e.to_string())?;
    let classes = trainer.classes();
    Ok(Stepped {
        done,
        loss: smoothed.unwrap_or(f32::NAN),
        dice: mean_dice(&predicted.data, &labels.data, classes),
        ms_per_step: if done == 0 {
            0.0
        } else {
            elapsed / done as f64
        },
        model,
    })
}

/// One round of a run as its plan says: the global model `model` scored on the held-out part,
/// then trained on the rest by `participant` (which keeps its optimizer between rounds).
pub async fn follow_round(
    chosen: &Chosen,
    data: &LocalData,
    participant: &mut Participant,
    request: &RoundRequest,
    model: &[u8],
    cancel: Rc<Cell<bool>>,
    progress: impl Fn(&Progress),
) -> Result<(WorkerReply, Vec<u8>), String> {
    let (config, global) = read_model(model, data)?;
    let plan = &request.plan;
    plan.takes_weights()?;
    if chosen.backend == meshfed_shared::training::Backend::Cpu {
        plan.fits_in(
            &config,
            WASM_MEMORY_BYTES,
            "a browser tab training on its CPU",
        )?;
    }
    if let Some(max_buffer) = chosen.max_buffer {
        let gpu = format!("this GPU ({})", chosen.adapter);
        plan.fits_gpu_buffers(&config, max_buffer, &gpu)?;
    }
    let HeldOut {
        train_volume,
        train_labels,
        validation,
    } = plan
        .holdout
        .split(&data.volume, &data.labels, context_of(&config));
    let validation = match &validation {
        Some(v) => {
            let net = MeshNetConfig::from(config.clone())
                .load(&global, &chosen.device)
                .map_err(|e| e.to_string())?;
            let score = validate_async(&net, v, &chosen.device).await;
            Some(score.map_err(|e| format!("Validation: {e}"))?)
        }
        None => None,
    };
    let ad = chosen.device.clone().autodiff();
    let trainer = participant
        .start_round(plan, request.round, &config, &global, request.seed, &ad)
        .map_err(|e| e.to_string())?;
    let total = plan.local_steps as usize;
    let data_pair = (&train_volume, &train_labels);
    let s = steps(chosen, trainer, data_pair, total, cancel, progress).await?;
    let reply = WorkerReply::RoundTrained {
        steps: s.done,
        cancelled: s.done < total,
        loss: s.loss,
        dice: s.dice,
        num_examples: train_labels.data.iter().filter(|&&l| l != 0).count().max(1) as u64,
        ms_per_step: s.ms_per_step,
        validation,
    };
    let dp = plan.dp.as_ref().map(|dp| (dp, request.secure));
    Ok((reply, s.model(&config, &global, dp).await?))
}

/// Segments the loaded volume with `model`: the labels on the volume's full grid.
pub async fn segment(
    chosen: &Chosen,
    data: &LocalData,
    model: &[u8],
) -> Result<(WorkerReply, Vec<u8>), String> {
    let (config, values) = read_model(model, data)?;
    let start = js_sys::Date::now();
    let net = MeshNetConfig::from(config.clone())
        .load(&values, &chosen.device)
        .map_err(|e| e.to_string())?;
    let inside = predict_async(&net, &data.volume, &chosen.device)
        .await
        .map_err(|e| e.to_string())?;
    let dims = data.full_labels.dims;
    let labels = finish(&inside, data.crop, dims, &SegmentOptions::default());
    let dice = mean_dice(&labels.data, &data.full_labels.data, config.classes);
    let reply = WorkerReply::Segmented {
        dice,
        ms: js_sys::Date::now() - start,
    };
    Ok((reply, labels.data))
}
