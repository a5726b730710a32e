//! `/api/runs/…`: creating and reading runs, activation, uploads of weights and gradients,
//! and downloads of global models and averaged gradients. Every route checks that the caller
//! takes part in the run (403 otherwise, 404 for a missing run).

mod access;
mod create;
mod download;
mod parts;
mod secure;
mod upload;
mod view;

pub use access::{caller_any_token, load_member, Member};
pub use create::create_run;
pub use download::{latest_gradients, wait_for_round, DEFAULT_WAIT_SECS};
pub use parts::sweep_abandoned;
pub use upload::{accept, upload_limit};
pub use view::{set_activity, summaries};

use meshfed_shared::api::runs::UploadKind;
use worker::{Env, Method, Request, Response};

use crate::config::Config;
use crate::error::EdgeResult;

/// Routes under `/api/runs`; `None` when nothing matches (the router answers 404/405).
pub async fn dispatch(
    req: Request,
    env: &Env,
    cfg: &Config,
    rest: &[&str],
) -> Option<EdgeResult<Response>> {
    let method = req.method();
    let id = |s: &str| access::parse_id(s, "run id");
    let round = |s: &str| access::parse_id(s, "round").map(|r| r as u32);
    let at = |run: &str, r: &str, kind: &str| -> EdgeResult<(i64, u32, UploadKind)> {
        let kind = UploadKind::parse(kind).unwrap_or(UploadKind::Weights);
        Ok((id(run)?, round(r)?, kind))
    };
    Some(match (method, rest) {
        (Method::Get, []) => view::list(req, env, cfg).await,
        (Method::Post, []) => create::post(req, env, cfg).await,
        (Method::Get, [run]) => match id(run) {
            Ok(run) => view::detail(req, env, cfg, run).await,
            Err(e) => Err(e),
        },
        (Method::Patch, [run]) => match id(run) {
            Ok(run) => view::update(req, env, cfg, run).await,
            Err(e) => Err(e),
        },
        (Method::Post, [run, "activate"]) => match id(run) {
            Ok(run) => view::activate(req, env, cfg, run).await,
            Err(e) => Err(e),
        },
        (Method::Get, [run, "model"]) => match id(run) {
            Ok(run) => download::model(req, env, cfg, run, None).await,
            Err(e) => Err(e),
        },
        (Method::Get, [run, "rounds", r, "model"]) => match (id(run), round(r)) {
            (Ok(run), Ok(r)) => download::model(req, env, cfg, run, Some(r)).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        (Method::Put, [run, "rounds", r, kind @ ("weights" | "gradients")]) => {
            match (id(run), round(r)) {
                (Ok(run), Ok(r)) => upload::put(req, env, cfg, run, r, kind).await,
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        (Method::Post, [run, "rounds", r, kind @ ("weights" | "gradients"), "parts"]) => {
            match at(run, r, kind) {
                Ok(at) => parts::start(req, env, cfg, at).await,
                Err(e) => Err(e),
            }
        }
        (Method::Put, [run, "rounds", r, kind @ ("weights" | "gradients"), "parts", up, n]) => {
            match at(run, r, kind) {
                Ok(at) => parts::put_part(req, env, cfg, at, up, n).await,
                Err(e) => Err(e),
            }
        }
        (
            Method::Post,
            [run, "rounds", r, kind @ ("weights" | "gradients"), "parts", up, "complete"],
        ) => match at(run, r, kind) {
            Ok(at) => parts::complete(req, env, cfg, at, up).await,
            Err(e) => Err(e),
        },
        (Method::Get, [run, "rounds", r, "secure"]) => match (id(run), round(r)) {
            (Ok(run), Ok(r)) => secure::call(req, env, cfg, run, r, None).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        (Method::Post, [run, "rounds", r, "secure", op @ ("keys" | "shares" | "reveal")])
        | (Method::Put, [run, "rounds", r, "secure", op @ "input"]) => match (id(run), round(r)) {
            (Ok(run), Ok(r)) => secure::call(req, env, cfg, run, r, Some(op)).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        (Method::Get, [run, "rounds", r, "gradients", "avg"]) => match (id(run), round(r)) {
            (Ok(run), Ok(r)) => download::gradients_avg(req, env, cfg, run, r).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        _ => return None,
    })
}
