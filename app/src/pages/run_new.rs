//! Create a run: name, participants picked from the users list, model preset and what it
//! starts from (fresh, brainchop's pretrained weights, a TF.js model from disk), aggregation,
//! round timeout and how many uploads close a round at its deadline (k of n).

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use meshfed_shared::aggregate::Method;
use meshfed_shared::api::auth::DirectoryEntry;
use meshfed_shared::api::runs::CreateRunRequest;
use meshfed_shared::meshnet::ModelConfig;
use web_sys::SubmitEvent;

use super::run_start::{self, TfjsFiles, STARTS};
use crate::api::{self, ClientError};
use crate::components::field::{Field, FormMessage};
use crate::components::loaded::Loaded;
use crate::components::submit::{failure, submit};
use crate::session::{require_sign_in, signed_in_resource};

const PRESETS: [(&str, &str); 4] = [
    ("model5_gw_ae", "brainchop model5 (GM/WM, 5 channels)"),
    ("model11_gw_ae", "brainchop model11 (GM/WM, 11 channels)"),
    (
        "model20chan3cls",
        "brainchop model20 (3 classes, 20 channels)",
    ),
    ("classic21", "classic MeshNet (21 channels)"),
];
const METHODS: [(&str, &str); 4] = [
    ("fedavg", "FedAvg (weighted by examples)"),
    ("mean", "Plain mean"),
    ("median", "Coordinate-wise median"),
    ("trimmed_mean", "Trimmed mean"),
];

/// The form as submitted: the request, and how its first model is made.
#[derive(Clone)]
struct NewRun {
    request: CreateRunRequest,
    files: (Option<web_sys::File>, Option<web_sys::File>),
    start: String,
    preset: String,
}

