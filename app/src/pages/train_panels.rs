//! The training page's panels: the device, local training with progress, joining a run, and
//! the model (segment, download).

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use meshfed_shared::auth::mnemonic;
use meshfed_shared::meshnet::{brainchop, file};
use meshfed_shared::training::{
    human_duration, TrainRequest, WorkerReply, WorkerRequest, MODEL, SEGMENTATION,
};
use meshfed_shared::volume::Labels;

use super::train::{CurrentModel, TrainingPage};
use crate::api;
use crate::components::chart::LineChart;
use crate::session::{signed_in_resource, Session};
use crate::training::download::save;
use crate::training::join::{join, JoinPlan, JoinView};

fn trainer() -> TrainingPage {
    expect_context::<TrainingPage>()
}

/// How a job ended: a status line named `label`, or an alert.
#[component]
fn Outcome(
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

/// The join loop's view onto the page.
struct PageJoinView {
    status: RwSignal<Option<String>>,
    trainer: TrainingPage,
}

impl JoinView for PageJoinView {
    fn status(&self, text: String) {
        self.status.set(Some(text));
    }
    fn training(&self, round: u32) {
        self.trainer
            .start_job(format!("Training for round {round}"));
    }
    fn cancelled(&self) -> bool {
        self.trainer.cancelled.get_untracked()
    }
    fn model(&self, bytes: Vec<u8>, description: String) {
        self.trainer.model.set(Some(CurrentModel {
            bytes: Arc::new(bytes),
            description,
        }));
    }
}

#[component]
pub fn JoinPanel(session: Session) -> impl IntoView {
    let t = trainer();
    let query = use_query_map();
    let runs = signed_in_resource(
        session,
        |token| async move { api::runs::list(&token).await },
    );
    let run = RwSignal::new(query.with_untracked(|q| q.get("run")).unwrap_or_default());
    let rounds = RwSignal::new("1".to_string());
    // The run decides how everyone trains: its plan, shown and followed, not chosen here.
    let run_plan = signed_in_resource(session, move |token| {
        let id = run.get().parse::<i64>().ok();
        async move {
            match id {
                Some(id) => api::runs::detail(&token, id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let status = RwSignal::new(None::<String>);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    // A secure run's round keys are signed with the recovery phrase's key: asked for here.
    let phrase = RwSignal::new(String::new());
    let secure = move || {
        run_plan
            .get()
            .flatten()
            .and_then(Result::ok)
            .flatten()
            .is_some_and(|d| d.run.secure_aggregation)
    };
    let start = move |_| {
        let identity = match phrase.get_untracked().trim() {
            "" => None,
            typed => match mnemonic::signing_key(typed) {
                Some(key) => Some(key),
                None => {
                    let hint = "That is not a valid recovery phrase: the 12 words you were given at confirmation";
                    return outcome.set(Some(Err(hint.into())));
                }
            },
        };
        let (Some(worker), Ok(id), Ok(rounds)) = (
            t.worker(),
            run.get_untracked().parse::<i64>(),
            rounds.get_untracked().trim().parse::<u32>(),
        ) else {
            return outcome.set(Some(Err("Pick a run, and a whole number of rounds".into())));
        };
        let plan = JoinPlan {
            run: id,
            rounds: rounds.max(1),
            seed: js_sys::Math::random().to_bits(),
            identity,
        };
        outcome.set(None);
        t.start_job(format!("Joining run {id}"));
        spawn_local(async move {
            let view = PageJoinView { status, trainer: t };
            let result = join(session, &worker, &plan, &view).await;
            t.busy.set(None);
            status.set(None);
            outcome.set(Some(result));
            // The list names each run's current round: show the rounds just taken part in.
            runs.refetch();
            run_plan.refetch();
        });
    };
    view! {
        <h2>"Join a run"</h2>
        <div class="train-form">
            <label for="join-run">"Run"</label>
            <select id="join-run" on:change=move |ev| run.set(event_target_value(&ev))>
                <option value="">"Choose a run"</option>
                {move || runs.get().flatten().and_then(Result::ok).map(|list| list.into_iter().map(|r| {
                    let id = r.run.id.to_string();
                    let selected = run.get_untracked() == id;
                    view! { <option value=id selected=selected>{format!("{} (round {})", r.run.name, r.run.current_round)}</option> }
                }).collect_view())}
            </select>
            <label for="join-rounds">"Rounds"</label>
            <input id="join-rounds" type="text" inputmode="numeric" prop:value=move || rounds.get()
                on:input=move |ev| rounds.set(event_target_value(&ev))/>
            {move || secure().then(|| view! {
                <label for="join-phrase">"Recovery phrase"</label>
                <input id="join-phrase" type="password" autocomplete="off"
                    aria-describedby="join-phrase-hint" prop:value=move || phrase.get()
                    on:input=move |ev| phrase.set(event_target_value(&ev))/>
                <p class="hint" id="join-phrase-hint">
                    "This run aggregates securely: your recovery phrase signs your round keys, "
                    "so no one can take part as you. It stays in this tab."
                </p>
            })}
        </div>
        {move || run_plan.get().flatten().and_then(Result::ok).flatten().map(|d| view! {
            <p role="note" aria-label="Training plan">
                {format!("This run trains {} (plan v{}, set by its creator).", d.plan.summary, d.plan.version)}
                {d.next_plan.map(|n| format!(" From round {}: {}.", n.from_round, n.summary))}
            </p>
            {d.privacy.map(|p| view! { <p role="note" aria-label="Privacy">{p.describe()}</p> })}
        })}
        <button type="button" disabled=move || !t.ready() || run.with(String::is_empty) on:click=start>"Join"</button>
        {move || status.get().map(|s| view! { <p role="status" aria-label="Join status">{s}</p> })}
        <Outcome label="Join result" outcome=outcome/>
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
