//! `GET /api/health`: version and a live check of D1, R2 and the run Durable Object.

use meshfed_shared::health::{BindingCheck, HealthReport};
use meshfed_shared::{ApiError, ErrorCode};
use worker::{Env, Response};

use crate::config::Config;
use crate::error::{EdgeError, EdgeResult};
use crate::http::{json_ok, now_ms};
use crate::run_object;
use crate::store;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn get(env: &Env, cfg: &Config) -> EdgeResult<Response> {
    let (d1, r2, durable_object) = futures_util::join!(
        timed("d1", check_d1(env)),
        timed("r2", check_r2(env)),
        timed("durable_object", check_durable_object(env))
    );
    let report = HealthReport::new(VERSION, &cfg.environment, vec![d1, r2, durable_object]);
    if report.is_ok() {
        return json_ok(&report, "Meshfed is healthy", 200);
    }
    let details = serde_json::to_value(&report)?;
    Err(
        ApiError::new(ErrorCode::ServiceUnavailable, "A binding check failed")
            .with_details(details)
            .into(),
    )
}

async fn timed(
    name: &str,
    check: impl std::future::Future<Output = EdgeResult<()>>,
) -> BindingCheck {
    let start = now_ms();
    let outcome = check.await;
    let latency_ms = (now_ms() - start) as f64;
    let error = outcome.err().map(|e| {
        // The log keeps the cause; the report says only which binding failed.
        worker::console_error!("health check {name} failed: {e}");
        "check failed (see the Worker log)".to_string()
    });
    BindingCheck {
        name: name.into(),
        ok: error.is_none(),
        latency_ms,
        error,
    }
}

/// The first migration writes `schema_version`; reading it proves D1 is bound and migrated.
async fn check_d1(env: &Env) -> EdgeResult<()> {
    let version = store::meta::schema_version(&store::db(env)?).await?;
    version
        .map(|_| ())
        .ok_or_else(|| EdgeError::Internal("D1 not migrated".into()))
}

async fn check_r2(env: &Env) -> EdgeResult<()> {
    env.bucket("BLOBS")?.head("_health/probe").await?;
    Ok(())
}

async fn check_durable_object(env: &Env) -> EdgeResult<()> {
    run_object::ping(env, "_health").await.map(|_| ())
}