#[component]
pub fn NewRunPage() -> impl IntoView {
    let session = require_sign_in();
    let users = signed_in_resource(
        session,
        |token| async move { api::runs::users(&token).await },
    );
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let preset = RwSignal::new(PRESETS[0].0.to_string());
    // The lab's recipe: a fresh network with BatchNorm, which the default plan's FixBN fixes.
    let batch_norm = RwSignal::new(true);
    let start = RwSignal::new(STARTS[0].0.to_string());
    let tfjs_json = RwSignal::new_local(None::<web_sys::File>);
    let tfjs_shard = RwSignal::new_local(None::<web_sys::File>);
    let method = RwSignal::new(METHODS[0].0.to_string());
    let secure = RwSignal::new(false);
    let timeout_minutes = RwSignal::new("60".to_string());
    let min_participants = RwSignal::new(String::new());
    let picked = RwSignal::new(Vec::<String>::new());
    let find = RwSignal::new(String::new());
    let navigate = use_navigate();
    let create = submit(move |form: Result<NewRun, ClientError>| {
        let navigate = navigate.clone();
        async move {
            let NewRun {
                mut request,
                files,
                start,
                preset,
            } = form?;
            let token = session
                .access_token()
                .ok_or_else(|| ClientError::invalid(None, "Sign in again to create a run."))?;
            run_start::apply(&mut request, &start, &preset, files)
                .await
                .map_err(|e| ClientError::invalid(None, e))?;
            let run = api::runs::create(&token, &request)
                .await
                .inspect_err(|e| session.check(e))?;
            navigate(&format!("/runs/{}", run.run.id), Default::default());
            Ok(())
        }
    });
    let refused = failure(create);
    let error = move || refused.get().map(|e| (e.field(), e.to_string()));
    let error_for = move |field: &'static str| {
        Signal::derive(move || match error() {
            Some((Some(f), m)) if f == field => Some(m),
            _ => None,
        })
    };
    let form_error = Signal::derive(move || match error() {
        Some((None, m)) => Some(m),
        Some((Some(f), m))
            if !["name", "round_timeout_secs", "min_participants"].contains(&f.as_str()) =>
        {
            Some(m)
        }
        _ => None,
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let form = (|| {
            let Ok(minutes) = timeout_minutes.get_untracked().trim().parse::<u64>() else {
                let hint = "Enter the round timeout in whole minutes.";
                return Err(ClientError::invalid(Some("round_timeout_secs"), hint));
            };
            let min = match min_participants.get_untracked().trim() {
                "" => None,
                k => Some(k.parse::<u32>().map_err(|_| {
                    let hint = "Enter a whole number, or leave it empty for everyone.";
                    ClientError::invalid(Some("min_participants"), hint)
                })?),
            };
            let request = CreateRunRequest {
                name: name.get_untracked(),
                description: description.get_untracked(),
                participants: picked.get_untracked(),
                round_timeout_secs: minutes * 60,
                model: ModelConfig::preset(&preset.get_untracked()).map(|m| ModelConfig {
                    batch_norm: batch_norm.get_untracked(),
                    ..m
                }),
                aggregation: Method::parse(&method.get_untracked()).unwrap_or_default(),
                min_participants: min,
                secure_aggregation: secure.get_untracked(),
                ..Default::default()
            };
            Ok(NewRun {
                request,
                files: (tfjs_json.get_untracked(), tfjs_shard.get_untracked()),
                start: start.get_untracked(),
                preset: preset.get_untracked(),
            })
        })();
        create.dispatch_local(form);
    };
    let toggle = move |email: String, on: bool| {
        picked.update(|p| {
            p.retain(|e| *e != email);
            if on {
                p.push(email);
            }
        })
    };

    // Everyone but me, narrowed by the search box.
    let me = session.username().unwrap_or_default();
    let choices = move |users: Vec<DirectoryEntry>| {
        let needle = find.get().trim().to_lowercase();
        users
            .into_iter()
            .filter(|u| u.username != me)
            .filter(|u| {
                needle.is_empty()
                    || u.username.to_lowercase().contains(&needle)
                    || u.email.to_lowercase().contains(&needle)
            })
            .map(|u| {
                let email = u.email.clone();
                let shown = u.email.clone();
                view! {
                    <label class="check">
                        <input type="checkbox" value=u.email.clone()
                            prop:checked=move || picked.with(|p| p.contains(&shown))
                            on:change=move |ev| toggle(email.clone(), event_target_checked(&ev))/>
                        {format!("{} ({})", u.username, u.email)}
                    </label>
                }
            })
            .collect_view()
    };

    view! {
        <section class="card">
            <h1>"New run"</h1>
            <form aria-label="New run" on:submit=on_submit>
                <Field id="run-name" label="Name" value=name required=true error=error_for("name")/>
                <Field id="run-description" label="Description (optional)" value=description/>
                <fieldset>
                    <legend>"Participants"</legend>
                    <p class="hint">"You take part in every run you create."</p>
                    <Field id="run-find" label="Find people" kind="search" value=find/>
                    <Loaded resource=users loading="Loading users…" view=choices/>
                </fieldset>
                <label for="run-model">"Model"</label>
                <select id="run-model" on:change=move |ev| preset.set(event_target_value(&ev))>
                    {PRESETS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                </select>
                <label for="run-start">"Start from"</label>
                <select id="run-start" on:change=move |ev| start.set(event_target_value(&ev))>
                    {STARTS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                </select>
                <TfjsFiles start=start json=tfjs_json shard=tfjs_shard/>
                {move || (start.get() == "fresh").then(|| view! {
                    <label class="check">
                        <input type="checkbox" id="run-batch-norm" prop:checked=batch_norm
                            on:change=move |ev| batch_norm.set(event_target_checked(&ev))/>
                        "BatchNorm after every block (the lab's recipe: the plan's FixBN needs it)"
                    </label>
                })}
                <label for="run-aggregation">"Aggregation"</label>
                <select id="run-aggregation" on:change=move |ev| method.set(event_target_value(&ev))>
                    {METHODS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                </select>
                <label class="check">
                    <input type="checkbox" id="run-secure" prop:checked=secure
                        on:change=move |ev| secure.set(event_target_checked(&ev))/>
                    "Secure aggregation: the server learns only each round's sum (FedAvg or mean)"
                </label>
                <Field id="run-timeout" label="Round timeout (minutes)" kind="number"
                    value=timeout_minutes error=error_for("round_timeout_secs")/>
                <Field id="run-min" label="Uploads that close a round at its deadline (k of n)"
                    kind="number" value=min_participants
                    hint="Empty: every active participant"
                    error=error_for("min_participants")/>
                <FormMessage message=form_error/>
                <button type="submit" disabled=move || create.pending().get()>"Create run"</button>
            </form>
        </section>
    }
}
