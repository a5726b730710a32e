//! Edge round benchmarks against a real `wrangler dev` (release Worker, loopback): 32
//! participants upload concurrently to one run, round after round, for a model5-sized model
//! (5,598 parameters) and a 1M-parameter MeshNet, side by side in one run. Prints uploads/s,
//! p50/p99 upload latency, and the time from sending the upload that closes a round to
//! having downloaded the aggregate.
//!
//! `cargo run --release -p meshfed-e2e --bin bench-rounds` after a build.

use std::sync::Arc;
use std::time::{Duration, Instant};

use meshfed_e2e::runs::{create_run, participants, put_tensors, safetensors_of, token, values};
use meshfed_e2e::{server, Ctx};
use meshfed_shared::meshnet::ModelConfig;
use serde_json::json;

const USERS: usize = 32;
const ROUNDS: u32 = 3;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    xtask::process::stop_groups_on_signal();
    let state = server::fresh_state_dir("bench-rounds");
    let vars = [("RATE_LIMIT_MULTIPLIER", "1000000")];
    let mut srv = server::start_with(&state, None, &vars).expect("server starts");
    let rt = Arc::new(tokio::runtime::Runtime::new().unwrap());
    let ctx = Ctx {
        base: srv.base_url(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap(),
        rt: rt.clone(),
        webdriver: String::new(),
    };
    rt.block_on(async {
        let users = participants(&ctx, "bench", USERS).await;
        let tokens: Vec<String> = users.iter().map(token).collect();
        let others: Vec<_> = users[1..].iter().collect();
        let wide = ModelConfig {
            channels: 68,
            ..ModelConfig::model5(3)
        };
        println!(
            "{USERS} participants, {ROUNDS} rounds each, concurrent uploads of safetensors F32"
        );
        println!(
            "{:<22} {:>10} {:>10} {:>9} {:>9} {:>9} {:>14}",
            "model", "params", "bytes", "uploads/s", "p50 ms", "p99 ms", "close→model ms"
        );
        for (name, model) in [
            ("model5", ModelConfig::model5(3)),
            ("1M (68 channels)", wide.clone()),
            ("model5", ModelConfig::model5(3)),
        ] {
            let run = create_run(&ctx, &users[0], &others, json!({"model": model})).await;
            let bodies: Vec<Vec<u8>> = (0..USERS)
                .map(|i| safetensors_of(&model, &values(i as u64, model.parameter_count())))
                .collect();
            let mut latencies = vec![];
            let mut closing = vec![];
            let mut busy = 0.0;
            for round in 1..=ROUNDS {
                let started = Instant::now();
                let puts = tokens.iter().zip(&bodies).map(|(t, b)| {
                    let ctx = &ctx;
                    async move {
                        let sent = Instant::now();
                        let (status, body) =
                            put_tensors(ctx, t, run, round, "weights", b.clone(), 10).await;
                        assert_eq!(status, 200, "{body}");
                        (
                            sent,
                            sent.elapsed().as_secs_f64(),
                            body["data"]["closed"] == true,
                        )
                    }
                });
                let answers = futures_util::future::join_all(puts).await;
                let (sent, _, _) = answers
                    .iter()
                    .find(|a| a.2)
                    .copied()
                    .expect("one upload closed the round");
                let resp = ctx
                    .http
                    .get(ctx.url(&format!("/api/runs/{run}/model")))
                    .bearer_auth(&tokens[0])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.headers()["x-meshfed-round"], (round + 1).to_string());
                resp.bytes().await.unwrap();
                closing.push(sent.elapsed().as_secs_f64() * 1000.0);
                busy += started.elapsed().as_secs_f64();
                latencies.extend(answers.iter().map(|a| a.1 * 1000.0));
            }
            latencies.sort_by(f64::total_cmp);
            closing.sort_by(f64::total_cmp);
            println!(
                "{name:<22} {:>10} {:>10} {:>9.1} {:>9.1} {:>9.1} {:>14.1}",
                model.parameter_count(),
                bodies[0].len(),
                (USERS as u32 * ROUNDS) as f64 / busy,
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
                percentile(&closing, 0.5),
            );
        }
    });
    assert!(srv.stop(), "server stopped");
}
