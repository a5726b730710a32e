//! The training page's panels: the device, local training with progress, and the model
//! (segment, download). Joining a run is `join_panel`.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use meshfed_shared::meshnet::{brainchop, file};
use meshfed_shared::training::{
    human_duration, TrainRequest, WorkerReply, WorkerRequest, MODEL, SEGMENTATION,
};
use meshfed_shared::volume::Labels;

use super::train::{CurrentModel, TrainingPage};
use crate::components::chart::LineChart;
use crate::training::download::save;

pub(super) fn trainer() -> TrainingPage {
    expect_context::<TrainingPage>()
}

/// How a job ended: a status line named `label`, or an alert.
#[component]
pub(super) fn Outcome(
    label: &'static str,
    outcome: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    move || {
        outcome.get().map(|o| match o {
            Ok(text) => view! { <p role="status" aria-label=label>{text}</p> }.into_any(),
            Err(e) => {
                view! { <p class="form-error" role="alert" aria-label=label>{e}</p> }.into_any()
            }
        })
    }
}

#[component]
pub fn DevicePanel() -> impl IntoView {
    let t = trainer();
    view! {
        <p class="device" role="status" aria-label="Training device">
            {move || match t.device.get() {
                None => "Starting the training device…".to_string(),
                Some(Ok((backend, adapter, note))) => format!(
                    "Training on {} · {adapter}{}",
                    backend.label(),
                    note.map(|n| format!(" · {n}")).unwrap_or_default()
                ),
                Some(Err(e)) => format!("Training is unavailable: {e}"),
            }}
        </p>
    }
}

/// "85 ms" below a second, "3.6 s" above.
fn step_time(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// The running training: a progress bar, step, loss and time left, cancel, the loss curve.
#[component]
pub fn ProgressView() -> impl IntoView {
    let t = trainer();
    view! {
        <h2>"Progress"</h2>
        {move || t.progress.get().map(|p| view! {
            <progress aria-label="Training progress" max=p.steps value=p.step></progress>
            <p role="status" aria-label="Training status">{format!(
                "Step {} of {} · loss {:.4}{}",
                p.step, p.steps, p.loss,
                p.eta_seconds().map(|s| format!(" · about {} left", human_duration(s))).unwrap_or_default()
            )}</p>
        })}
        <Show when=move || t.busy.get().is_some()>
            <button type="button" on:click=move |_| t.cancel()>"Cancel"</button>
        </Show>
        {move || t.busy.get().map(|job| view! { <p class="hint">{format!("{job}…")}</p> })}
        {move || (t.losses.with(|l| l.len()) > 1).then(|| view! {
            <LineChart label="Training loss per step" x_name="step" series=vec![("Loss", t.losses.get())]/>
        })}
    }
}

#[component]
pub fn TrainPanel() -> impl IntoView {
    let t = trainer();
    let (preset, steps, patch, lr) = (
        RwSignal::new("model5_gw_ae".to_string()),
        RwSignal::new("20".to_string()),
        RwSignal::new("32".to_string()),
        RwSignal::new("0.003".to_string()),
    );
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let start = move |_| {
        let (Some(worker), Ok(steps), Ok(patch), Ok(learning_rate)) = (
            t.worker(),
            steps.get_untracked().trim().parse::<usize>(),
            patch.get_untracked().trim().parse::<usize>(),
            lr.get_untracked().trim().parse::<f64>(),
        ) else {
            return outcome.set(Some(Err(
                "Steps and patch are whole numbers; the learning rate a number such as 0.003"
                    .into(),
            )));
        };
        if steps == 0 || patch < 8 || learning_rate.is_nan() || learning_rate <= 0.0 {
            return outcome.set(Some(Err(
                "Use at least 1 step, a patch of at least 8 and a positive learning rate".into(),
            )));
        }
        let model = match t.model_or_fresh(&preset.get_untracked(), 0) {
            Ok(m) => m,
            Err(e) => return outcome.set(Some(Err(e))),
        };
        outcome.set(None);
        t.start_job("Training".into());
        let request = TrainRequest {
            steps,
            patch,
            learning_rate,
            seed: 0,
        };
        spawn_local(async move {
            let answer = worker
                .call(&WorkerRequest::Train(request), &[(MODEL, &model)])
                .await;
            t.busy.set(None);
            outcome.set(Some(answer.and_then(|a| match a.reply {
                WorkerReply::Trained { steps, cancelled, loss, dice, ms_per_step, .. } => {
                    let bytes = a.payload(MODEL).ok_or("The trained model is missing")?;
                    let description = format!("trained here, {steps} steps, Dice {dice:.3}");
                    t.model.set(Some(CurrentModel { bytes: Arc::new(bytes), description }));
                    Ok(format!(
                        "{} after {steps} steps: loss {loss:.4}, Dice on your labels {dice:.3}, {} a step.",
                        if cancelled { "Cancelled" } else { "Done" }, step_time(ms_per_step)
                    ))
                }
                _ => Err("The training worker answered out of turn".into()),
            })));
        });
    };
    let number = |id: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <label for=id>{label}</label>
            <input id=id type="text" inputmode="decimal" prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))/>
        }
    };
    view! {
        <h2>"Train locally"</h2>
        <div class="train-form">
            <label for="preset">"Model for a fresh start"</label>
            <select id="preset" on:change=move |ev| preset.set(event_target_value(&ev))>
                <option value="model5_gw_ae" selected=true>"model5_gw_ae (5 channels, 3 classes)"</option>
                <option value="model11_gw_ae">"model11_gw_ae (11 channels)"</option>
                <option value="classic21">"classic21 (21 channels)"</option>
            </select>
            {number("steps", "Steps", steps)}
            {number("patch", "Patch edge (voxels)", patch)}
            {number("learning-rate", "Learning rate", lr)}
        </div>
        <button type="button" disabled=move || !t.ready() on:click=start>"Train"</button>
        <Outcome label="Training result" outcome=outcome/>
    }
}

