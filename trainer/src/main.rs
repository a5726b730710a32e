//! Meshfed's training worker: a Web Worker the app starts, so MeshNet trains off the page's
//! thread. It answers the requests of `meshfed_shared::training` one job at a time.

mod device;
mod jobs;
mod wire;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::Promise;
use meshfed_shared::training::{WorkerReply, WorkerRequest, LABELS, MODEL, SEGMENTATION, VOLUME};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use device::Chosen;
use meshfed_meshnet::LocalData;
use wire::{outgoing, Incoming};

#[derive(Default)]
struct State {
    chosen: RefCell<Option<Rc<Chosen>>>,
    data: RefCell<Option<Rc<LocalData>>>,
    busy: Cell<bool>,
    cancel: Rc<Cell<bool>>,
    /// The run being followed and what its rounds keep (the optimizer's state).
    following: RefCell<Option<(i64, meshfed_meshnet::Participant)>>,
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(reply: &WorkerReply, payloads: &[(&str, &[u8])]) {
    let _ = scope().post_message(&outgoing(reply, payloads));
}

fn fail(message: impl Into<String>) {
    post(
        &WorkerReply::Failed {
            message: message.into(),
        },
        &[],
    );
}

/// Lets the event loop run (a cancel message, say) before the next step.
pub async fn next_task() {
    let promise = Promise::new(&mut |resolve, _| {
        let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
    });
    let _ = JsFuture::from(promise).await;
}

async fn handle(state: Rc<State>, incoming: Incoming) -> Result<(), String> {
    let chosen = || {
        state
            .chosen
            .borrow()
            .clone()
            .ok_or_else(|| "The training device is not started yet".to_string())
    };
    let data = || {
        state
            .data
            .borrow()
            .clone()
            .ok_or_else(|| "Pick a volume and its label map first".to_string())
    };
    match &incoming.request {
        WorkerRequest::Start { cpu_only } => {
            let c = device::choose(*cpu_only).await;
            post(
                &WorkerReply::Ready {
                    backend: c.backend,
                    adapter: c.adapter.clone(),
                    note: c.note.clone(),
                },
                &[],
            );
            *state.chosen.borrow_mut() = Some(Rc::new(c));
        }
        WorkerRequest::Load => {
            let (loaded, reply) =
                jobs::load(&incoming.payload(VOLUME)?, &incoming.payload(LABELS)?)?;
            *state.data.borrow_mut() = Some(Rc::new(loaded));
            post(&reply, &[]);
        }
        WorkerRequest::Train(request) => {
            state.cancel.set(false);
            let (c, d) = (chosen()?, data()?);
            let model = incoming.payload(MODEL)?;
            let progress = |p: &meshfed_shared::training::Progress| {
                post(&WorkerReply::Progress(p.clone()), &[])
            };
            let (reply, bytes) =
                jobs::train(&c, &d, request, &model, state.cancel.clone(), progress).await?;
            post(&reply, &[(MODEL, &bytes)]);
        }
        WorkerRequest::FollowRound(request) => {
            state.cancel.set(false);
            let (c, d) = (chosen()?, data()?);
            let model = incoming.payload(MODEL)?;
            let progress = |p: &meshfed_shared::training::Progress| {
                post(&WorkerReply::Progress(p.clone()), &[])
            };
            // Another run (or none yet) starts with a fresh optimizer.
            let (run, mut participant) = state
                .following
                .borrow_mut()
                .take()
                .filter(|(run, _)| *run == request.run)
                .unwrap_or((request.run, Default::default()));
            let done = jobs::follow_round(
                &c,
                &d,
                &mut participant,
                request,
                &model,
                state.cancel.clone(),
                progress,
            )
            .await;
            *state.following.borrow_mut() = Some((run, participant));
            let (reply, bytes) = done?;
            post(&reply, &[(MODEL, &bytes)]);
        }
        WorkerRequest::Segment => {
            let (c, d) = (chosen()?, data()?);
            let (reply, labels) = jobs::segment(&c, &d, &incoming.payload(MODEL)?).await?;
            post(&reply, &[(SEGMENTATION, &labels)]);
        }
        WorkerRequest::Cancel => {}
    }
    Ok(())
}

fn main() {
    console_error_panic_hook::set_once();
    let state = Rc::new(State::default());
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
        let incoming = match Incoming::parse(event.data()) {
            Ok(i) => i,
            Err(e) => return fail(e),
        };
        if incoming.request == WorkerRequest::Cancel {
            state.cancel.set(true);
            return;
        }
        if state.busy.replace(true) {
            return fail("The worker is busy with another job; cancel it or wait");
        }
        let state = state.clone();
        spawn_local(async move {
            if let Err(e) = handle(state.clone(), incoming).await {
                fail(e);
            }
            state.busy.set(false);
        });
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    // Messages sent before this point were dropped: the page waits for this one.
    post(&WorkerReply::Alive, &[]);
}
