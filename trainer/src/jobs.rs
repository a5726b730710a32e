//! What the worker does with each request: load the data, train, segment. One job at a time;
//! a cancel stops training after the current step.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use meshfed_shared::meshnet::file;
use meshfed_shared::meshnet::net::{
    finish, predict_async, LocalData, MeshNetConfig, SegmentOptions,
};
use meshfed_shared::meshnet::net::{TrainConfig, Trainer};
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::training::{smooth, Progress, Reply, TrainRequest};
use meshfed_shared::volume::mean_dice;

use crate::device::Chosen;

/// Reads the two NIfTI files and prepares them.
pub fn load(volume: &[u8], labels: &[u8]) -> Result<(LocalData, Reply), String> {
    let data = LocalData::from_nifti(volume, labels)?;
    let reply = Reply::Loaded {
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
) -> Result<(Reply, Vec<u8>), String> {
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
    let start = js_sys::Date::now();
    let (mut done, mut smoothed) = (0, None);
    while done < request.steps && !cancel.get() {
        let loss = trainer
            .step_async(&data.volume, &data.labels)
            .await
            .map_err(|e| format!("Step {}: {e}", done + 1))?;
        done += 1;
        smoothed = Some(smooth(smoothed, loss));
        progress(&Progress {
            step: done,
            steps: request.steps,
            loss,
            elapsed_ms: js_sys::Date::now() - start,
        });
        crate::next_task().await;
    }
    let elapsed = js_sys::Date::now() - start;
    let model = trainer.inference_model();
    let predicted = predict_async(&model, &data.volume, &chosen.device)
        .await
        .map_err(|e| e.to_string())?;
    let dice = mean_dice(&predicted.data, &data.labels.data, config.classes);
    let values = model.values_async().await.map_err(|e| e.to_string())?;
    let loss = smoothed.unwrap_or(f32::NAN);
    let meta = BTreeMap::from([("meshfed.local_steps".to_string(), done.to_string())]);
    let reply = Reply::Trained {
        steps: done,
        cancelled: done < request.steps,
        loss,
        dice,
        num_examples: data.examples,
        ms_per_step: if done == 0 {
            0.0
        } else {
            elapsed / done as f64
        },
    };
    Ok((reply, file::to_safetensors(&config, &values, meta)))
}

/// Segments the loaded volume with `model`: the labels on the volume's full grid.
pub async fn segment(
    chosen: &Chosen,
    data: &LocalData,
    model: &[u8],
) -> Result<(Reply, Vec<u8>), String> {
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
    let reply = Reply::Segmented {
        dice,
        ms: js_sys::Date::now() - start,
    };
    Ok((reply, labels.data))
}
