//! Joining a federated run from the browser, round after round: read the run's training plan,
//! fetch the global model, have the worker score it on the plan's held-out part and train it
//! as the plan says, upload the weights with `num_examples`, loss, Dice and the validation
//! scores, then wait (showing who has uploaded) until the round closes. The scan never leaves.

use std::time::Duration;

use meshfed_shared::aggregate::Method;
use meshfed_shared::api::runs::RunDetail;
use meshfed_shared::auth::mnemonic::SigningKey;
use meshfed_shared::meshnet::file;
use meshfed_shared::secagg::participant::{DistributedNoise, Trained};
use meshfed_shared::secagg::vector::{self, Scores};
use meshfed_shared::training::{RoundRequest, WorkerReply, WorkerRequest, MODEL};

use super::worker::TrainingWorker;
use crate::api::runs::{self as runs_api, LocalResult};
use crate::api::ClientError;
use crate::session::Session;

/// How often the page asks whether a round has closed.
const POLL: Duration = Duration::from_secs(2);

/// What to do: how to train is the run's plan, read every round.
#[derive(Debug, Clone)]
pub struct JoinPlan {
    pub run: i64,
    pub rounds: u32,
    pub seed: u64,
    /// The key of the person's recovery phrase: a secure run's round keys are signed with it.
    pub identity: Option<SigningKey>,
}

/// Why a secure run cannot be joined without the recovery phrase.
pub const NEEDS_PHRASE: &str = "This run aggregates securely: enter your recovery phrase, \
     whose key signs your round keys (it stays in this tab). Nothing was trained.";

/// How the join is going, for the page.
pub trait JoinView {
    fn status(&self, text: String);
    /// Local training for `round` starts (a fresh progress view).
    fn training(&self, round: u32);
    /// The person asked to stop.
    fn cancelled(&self) -> bool;
    /// The newest model (a global model, or the local one just trained).
    fn model(&self, bytes: Vec<u8>, description: String);
    /// A secure round showed `username`'s key for the first time: pinned now, its
    /// `fingerprint` is for the person to check with them.
    fn key_first_seen(&self, username: String, fingerprint: String);
}

fn api_error(session: &Session, e: ClientError) -> String {
    session.check(&e);
    e.to_string()
}

async fn detail(session: &Session, run: i64) -> Result<RunDetail, String> {
    let token = session.access_token().ok_or("You are signed out")?;
    runs_api::detail(&token, run)
        .await
        .map_err(|e| api_error(session, e))
}