#[component]
pub fn ModelPanel() -> impl IntoView {
    let t = trainer();
    let message = RwSignal::new(None::<Result<String, String>>);
    let segment = move |_| {
        let (Some(worker), Some(model)) = (t.worker(), t.model.get_untracked()) else {
            return;
        };
        t.busy.set(Some("Segmenting".into()));
        spawn_local(async move {
            let answer = worker
                .call(&WorkerRequest::Segment, &[(MODEL, &model.bytes)])
                .await;
            t.busy.set(None);
            message.set(Some(answer.and_then(|a| {
                let WorkerReply::Segmented { dice, ms } = a.reply else {
                    return Err("The training worker answered out of turn".to_string());
                };
                let data = a.payload(SEGMENTATION).ok_or("The segmentation is missing")?;
                let (dims, _) = t.loaded.get_untracked().ok_or("Pick the data again")?;
                let labels = Labels::new(dims, data).map_err(|e| e.to_string())?;
                t.segmentation.set(Some(Arc::new(labels)));
                Ok(format!("Segmented in {:.1} s; Dice against your label map {dice:.3}. Choose the Segmentation overlay to see it.", ms / 1000.0))
            })));
        });
    };
    let download = move |brainchop_format: bool| {
        let Some(model) = t.model.get_untracked() else {
            return;
        };
        let result = if brainchop_format {
            file::from_safetensors(&model.bytes, None)
                .map_err(|e| e.to_string())
                .and_then(|(config, values)| {
                    brainchop::export(&config, &values).map_err(|e| e.to_string())
                })
                .and_then(|out| {
                    save("model.json", &out.model_json, "application/json")?;
                    save(
                        brainchop::WEIGHTS_FILE,
                        &out.weights,
                        "application/octet-stream",
                    )
                })
        } else {
            save(
                "meshfed-model.safetensors",
                &model.bytes,
                "application/octet-stream",
            )
        };
        message.set(Some(result.map(|_| "The download has started.".into())));
    };
    view! {
        <h2>"Model"</h2>
        <p role="status" aria-label="Current model">{move || t.model.get().map_or(
            "No model yet: train locally or join a run.".to_string(),
            |m| format!("Current model: {} ({} KB).", m.description, m.bytes.len() / 1024)
        )}</p>
        <div class="actions">
            <button type="button" disabled=move || !t.ready() || t.model.with(Option::is_none) on:click=segment>"Segment the volume"</button>
            <button type="button" disabled=move || t.model.with(Option::is_none) on:click=move |_| download(false)>"Download model (safetensors)"</button>
            <button type="button" disabled=move || t.model.with(Option::is_none) on:click=move |_| download(true)>"Download for brainchop (TF.js)"</button>
        </div>
        <Outcome label="Model result" outcome=message/>
    }
}
