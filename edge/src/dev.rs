//! Development-only routes under `/api/_dev/` (404 unless `ENVIRONMENT = "development"`;
//! the route table serves them).
//! They let the end-to-end tests exercise each binding and the error paths directly:
//! - `POST /api/_dev/probe/{key}` `{"note": "…"}` writes the note to D1 and R2 and bumps the
//!   Durable Object counter named after the key;
//! - `GET /api/_dev/probe/{key}` reads all three back without changing them;
//! - `GET /api/_dev/outbox?to=ADDRESS` lists the mail sent to that address, newest first;
//! - `GET /api/_dev/objects?prefix=P` lists the R2 keys under `P` (what garbage is left);
//! - `GET /api/_dev/object?key=K` answers the R2 object's bytes (what a blob really holds);
//! - `GET /api/_dev/rows` counts the rows of the tables the hourly sweep deletes from;
//! - `POST /api/_dev/sweep` `{"at_ms": n}` runs that sweep as if at time `n`;
//! - `POST /api/_dev/bench/kdf` `{"iterations": n}` runs n Argon2id verifications (timed
//!   from outside by the benchmark, since a Worker's clock stands still while it computes);
//! - `GET /api/_dev/memory?run=ID` answers the WebAssembly linear memory of the Worker's
//!   instance and of run ID's object (each only grows: the peak so far);
//! - `GET /api/_dev/fail` fails inside the server (the 500 path).

use meshfed_shared::ApiError;
use serde::{Deserialize, Serialize};
use worker::{Env, Request, Response};

use crate::config::Config;
use crate::error::{EdgeError, EdgeResult};
use crate::http::{json_ok, now_ms, read_json};
use crate::run_object;
use crate::store::{self, dev_outbox};

#[derive(Debug, Deserialize)]
struct SweepAt {
    at_ms: i64,
}

#[derive(Debug, Deserialize)]
struct ProbeWrite {
    note: String,
}

/// What the three bindings hold for one probe key.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ProbeState {
    pub key: String,
    /// The note stored in D1, if any.
    pub d1_note: Option<String>,
    /// Size of the R2 object, if it exists.
    pub r2_bytes: Option<u64>,
    /// The Durable Object's stored counter.
    pub counter: u64,
}

/// `GET /api/_dev/probe/{key}`.
pub async fn probe(env: &Env, key: &str) -> EdgeResult<Response> {
    let key = valid_key(key)?;
    let counter = run_object::ping(env, &do_name(key)).await?;
    json_ok(&read_probe(env, key, counter).await?, "Probe read", 200)
}

/// `POST /api/_dev/probe/{key}`.
pub async fn write(mut req: Request, env: &Env, cfg: &Config, key: &str) -> EdgeResult<Response> {
    let key = valid_key(key)?;
    let body: ProbeWrite = read_json(&mut req, cfg.max_body_bytes).await?;
    write_probe(env, key, &body.note).await?;
    let counter = run_object::increment(env, &do_name(key)).await?;
    json_ok(&read_probe(env, key, counter).await?, "Probe written", 201)
}

/// `GET /api/_dev/rows`.
pub async fn rows(_req: Request, env: &Env, _cfg: &Config) -> EdgeResult<Response> {
    let counts = crate::store::sweep::counts(&crate::store::db(env)?).await?;
    json_ok(&per_table(counts), "Row counts", 200)
}

/// `POST /api/_dev/sweep`.
pub async fn sweep(mut req: Request, env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let body: SweepAt = read_json(&mut req, cfg.max_body_bytes).await?;
    let swept = crate::housekeeping::sweep(env, body.at_ms).await?;
    json_ok(&per_table(swept), "Swept", 200)
}

/// `GET /api/_dev/objects?prefix=P`.
pub async fn objects(req: Request, env: &Env, _cfg: &Config) -> EdgeResult<Response> {
    let prefix = query(&req, "prefix", "the R2 key prefix to list")?;
    let keys = crate::blobs::list(env, &prefix).await?;
    json_ok(&serde_json::json!({ "keys": keys }), "R2 objects", 200)
}