/// Takes part in `plan.rounds` rounds; returns a summary.
pub async fn join(
    session: Session,
    worker: &TrainingWorker,
    plan: &JoinPlan,
    view: &dyn JoinView,
) -> Result<String, String> {
    let mut done = vec![];
    for _ in 0..plan.rounds {
        let run = detail(&session, plan.run).await?;
        if run.run.secure_aggregation && plan.identity.is_none() {
            return Err(NEEDS_PHRASE.into());
        }
        let round = run.run.current_round;
        view.status(format!("Round {round}: fetching the global model…"));
        let token = session.access_token().ok_or("You are signed out")?;
        let global = runs_api::global_model(&token, plan.run)
            .await
            .map_err(|e| api_error(&session, e))?;
        view.model(global.clone(), format!("global model of round {round}"));
        view.status(format!(
            "Round {round}: this run trains {} (plan v{})…",
            run.plan.summary, run.plan.version
        ));
        view.training(round);
        let request = RoundRequest {
            run: plan.run,
            round,
            plan: run.plan.plan.clone(),
            seed: plan.seed,
            secure: run.run.secure_aggregation,
        };
        let answer = worker
            .call(
                &WorkerRequest::FollowRound(Box::new(request)),
                &[(MODEL, &global)],
            )
            .await?;
        let WorkerReply::RoundTrained {
            cancelled,
            loss,
            dice,
            num_examples,
            ref validation,
            ..
        } = answer.reply
        else {
            return Err("The training worker answered out of turn".into());
        };
        if cancelled {
            return Err(format!("Cancelled: nothing was uploaded for round {round}"));
        }
        let weights = answer
            .payload(MODEL)
            .ok_or("The trained model is missing")?;
        view.model(
            weights.clone(),
            format!("local model of round {round} (Dice {dice:.3})"),
        );
        let held_out = validation.as_ref().map_or(String::new(), |v| {
            let fg: Vec<f64> = v.foreground().into_iter().flatten().collect();
            let mean = fg.iter().sum::<f64>() / fg.len().max(1) as f64;
            format!(", held-out Dice of the global model {mean:.3}")
        });
        if run.run.secure_aggregation {
            let scores = Scores::of(loss as f64, dice, validation.as_ref());
            let trained = secure_input(&run, &global, &weights, num_examples, scores)?;
            let identity = plan.identity.clone().ok_or(NEEDS_PHRASE)?;
            super::secure::take_part(&session, plan.run, round, trained, identity, view).await?;
            wait_for_close(&session, plan.run, round, view).await?;
            done.push(format!(
                "round {round} (loss {loss:.3}, Dice {dice:.3}{held_out}, securely aggregated)"
            ));
            continue;
        }
        view.status(format!("Round {round}: uploading the weights…"));
        let result = LocalResult {
            num_examples,
            loss,
            dice,
            validation: validation.clone(),
        };
        let token = session.access_token().ok_or("You are signed out")?;
        let receipt = runs_api::upload_weights(&token, plan.run, round, &weights, &result)
            .await
            .map_err(|e| api_error(&session, e))?;
        if !receipt.closed {
            wait_for_close(&session, plan.run, round, view).await?;
        }
        done.push(format!(
            "round {round} (loss {loss:.3}, Dice {dice:.3}{held_out})"
        ));
    }
    Ok(format!("Took part in {}.", done.join(", ")))
}

/// What goes into this participant's masked input.
fn secure_input(
    run: &RunDetail,
    global: &[u8],
    weights: &[u8],
    num_examples: u64,
    scores: Scores,
) -> Result<Trained, String> {
    let read = |bytes: &[u8], what: &str| {
        file::from_safetensors(bytes, Some(&run.model))
            .map(|(_, values)| values)
            .map_err(|e| format!("The {what} model: {e}"))
    };
    Ok(Trained {
        global: read(global, "global")?,
        values: read(weights, "trained")?,
        weight: vector::weight(
            run.run.aggregation == Method::Fedavg,
            num_examples,
            run.plan.plan.max_num_examples,
        ),
        scores,
        classes: run.model.classes,
        // Under DP the worker only clipped the update: its share of the noise comes now.
        noise: match &run.plan.plan.dp {
            Some(dp) => Some(DistributedNoise {
                sd: dp.noise_sd(),
                seed: super::secure::random_bytes()?,
            }),
            None => None,
        },
    })
}

async fn wait_for_close(
    session: &Session,
    run: i64,
    round: u32,
    view: &dyn JoinView,
) -> Result<(), String> {
    loop {
        let detail = detail(session, run).await?;
        if detail.run.current_round > round {
            return Ok(());
        }
        if view.cancelled() {
            return Err(format!(
                "Stopped waiting for round {round} to close; your upload counts in it"
            ));
        }
        let who: Vec<String> = detail
            .participants
            .iter()
            .filter(|p| p.active)
            .map(|p| format!("{} {}", p.username, if p.uploaded { "✓" } else { "…" }))
            .collect();
        view.status(format!(
            "Round {round}: uploaded. Waiting for the others: {} of {} uploads ({}); deadline {}.",
            detail.round.uploads,
            detail.round.active_participants,
            who.join(", "),
            detail.round.deadline_at
        ));
        sleep(POLL).await;
    }
}

pub(super) async fn sleep(duration: Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                duration.as_millis() as i32,
            );
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
