//! The per-run Durable Object. For now it answers a ping and keeps a counter in its storage;
//! the rounds work makes it serialise uploads and keep each round's running sums.

use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Method, Request, Response, State};

use crate::error::{EdgeError, EdgeResult};

pub const BINDING: &str = "RUNS";
const COUNTER_KEY: &str = "counter";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterReply {
    pub counter: u64,
}

#[durable_object]
pub struct RunCoordinator {
    state: State,
}

impl DurableObject for RunCoordinator {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        let storage = self.state.storage();
        let counter: u64 = storage.get(COUNTER_KEY).await?.unwrap_or(0);
        match (req.method(), req.path().as_str()) {
            (Method::Get, "/ping") => Response::from_json(&CounterReply { counter }),
            (Method::Post, "/increment") => {
                let counter = counter + 1;
                storage.put(COUNTER_KEY, counter).await?;
                Response::from_json(&CounterReply { counter })
            }
            _ => Response::error("unknown Durable Object route", 404),
        }
    }
}

async fn call(env: &Env, name: &str, method: Method, path: &str) -> EdgeResult<CounterReply> {
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(name)?
        .get_stub()?;
    let req = Request::new(&format!("https://run.internal{path}"), method)?;
    let mut resp = stub.fetch_with_request(req).await?;
    if resp.status_code() != 200 {
        return Err(EdgeError::Internal(format!(
            "run object answered {}",
            resp.status_code()
        )));
    }
    Ok(resp.json().await?)
}

/// Reads the object's counter without changing it.
pub async fn ping(env: &Env, name: &str) -> EdgeResult<u64> {
    Ok(call(env, name, Method::Get, "/ping").await?.counter)
}

/// Adds one to the object's stored counter and returns the new value.
pub async fn increment(env: &Env, name: &str) -> EdgeResult<u64> {
    Ok(call(env, name, Method::Post, "/increment").await?.counter)
}
