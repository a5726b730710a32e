//! The per-run Durable Object. It serialises everything that changes a run's open round
//! (accepting an upload, closing the round), keeps the round's running sums in memory, and
//! owns the deadline alarm that closes a round even when no request arrives.
//!
//! Memory is only a cache: D1 rows and R2 blobs are the truth. After an eviction or a
//! restart the object rebuilds the open round from them (O(N·P) once), so nothing accepted is
//! lost and nothing is counted twice. The Worker authenticates and decodes uploads and stores
//! their blobs before calling in, so uploads decode in parallel and only the bookkeeping is
//! serialised.

mod adjust;
mod chunked;
mod close;
mod live;
mod secure;
mod secure_calls;
mod secure_view;

use serde::{Deserialize, Serialize};
use worker::{
    durable_object, DurableObject, Env, Headers, Method, Request, RequestInit, Response, State,
};

use crate::error::{error_response, EdgeError, EdgeResult};
pub use live::CommitMeta;
use meshfed_shared::api::runs::UploadReceipt;
use meshfed_shared::RawEnvelope;
pub use secure_calls::{SecureCall, SecureOp};

pub const BINDING: &str = "RUNS";
const COUNTER_KEY: &str = "counter";
const RUN_ID_KEY: &str = "run_id";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterReply {
    pub counter: u64,
}

/// How much linear memory the object's WebAssembly instance holds. It only ever grows, so
/// it is the high-water mark of everything the instance has held at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryReply {
    pub wasm_bytes: u64,
}

/// This instance's WebAssembly linear memory in bytes (64 KiB pages; 0 natively).
pub fn wasm_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

#[durable_object]
pub struct RunCoordinator {
    state: State,
    env: Env,
    live: async_lock::Mutex<Option<live::Live>>,
}

impl DurableObject for RunCoordinator {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            live: async_lock::Mutex::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let storage = self.state.storage();
        let path = req.path();
        let result: EdgeResult<Response> = match (req.method(), path.as_str()) {
            (Method::Get, "/ping") => {
                let counter: u64 = storage.get(COUNTER_KEY).await?.unwrap_or(0);
                Ok(Response::from_json(&CounterReply { counter })?)
            }
            (Method::Post, "/increment") => {
                let counter = storage.get::<u64>(COUNTER_KEY).await?.unwrap_or(0) + 1;
                storage.put(COUNTER_KEY, counter).await?;
                Ok(Response::from_json(&CounterReply { counter })?)
            }
            (Method::Get, "/memory") => Ok(Response::from_json(&MemoryReply {
                wasm_bytes: wasm_memory_bytes(),
            })?),
            (Method::Post, "/commit") => self.commit(&mut req).await,
            (Method::Post, "/poke") => self.poke(&req, false).await,
            (Method::Post, "/secure") => self.secure(&mut req).await,
            (Method::Post, "/reload") => self.poke(&req, true).await,
            _ => Err(EdgeError::Internal(format!(
                "unknown run object route {path}"
            ))),
        };
        match result {
            Ok(resp) => Ok(resp),
            Err(e) => error_response(&e.into_api_error(&format!("run object {path}"))),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let Some(run_id) = self.state.storage().get::<i64>(RUN_ID_KEY).await? else {
            return Response::ok("no run");
        };
        let mut guard = self.live.lock().await;
        match self.check(&mut guard, run_id).await {
            Ok(closed) => {
                // An alarm that fired a little early (clock granularity) is armed again for
                // the deadline; after it, a round short of uploads waits for the next one.
                // (A secure round's phases arm their own deadlines as `deadline_ms`.)
                let deadline = guard.as_ref().map_or(0, |l| l.deadline_ms);
                if !closed && crate::http::now_ms() < deadline {
                    self.state.storage().set_alarm(at(deadline)).await?;
                }
                worker::console_log!("run {run_id}: deadline alarm, closed: {closed}");
            }
            Err(e) => {
                *guard = None;
                worker::console_error!("run {run_id}: deadline check failed: {e}");
                // Try again shortly rather than leave the round stuck.
                let retry = crate::http::now_ms() + 5_000;
                self.state.storage().set_alarm(at(retry)).await?;
            }
        }
        Response::ok("checked")
    }
}

