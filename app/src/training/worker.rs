//! The page's side of the training worker (`meshfed-trainer`, a Web Worker): send a request
//! with its payloads, hear progress, await the final reply.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use meshfed_shared::training::{Progress, WorkerReply, WorkerRequest};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, Worker};

/// Where trunk puts the worker's loader (see app/index.html).
const LOADER: &str = "/meshfed-trainer_loader.js";

/// A final reply and its payloads.
pub struct Answer {
    pub reply: WorkerReply,
    message: JsValue,
}

impl Answer {
    pub fn payload(&self, name: &str) -> Option<Vec<u8>> {
        Reflect::get(&self.message, &name.into())
            .ok()
            .and_then(|v| v.dyn_into::<Uint8Array>().ok())
            .map(|a| a.to_vec())
    }
}

type ProgressHandler = Rc<dyn Fn(Progress)>;

struct Inner {
    worker: Worker,
    /// Settles when the worker says it is alive (messages before that are lost).
    alive: Promise,
    alive_resolve: RefCell<Option<Function>>,
    /// Why the worker died, once it has.
    dead: RefCell<Option<String>>,
    /// The pending request's resolver: one request at a time.
    resolve: RefCell<Option<Function>>,
    on_progress: RefCell<Option<ProgressHandler>>,
    _listener: Closure<dyn Fn(MessageEvent)>,
    _on_error: Closure<dyn Fn(JsValue)>,
}

/// A running training worker; dropping the last clone terminates it.
#[derive(Clone)]
pub struct TrainingWorker(Rc<Inner>);

impl Drop for Inner {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

fn decode(message: &JsValue) -> WorkerReply {
    let json = Reflect::get(message, &"json".into())
        .ok()
        .and_then(|j| j.as_string())
        .unwrap_or_default();
    serde_json::from_str(&json).unwrap_or_else(|e| WorkerReply::Failed {
        message: format!("The training worker sent something unreadable: {e}"),
    })
}

/// A message on the wire: `{ json, <payload>: Uint8Array, … }`.
fn wire_message(json: &str, payloads: &[(&str, &[u8])]) -> JsValue {
    let object = Object::new();
    let _ = Reflect::set(&object, &"json".into(), &json.into());
    for (name, bytes) in payloads {
        let _ = Reflect::set(&object, &(*name).into(), &Uint8Array::from(*bytes).into());
    }
    object.into()
}

/// Calls and clears the resolver waiting in `slot`, if any.
fn settle(slot: &RefCell<Option<Function>>, value: &JsValue) {
    let resolve = slot.borrow_mut().take();
    if let Some(resolve) = resolve {
        let _ = resolve.call1(&JsValue::NULL, value);
    }
}

impl TrainingWorker {
    pub fn spawn() -> Result<Self, String> {
        let worker =
            Worker::new(LOADER).map_err(|e| format!("The training worker did not start: {e:?}"))?;
        let inner = Rc::new_cyclic(|weak: &std::rc::Weak<Inner>| {
            let weak_for_errors = weak.clone();
            let weak = weak.clone();
            let listener = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
                let Some(inner) = weak.upgrade() else { return };
                let message = event.data();
                let reply = decode(&message);
                if let WorkerReply::Progress(p) = reply {
                    let f = inner.on_progress.borrow().clone();
                    if let Some(f) = f {
                        f(p);
                    }
                } else if reply == WorkerReply::Alive {
                    settle(&inner.alive_resolve, &JsValue::NULL);
                } else {
                    settle(&inner.resolve, &message);
                }
            });
            worker.set_onmessage(Some(listener.as_ref().unchecked_ref()));
            // A crash in the worker (out of memory, a panic) ends the pending request.
            let weak = weak_for_errors.clone();
            let on_error = Closure::<dyn Fn(JsValue)>::new(move |event: JsValue| {
                let Some(inner) = weak.upgrade() else { return };
                let what = Reflect::get(&event, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| "it stopped".into());
                let why = format!("The training worker failed: {what}");
                let failed = WorkerReply::Failed {
                    message: why.clone(),
                };
                let json = serde_json::to_string(&failed).unwrap_or_default();
                *inner.dead.borrow_mut() = Some(why);
                settle(&inner.alive_resolve, &JsValue::NULL);
                settle(&inner.resolve, &wire_message(&json, &[]));
            });
            worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            let mut alive_resolve = None;
            let alive = Promise::new(&mut |resolve, _| alive_resolve = Some(resolve));
            Inner {
                worker,
                alive,
                alive_resolve: RefCell::new(alive_resolve),
                dead: RefCell::new(None),
                resolve: RefCell::new(None),
                on_progress: RefCell::new(None),
                _listener: listener,
                _on_error: on_error,
            }
        });
        Ok(Self(inner))
    }

    /// Where progress replies go while training.
    pub fn on_progress(&self, f: impl Fn(Progress) + 'static) {
        *self.0.on_progress.borrow_mut() = Some(Rc::new(f));
    }

    /// Sends `request` with `payloads` and waits for the final reply. A `Failed` reply is
    /// returned as the error.
    pub async fn call(
        &self,
        request: &WorkerRequest,
        payloads: &[(&str, &[u8])],
    ) -> Result<Answer, String> {
        let json = serde_json::to_string(request).map_err(|e| e.to_string())?;
        let _ = JsFuture::from(self.0.alive.clone()).await;
        if let Some(why) = self.0.dead.borrow().clone() {
            return Err(why);
        }
        let inner = self.0.clone();
        let promise = Promise::new(&mut |resolve, _| {
            *inner.resolve.borrow_mut() = Some(resolve);
        });
        self.0
            .worker
            .post_message(&wire_message(&json, payloads))
            .map_err(|e| format!("The training worker cannot be reached: {e:?}"))?;
        let message = JsFuture::from(promise)
            .await
            .map_err(|e| format!("The training worker stopped: {e:?}"))?;
        match decode(&message) {
            WorkerReply::Failed { message } => Err(message),
            reply => Ok(Answer { reply, message }),
        }
    }

    /// Asks the running training to stop after its current step (no reply of its own).
    pub fn cancel(&self) {
        let json = serde_json::to_string(&WorkerRequest::Cancel).unwrap_or_default();
        let _ = self.0.worker.post_message(&wire_message(&json, &[]));
    }
}
