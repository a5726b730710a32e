//! One run: its participants and their state in the current round, and the round history
//! with loss and Dice per round as a chart.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use meshfed_shared::api::runs::{RoundRecord, RunDetail};

use crate::api::{self, ClientError};
use crate::components::chart::LineChart;
use crate::components::loaded::{Loaded, SignedIn};
use crate::components::submit::{message, submit};
use crate::session::{require_sign_in, signed_in_resource, Session};

/// How often the open run page asks for the round's state.
const REFRESH: Duration = Duration::from_secs(3);

#[component]
pub fn RunPage() -> impl IntoView {
    let session = require_sign_in();
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok()));
    let run = signed_in_resource(session, move |token| {
        let id = id();
        async move {
            match id {
                Some(id) => api::runs::detail(&token, id).await,
                None => Err(api::ClientError::Unexpected(404)),
            }
        }
    });
    // Follow the round live: who has uploaded, when it closes, the history.
    if let Ok(timer) = set_interval_with_handle(move || run.refetch(), REFRESH) {
        on_cleanup(move || timer.clear());
    }
    view! {
        <section class="card">
            <Loaded resource=run loading="Loading the run…" view={move |detail: RunDetail| view! {
                <RunView detail=detail/>
                <MyParticipation run=run/>
            }}/>
            <p><a href="/runs">"All runs"</a></p>
        </section>
    }
}

#[component]
fn RunView(detail: RunDetail) -> impl IntoView {
    let round = detail.round.clone();
    let history = detail.history.clone();
    view! {
        <h1>{detail.run.name.clone()}</h1>
        {(!detail.run.description.is_empty()).then(|| view! { <p>{detail.run.description.clone()}</p> })}
        <p>
            {format!(
                "Round {} is {} · {} of {} uploads · deadline {} · {} parameters · {}",
                round.round, round.state, round.uploads, round.active_participants,
                round.deadline_at, detail.parameter_count, detail.run.aggregation.as_str()
            )}
        </p>
        <p role="note" aria-label="Training plan">
            {format!("Everyone trains {} (plan v{}).", detail.plan.summary, detail.plan.version)}
            {detail.next_plan.as_ref().map(|n| format!(" From round {}: {} (v{}).", n.from_round, n.summary, n.version))}
        </p>
        {detail.run.secure_aggregation.then(|| view! {
            <p role="note" aria-label="Secure aggregation">
                "Secure aggregation: every upload is masked; the server learns only each round's sum."
            </p>
        })}
        {detail.privacy.map(|p| view! { <p role="note" aria-label="Privacy">{p.describe()}</p> })}
        <p><a href=format!("/train?run={}", detail.run.id)>"Train and join this run"</a></p>
        <h2>"Participants"</h2>
        <table aria-label="Participants">
            <thead><tr>
                <th scope="col">"User"</th><th scope="col">"Email"</th>
                <th scope="col">"Active"</th><th scope="col">{format!("Round {}", round.round)}</th>
            </tr></thead>
            <tbody>
                {detail.participants.into_iter().map(|p| view! {
                    <tr>
                        <td>{p.username.clone()}{p.creator.then_some(" (creator)")}</td>
                        <td>{p.email.clone()}</td>
                        <td>{if p.active { "yes" } else { "no" }}</td>
                        <td>{if p.uploaded { "uploaded" } else { "waiting" }}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Round history"</h2>
        <History history=history/>
    }
}

type RunResource = SignedIn<RunDetail>;

/// Pause or resume my own participation (an inactive participant is not waited for).
#[component]
fn MyParticipation(run: RunResource) -> impl IntoView {
    let session = Session::get();
    let toggle = submit(move |(id, active): (i64, bool)| async move {
        let token = session
            .access_token()
            .ok_or_else(|| ClientError::invalid(None, "Sign in again."))?;
        match api::runs::set_active(&token, id, active).await {
            Ok(_) => {
                run.refetch();
                Ok(())
            }
            Err(e) => {
                session.check(&e);
                Err(e)
            }
        }
    });
    let error = message(toggle);
    let mine = move || {
        let me = session.username()?;
        let detail = run.get().flatten()?.ok()?;
        let active = detail
            .participants
            .iter()
            .find(|p| p.username == me)?
            .active;
        Some((detail.run.id, active))
    };
    move || {
        mine().map(|(id, active)| {
            let on_toggle = move |_| {
                toggle.dispatch_local((id, !active));
            };
            view! {
                <p>{if active {
                    "You take part in this run's rounds."
                } else {
                    "You have paused your participation: rounds do not wait for you."
                }}</p>
                <button type="button" on:click=on_toggle disabled=move || toggle.pending().get()>
                    {if active { "Pause my participation" } else { "Resume my participation" }}
                </button>
                {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            }
        })
    }
}

#[component]
fn History(history: Vec<RoundRecord>) -> impl IntoView {
    if history.is_empty() {
        return view! { <p>"No round has closed yet."</p> }.into_any();
    }
    let series = |f: fn(&RoundRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        history
            .iter()
            .filter_map(|r| f(r).map(|v| (r.round as f64, v)))
            .collect()
    };
    let loss = series(|r| r.metrics.loss);
    let dice = series(|r| r.metrics.dice);
    let val_dice = series(|r| r.metrics.val_dice);
    view! {
        <LineChart label="Loss and Dice per round" series=vec![
            ("Training loss", loss),
            ("Training Dice", dice),
            ("Validation Dice (held-out, federated)", val_dice),
        ]/>
        <table aria-label="Round history">
            <thead><tr>
                <th scope="col">"Round"</th><th scope="col">"Uploads"</th>
                <th scope="col">"Plan"</th>
                <th scope="col">"Loss"</th><th scope="col">"Dice"</th>
                <th scope="col">"Validation Dice"</th><th scope="col">"Closed"</th>
            </tr></thead>
            <tbody>
                {history.iter().map(|r| view! {
                    <tr>
                        <td>{r.round}</td>
                        <td>{r.metrics.uploads}</td>
                        <td>{format!("v{}", r.plan_version)}</td>
                        <td>{r.metrics.loss.map_or("—".into(), |l| format!("{l:.4}"))}</td>
                        <td>{r.metrics.dice.map_or("—".into(), |d| format!("{d:.4}"))}</td>
                        <td>{r.metrics.val_dice.map_or("—".into(), |d| format!("{d:.4}"))}</td>
                        <td>{format!("{} ({})", r.closed_at, r.reason)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
