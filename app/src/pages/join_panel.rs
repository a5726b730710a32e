//! The training page's join panel: pick a run (its plan shown, not chosen here), the number of
//! rounds, and for a secure run the recovery phrase; then take part, round after round.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use meshfed_shared::auth::mnemonic;
use meshfed_shared::secagg::identity::fingerprint;

use super::train::{CurrentModel, TrainingPage};
use super::train_panels::{trainer, Outcome};
use crate::api;
use crate::session::{signed_in_resource, Session};
use crate::training::join::{join, JoinPlan, JoinView};

/// The join loop's view onto the page.
struct PageJoinView {
    status: RwSignal<Option<String>>,
    trainer: TrainingPage,
    /// Members of secure rounds whose keys this browser saw for the first time: name and
    /// fingerprint.
    first_seen: RwSignal<Vec<(String, String)>>,
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
    fn key_first_seen(&self, username: String, fingerprint: String) {
        self.first_seen
            .update(|seen| seen.push((username, fingerprint)));
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
    // What the others check the first time they share a secure round with this person.
    let my_fingerprint = Memo::new(move |_| {
        phrase
            .with(|typed| mnemonic::signing_key(typed.trim()))
            .map(|key| fingerprint(key.verifying_key().as_bytes()))
    });
    let first_seen = RwSignal::new(Vec::<(String, String)>::new());
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
        first_seen.set(vec![]);
        t.start_job(format!("Joining run {id}"));
        spawn_local(async move {
            let view = PageJoinView {
                status,
                trainer: t,
                first_seen,
            };
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
                {move || my_fingerprint.get().map(|printed| view! {
                    <p role="note" aria-label="Your key">
                        {format!("Your key's fingerprint, for the others to check: {printed}")}
                    </p>
                })}
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
        {move || (!first_seen.with(Vec::is_empty)).then(|| view! {
            <div role="note" aria-label="Keys seen for the first time">
                <p>"First secure round with these members: check each fingerprint with its person "
                   "(by phone, say). This browser holds them to these keys from now on."</p>
                <ul>
                    {first_seen.get().into_iter().map(|(username, printed)| view! {
                        <li>{format!("{username}: {printed}")}</li>
                    }).collect_view()}
                </ul>
            </div>
        })}
        <Outcome label="Join result" outcome=outcome/>
    }
}
