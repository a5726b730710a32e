//! Training on this computer: pick a T1 volume and its label map (read here, never uploaded),
//! look at them, train MeshNet in the training worker (WebGPU when the browser offers it,
//! else CPU) or join a federated run, segment, and download the model.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use meshfed_shared::meshnet::{file, initial_weights, ModelConfig};
use meshfed_shared::training::{Backend, Progress, WorkerReply, WorkerRequest, LABELS, VOLUME};
use meshfed_shared::volume::{nifti, Labels, Volume};
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;

use super::join_panel::JoinPanel;
use super::train_panels::{DevicePanel, ModelPanel, ProgressView, TrainPanel};
use crate::components::slices::SliceViewer;
use crate::session::require_sign_in;
use crate::training::download::read_file;
use crate::training::worker::TrainingWorker;

/// The model the page holds: safetensors bytes and what they are.
#[derive(Clone)]
pub struct CurrentModel {
    pub bytes: Arc<Vec<u8>>,
    pub description: String,
}

/// The device the worker trains on: backend, adapter, why not WebGPU (when it is not).
pub type DeviceInfo = (Backend, String, Option<String>);

/// The training page's state, which its panels share (a context).
#[derive(Clone, Copy)]
pub struct TrainingPage {
    pub worker: StoredValue<Option<TrainingWorker>, LocalStorage>,
    /// The device once the worker is up (backend, adapter, why not WebGPU), or why not.
    pub device: RwSignal<Option<Result<DeviceInfo, String>>>,
    /// Loaded into the worker: the volume's grid and the classes in the label map.
    pub loaded: RwSignal<Option<([usize; 3], usize)>>,
    pub model: RwSignal<Option<CurrentModel>>,
    /// The job running now ("Training", "Joining run 3"), if any.
    pub busy: RwSignal<Option<String>>,
    pub segmentation: RwSignal<Option<Arc<Labels>>>,
    /// The running training's last step and its loss curve.
    pub progress: RwSignal<Option<Progress>>,
    pub losses: RwSignal<Vec<(f64, f64)>>,
    /// The person pressed Cancel during the running job.
    pub cancelled: RwSignal<bool>,
}

impl TrainingPage {
    pub fn ready(&self) -> bool {
        self.loaded.get().is_some()
            && matches!(self.device.get(), Some(Ok(_)))
            && self.busy.get().is_none()
    }

    /// The page's model, or a fresh one of `preset`.
    pub fn model_or_fresh(&self, preset: &str, seed: u64) -> Result<Vec<u8>, String> {
        if let Some(m) = self.model.get_untracked() {
            return Ok(m.bytes.to_vec());
        }
        let config = ModelConfig::preset(preset).ok_or("Pick a model")?;
        let values = initial_weights(&config, seed);
        Ok(file::to_safetensors(&config, &values, Default::default()))
    }

    /// Marks `job` as running, with a fresh progress view.
    pub fn start_job(&self, job: String) {
        self.progress.set(None);
        self.losses.set(vec![]);
        self.cancelled.set(false);
        self.busy.set(Some(job));
    }

    /// Stops training after its current step, and a join's waiting.
    pub fn cancel(&self) {
        self.cancelled.set(true);
        if let Some(w) = self.worker() {
            w.cancel();
        }
    }