/// `GET /api/_dev/object?key=K`.
pub async fn object(req: Request, env: &Env, _cfg: &Config) -> EdgeResult<Response> {
    let key = query(&req, "key", "the R2 key to read")?;
    let bytes = crate::blobs::get(env, &key).await?;
    Ok(Response::from_bytes(bytes)?)
}

/// `GET /api/_dev/memory?run=ID`.
pub async fn memory(req: Request, env: &Env, _cfg: &Config) -> EdgeResult<Response> {
    let run_id: i64 = query(&req, "run", "the run whose object to ask")?
        .parse()
        .map_err(|_| ApiError::invalid_field("run", "the run whose object to ask"))?;
    let object = run_object::memory(env, run_id).await?;
    let memory = serde_json::json!({
        "worker_wasm_bytes": run_object::wasm_memory_bytes(),
        "object_wasm_bytes": object,
    });
    json_ok(&memory, "Linear memory", 200)
}

/// `GET /api/_dev/fail`: the 500 path.
pub async fn fail(_req: Request, _env: &Env, _cfg: &Config) -> EdgeResult<Response> {
    Err(EdgeError::Internal(
        "deliberate failure: secret-internal-detail must not reach the client".into(),
    ))
}

/// The query parameter `name`, else 400 explaining it as `what`.
fn query(req: &Request, name: &str, what: &str) -> EdgeResult<String> {
    req.url()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| ApiError::invalid_field(name, what).into())
}

/// `{"table": rows, …}`.
fn per_table(
    rows: crate::store::sweep::TableRows,
) -> std::collections::BTreeMap<&'static str, usize> {
    rows.into_iter().collect()
}

fn valid_key(key: &str) -> EdgeResult<&str> {
    let ok = (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(key)
    } else {
        Err(ApiError::invalid_field("key", "1-64 letters, digits, '-' or '_'").into())
    }
}

fn do_name(key: &str) -> String {
    format!("_dev-probe-{key}")
}

fn r2_key(key: &str) -> String {
    format!("_dev/probe/{key}")
}

async fn write_probe(env: &Env, key: &str, note: &str) -> EdgeResult<()> {
    let db = store::db(env)?;
    store::meta::set(&db, &format!("probe:{key}"), note, now_ms()).await?;
    env.bucket("BLOBS")?
        .put(r2_key(key), note.as_bytes().to_vec())
        .execute()
        .await?;
    Ok(())
}

async fn read_probe(env: &Env, key: &str, counter: u64) -> EdgeResult<ProbeState> {
    let d1_note = store::meta::get(&store::db(env)?, &format!("probe:{key}")).await?;
    let r2_bytes = env
        .bucket("BLOBS")?
        .head(r2_key(key))
        .await?
        .map(|o| o.size());
    Ok(ProbeState {
        key: key.into(),
        d1_note,
        r2_bytes,
        counter,
    })
}

/// `GET /api/_dev/outbox?to=ADDRESS`.
pub async fn outbox(req: Request, env: &Env, _cfg: &Config) -> EdgeResult<Response> {
    let to = req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == "to")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_field("to", "the address whose mail to list"))?;
    let messages = dev_outbox::to(&store::db(env)?, to.trim()).await?;
    json_ok(&messages, "Development outbox", 200)
}

/// `POST /api/_dev/bench/kdf`.
pub async fn bench_kdf(mut req: Request, _env: &Env, cfg: &Config) -> EdgeResult<Response> {
    #[derive(Deserialize)]
    struct Bench {
        iterations: u32,
    }
    let body: Bench = read_json(&mut req, cfg.max_body_bytes).await?;
    let n = body.iterations.min(50);
    let mut matched = 0;
    for _ in 0..n {
        let pw = meshfed_shared::auth::password::DUMMY_HASH;
        matched += u32::from(meshfed_shared::auth::password::verify(
            "benchmark-password",
            pw,
        ));
    }
    json_ok(
        &serde_json::json!({"iterations": n, "matched": matched}),
        "KDF benchmark",
        200,
    )
}