impl RunCoordinator {
    fn run_id(req: &Request) -> EdgeResult<i64> {
        req.headers()
            .get("x-run-id")?
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| EdgeError::Internal("run object call without x-run-id".into()))
    }

    async fn remember(&self, run_id: i64) -> EdgeResult<()> {
        let storage = self.state.storage();
        if storage.get::<i64>(RUN_ID_KEY).await?.is_none() {
            storage.put(RUN_ID_KEY, run_id).await?;
        }
        Ok(())
    }

    async fn commit(&self, req: &mut Request) -> EdgeResult<Response> {
        let run_id = Self::run_id(req)?;
        self.remember(run_id).await?;
        let meta: CommitMeta =
            serde_json::from_str(&req.headers().get("x-upload")?.unwrap_or_default())?;
        let body = req.bytes().await?;
        let mut guard = self.live.lock().await;
        let result = self.commit_locked(&mut guard, run_id, &meta, &body).await;
        if matches!(
            result,
            Err(EdgeError::Worker(_) | EdgeError::Internal(_) | EdgeError::Json(_))
        ) {
            *guard = None; // rebuild from D1 and R2 on the next call
        }
        let receipt = result?;
        crate::http::json_ok(&receipt, "Upload accepted", 200)
    }

    async fn secure(&self, req: &mut Request) -> EdgeResult<Response> {
        let run_id = Self::run_id(req)?;
        self.remember(run_id).await?;
        let header =
            |name: &str| -> EdgeResult<String> { Ok(req.headers().get(name)?.unwrap_or_default()) };
        let (user_id, round, op) = (header("x-user-id")?, header("x-round")?, header("x-op")?);
        let round: u32 = round
            .parse()
            .map_err(|_| EdgeError::Internal("secure call without a round".into()))?;
        let body = req.bytes().await?;
        let op = match op.as_str() {
            "view" => SecureOp::View,
            "keys" => SecureOp::Keys(serde_json::from_slice(&body)?),
            "shares" => SecureOp::Shares(serde_json::from_slice(&body)?),
            "input" => SecureOp::Input(body),
            "reveal" => SecureOp::Reveal(serde_json::from_slice(&body)?),
            other => return Err(EdgeError::Internal(format!("unknown secure call {other}"))),
        };
        let call = SecureCall { user_id, round, op };
        let mut guard = self.live.lock().await;
        let result = self.secure_call(&mut guard, run_id, &call).await;
        if matches!(
            result,
            Err(EdgeError::Worker(_) | EdgeError::Internal(_) | EdgeError::Json(_))
        ) {
            *guard = None;
        }
        crate::http::json_ok(&result?, "Secure round", 200)
    }

    /// Loads the run (first call after a start), re-checks whether the open round can close
    /// (after an activation change or at creation) and arms the deadline alarm.
    async fn poke(&self, req: &Request, reload: bool) -> EdgeResult<Response> {
        let run_id = Self::run_id(req)?;
        self.remember(run_id).await?;
        let mut guard = self.live.lock().await;
        if reload {
            *guard = None;
        }
        let closed = match self.check(&mut guard, run_id).await {
            Ok(closed) => closed,
            Err(e) => {
                *guard = None;
                return Err(e);
            }
        };
        Ok(Response::from_json(
            &serde_json::json!({ "closed": closed }),
        )?)
    }
}

/// An alarm time as an absolute Unix time in ms (a bare `i64` would be an offset from now).
pub(crate) fn at(unix_ms: i64) -> worker::ScheduledTime {
    worker::ScheduledTime::new(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
        unix_ms as f64,
    )))
}

async fn call(env: &Env, name: &str, path: &str, init: &mut RequestInit) -> EdgeResult<Response> {
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(name)?
        .get_stub()?;
    let req = Request::new_with_init(&format!("https://run.internal{path}"), init)?;
    Ok(stub.fetch_with_request(req).await?)
}