    pub fn worker(&self) -> Option<TrainingWorker> {
        self.worker.get_value()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overlay {
    Labels,
    Segmentation,
    Nothing,
}

#[component]
pub fn TrainPage() -> impl IntoView {
    let session = require_sign_in();
    let trainer = TrainingPage {
        worker: StoredValue::new_local(None),
        device: RwSignal::new(None),
        loaded: RwSignal::new(None),
        model: RwSignal::new(None),
        busy: RwSignal::new(None),
        segmentation: RwSignal::new(None),
        progress: RwSignal::new(None),
        losses: RwSignal::new(vec![]),
        cancelled: RwSignal::new(false),
    };
    provide_context(trainer);
    start_worker(trainer);
    let volume = RwSignal::new(None::<Arc<Volume>>);
    let labels = RwSignal::new(None::<Arc<Labels>>);
    let files = StoredValue::new_local((None::<Vec<u8>>, None::<Vec<u8>>));
    let data_error = RwSignal::new(None::<String>);
    let overlay = RwSignal::new(Overlay::Labels);
    let shown = Signal::derive(move || match overlay.get() {
        Overlay::Labels => labels.get(),
        Overlay::Segmentation => trainer.segmentation.get(),
        Overlay::Nothing => None,
    });
    let pick = move |is_volume: bool, ev: web_sys::Event| {
        let Some(file) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
            .and_then(|i| i.files())
            .and_then(|f| f.get(0))
        else {
            return;
        };
        spawn_local(async move {
            data_error.set(None);
            trainer.loaded.set(None);
            trainer.segmentation.set(None);
            match read_data(&file, is_volume).await {
                Ok((bytes, Data::Volume(v))) => {
                    volume.set(Some(Arc::new(v)));
                    files.update_value(|f| f.0 = Some(bytes));
                }
                Ok((bytes, Data::Labels(l))) => {
                    labels.set(Some(Arc::new(l)));
                    files.update_value(|f| f.1 = Some(bytes));
                }
                Err(e) => return data_error.set(Some(e)),
            }
            let (Some(v), Some(l)) = files.get_value() else {
                return;
            };
            load(trainer, v, l, data_error).await;
        });
    };
    view! {
        <section class="card wide">
            <h1>"Train on this computer"</h1>
            <p>"Your scans are read here and never uploaded: only model weights leave this computer."</p>
            <DevicePanel/>
            <h2>"Your data"</h2>
            <div class="file-pick">
                <label for="volume-file">"T1 volume (NIfTI, .nii or .nii.gz)"</label>
                <input id="volume-file" type="file" accept=".nii,.gz"
                    on:change=move |ev| pick(true, ev)/>
                <label for="labels-file">"Label map (NIfTI, same grid)"</label>
                <input id="labels-file" type="file" accept=".nii,.gz"
                    on:change=move |ev| pick(false, ev)/>
            </div>
            {move || data_error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            {move || trainer.loaded.get().map(|(_, classes)| view! {
                <p role="status">{format!("Ready to train: {classes} classes in the label map.")}</p>
            })}
            <Show when=move || volume.with(Option::is_some)>
                <fieldset class="overlay-choice">
                    <legend>"Overlay"</legend>
                    <label><input type="radio" name="overlay" checked=true
                        on:change=move |_| overlay.set(Overlay::Labels)/>"Label map"</label>
                    <label><input type="radio" name="overlay"
                        disabled=move || trainer.segmentation.with(Option::is_none)
                        on:change=move |_| overlay.set(Overlay::Segmentation)/>"Segmentation"</label>
                    <label><input type="radio" name="overlay"
                        on:change=move |_| overlay.set(Overlay::Nothing)/>"None"</label>
                </fieldset>
                <SliceViewer volume=volume.into() overlay=shown/>
            </Show>
            <TrainPanel/>
            <ProgressView/>
            <JoinPanel session=session/>
            <ModelPanel/>
        </section>
    }
}

enum Data {
    Volume(Volume),
    Labels(Labels),
}

async fn read_data(file: &web_sys::File, is_volume: bool) -> Result<(Vec<u8>, Data), String> {
    let bytes = read_file(file).await?;
    let data = if is_volume {
        nifti::read_volume(&bytes)
            .map(Data::Volume)
            .map_err(|e| format!("The volume: {e}"))
    } else {
        nifti::read_labels(&bytes)
            .map(Data::Labels)
            .map_err(|e| format!("The label map: {e}"))
    }?;
    Ok((bytes, data))
}

/// Hands both files to the worker, which checks and prepares them.
async fn load(
    trainer: TrainingPage,
    volume: Vec<u8>,
    labels: Vec<u8>,
    error: RwSignal<Option<String>>,
) {
    let Some(worker) = trainer.worker() else {
        return;
    };
    let answer = worker
        .call(
            &WorkerRequest::Load,
            &[(VOLUME, &volume), (LABELS, &labels)],
        )
        .await;
    match answer.map(|a| a.reply) {
        Ok(WorkerReply::Loaded { dims, classes, .. }) => trainer.loaded.set(Some((dims, classes))),
        Ok(_) => error.set(Some("The training worker answered out of turn".into())),
        Err(e) => error.set(Some(e)),
    }
}

/// Starts the worker and its device; the page shows which device trains.
fn start_worker(trainer: TrainingPage) {
    let worker = match TrainingWorker::spawn() {
        Ok(w) => w,
        Err(e) => return trainer.device.set(Some(Err(e))),
    };
    worker.on_progress(move |p| {
        trainer
            .losses
            .update(|l| l.push((p.step as f64, p.loss as f64)));
        trainer.progress.set(Some(p));
    });
    trainer.worker.set_value(Some(worker.clone()));
    spawn_local(async move {
        let answer = worker
            .call(&WorkerRequest::Start { cpu_only: false }, &[])
            .await;
        trainer.device.set(Some(match answer.map(|a| a.reply) {
            Ok(WorkerReply::Ready {
                backend,
                adapter,
                note,
            }) => Ok((backend, adapter, note)),
            Ok(_) => Err("The training worker answered out of turn".into()),
            Err(e) => Err(e),
        }));
    });
}
