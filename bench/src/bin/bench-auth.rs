//! Identity benchmarks against a real `wrangler dev` (release Worker, loopback only, bounded):
//! 1. Argon2id verification cost inside the Worker: `/api/_dev/bench/kdf` with 10 iterations
//!    against 0, so request overhead cancels out;
//! 2. requests/s and latency of authenticated `GET /api/auth/me` against `GET /api/health`,
//!    side by side, same server, same concurrency.
//!
//! Run after a build (`cargo xtask test` or `cargo xtask dev` builds the Worker):
//! `cargo run --release -p meshfed-bench --bin bench-auth`

use std::time::{Duration, Instant};

use meshfed_e2e::identity::user_with_mfa;
use meshfed_e2e::{server, Ctx};
use serde_json::json;

const CONCURRENCY: usize = 8;
const REQUESTS: usize = 800;

fn main() {
    let (mut srv, ctx) = server::for_benchmark("bench", Duration::from_secs(300));
    let rt = ctx.rt.clone();
    rt.block_on(async {
        let kdf = |n: u32| {
            let ctx = &ctx;
            async move {
                let start = Instant::now();
                let resp = ctx.http.post(ctx.url("/api/_dev/bench/kdf")).json(&json!({"iterations": n})).send().await.unwrap();
                assert_eq!(resp.status(), 200);
                start.elapsed()
            }
        };
        kdf(1).await; // warm up
        let mut per_verify = Vec::new();
        for _ in 0..5 {
            let (zero, ten) = (kdf(0).await, kdf(10).await);
            per_verify.push((ten.as_secs_f64() - zero.as_secs_f64()) * 1000.0 / 10.0);
        }
        per_verify.sort_by(f64::total_cmp);
        println!("argon2id verify in the Worker (m=19 MiB, t=2, p=1): median {:.1} ms, min {:.1} ms, max {:.1} ms (5 samples of 10)",
            per_verify[2], per_verify[0], per_verify[4]);
        let native = Instant::now();
        for _ in 0..10 {
            meshfed_shared::auth::password::verify("benchmark-password", meshfed_shared::auth::password::DUMMY_HASH);
        }
        println!("argon2id verify natively (same parameters): {:.1} ms", native.elapsed().as_secs_f64() * 100.0);

        let user = user_with_mfa(&ctx, "bench").await;
        let token = user.tokens["access_token"].as_str().unwrap().to_string();
        for (name, path, auth) in [("GET /api/health", "/api/health", None), ("GET /api/auth/me", "/api/auth/me", Some(token.clone())),
                                   ("GET /api/health", "/api/health", None), ("GET /api/auth/me", "/api/auth/me", Some(token))] {
            let (rate, p50, p99) = load(&ctx, path, auth).await;
            println!("{name:<18} {rate:>7.0} req/s  p50 {p50:>6.1} ms  p99 {p99:>6.1} ms  ({REQUESTS} requests, {CONCURRENCY} concurrent)");
        }
    });
    assert!(srv.stop());
    server::remove_run_dirs();
}

async fn load(ctx: &Ctx, path: &str, auth: Option<String>) -> (f64, f64, f64) {
    let url = ctx.url(path);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, url, auth) = (ctx.http.clone(), url.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for _ in 0..REQUESTS / CONCURRENCY {
                let t = Instant::now();
                let mut req = http.get(&url);
                if let Some(token) = &auth {
                    req = req.bearer_auth(token);
                }
                let resp = req.send().await.unwrap();
                assert_eq!(resp.status(), 200);
                resp.bytes().await.unwrap();
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        all.len() as f64 / elapsed,
        ms(all[all.len() / 2]),
        ms(all[all.len() * 99 / 100]),
    )
}