fn headers(run_id: i64) -> EdgeResult<Headers> {
    let h = Headers::new();
    h.set("x-run-id", &run_id.to_string())?;
    Ok(h)
}

/// Hands an upload already stored in R2 to the run's object, which counts it (the receipt)
/// or refuses it (its error, as the object answered it).
pub async fn commit(
    env: &Env,
    run_id: i64,
    meta: &CommitMeta,
    body: Vec<u8>,
) -> EdgeResult<UploadReceipt> {
    let h = headers(run_id)?;
    h.set("x-upload", &serde_json::to_string(meta)?)?;
    let array = js_sys::Uint8Array::from(body.as_slice());
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(h)
        .with_body(Some(array.into()));
    let mut resp = call(env, &run_id.to_string(), "/commit", &mut init).await?;
    let envelope: RawEnvelope<UploadReceipt> = resp.json().await?;
    Ok(envelope.into_result()?)
}

/// A participant's call in a secure round (`op`: view, keys, shares, input, reveal; `body`
/// JSON, or the masked input's bytes), answered with the round as it then sees it.
pub async fn secure(
    env: &Env,
    run_id: i64,
    user_id: &str,
    round: u32,
    op: &str,
    body: Vec<u8>,
) -> EdgeResult<meshfed_shared::api::runs::SecureRound> {
    let h = headers(run_id)?;
    h.set("x-user-id", user_id)?;
    h.set("x-round", &round.to_string())?;
    h.set("x-op", op)?;
    let array = js_sys::Uint8Array::from(body.as_slice());
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(h)
        .with_body(Some(array.into()));
    let mut resp = call(env, &run_id.to_string(), "/secure", &mut init).await?;
    let envelope: RawEnvelope<meshfed_shared::api::runs::SecureRound> = resp.json().await?;
    Ok(envelope.into_result()?)
}

/// Asks the run's object to re-check its open round (and arm its alarm). True if it closed.
pub async fn poke(env: &Env, run_id: i64) -> EdgeResult<bool> {
    poke_path(env, run_id, "/poke").await
}

/// The same after the run's settings changed: the object re-reads the run first.
pub async fn reload(env: &Env, run_id: i64) -> EdgeResult<bool> {
    poke_path(env, run_id, "/reload").await
}

async fn poke_path(env: &Env, run_id: i64, path: &str) -> EdgeResult<bool> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers(run_id)?);
    let mut resp = call(env, &run_id.to_string(), path, &mut init).await?;
    if resp.status_code() != 200 {
        return Err(EdgeError::Internal(format!(
            "run object answered {}",
            resp.status_code()
        )));
    }
    let v: serde_json::Value = resp.json().await?;
    Ok(v["closed"].as_bool().unwrap_or(false))
}

async fn counter_call(
    env: &Env,
    name: &str,
    method: Method,
    path: &str,
) -> EdgeResult<CounterReply> {
    let mut init = RequestInit::new();
    init.with_method(method);
    let mut resp = call(env, name, path, &mut init).await?;
    if resp.status_code() != 200 {
        return Err(EdgeError::Internal(format!(
            "run object answered {}",
            resp.status_code()
        )));
    }
    Ok(resp.json().await?)
}

/// The linear memory of run `run_id`'s object (development probe of its peak).
pub async fn memory(env: &Env, run_id: i64) -> EdgeResult<u64> {
    let mut init = RequestInit::new();
    init.with_method(Method::Get);
    let mut resp = call(env, &run_id.to_string(), "/memory", &mut init).await?;
    let reply: MemoryReply = resp.json().await?;
    Ok(reply.wasm_bytes)
}

/// Reads an object's probe counter without changing it (health check and dev probe).
pub async fn ping(env: &Env, name: &str) -> EdgeResult<u64> {
    Ok(counter_call(env, name, Method::Get, "/ping").await?.counter)
}

/// Adds one to an object's stored probe counter and returns the new value.
pub async fn increment(env: &Env, name: &str) -> EdgeResult<u64> {
    Ok(counter_call(env, name, Method::Post, "/increment")
        .await?
        .counter)
}
