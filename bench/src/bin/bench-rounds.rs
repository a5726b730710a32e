//! Edge round load benchmark against a real `wrangler dev` (release Worker, loopback): many
//! participants upload concurrently to one run, 3 rounds each, for a model5-sized model
//! (5,598 parameters, 64 participants) and a 1M-parameter MeshNet (8 participants),
//! side by side in one run. Prints uploads/s, p50/p99 upload latency, and the time from
//! sending the upload that closes a round to having downloaded the aggregate. Nothing may
//! be lost: every upload must answer 200, and every round's history and aggregate must
//! equal the mean of all its uploads (else the benchmark fails).
//!
//! `cargo run --release -p meshfed-bench --bin bench-rounds` after a build.

use std::time::{Duration, Instant};

use meshfed_e2e::runs::{
    assert_close, create_run, participants, put_tensors, reference, run_detail, safetensors_of,
    token, values,
};
use meshfed_e2e::{server, Ctx};
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::tensor::safetensors;
use serde_json::json;

const ROUNDS: u32 = 3;
const NUM_EXAMPLES: u64 = 10;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let (mut srv, ctx) = server::for_benchmark("bench-rounds", Duration::from_secs(300));
    let rt = ctx.rt.clone();
    rt.block_on(async {
        let everyone = participants(&ctx, "bench", 64).await;
        let wide = ModelConfig {
            channels: 68,
            ..ModelConfig::model5(3)
        };
        println!("{ROUNDS} rounds a run, concurrent uploads of safetensors F32");
        println!(
            "{:<18} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>14}",
            "model", "users", "params", "bytes", "uploads/s", "p50 ms", "p99 ms", "close→model ms"
        );
        for (name, model, users) in [
            ("model5", ModelConfig::model5(3), 64),
            ("1M (68 channels)", wide, 8),
        ] {
            let users = &everyone[..users];
            let tokens: Vec<String> = users.iter().map(token).collect();
            let others: Vec<_> = users[1..].iter().collect();
            let run = create_run(&ctx, &users[0], &others, json!({"model": model})).await;
            let uploads: Vec<(Vec<f32>, f64)> = (0..users.len())
                .map(|i| (values(i as u64, model.parameter_count()), 1.0))
                .collect();
            let bodies: Vec<Vec<u8>> = uploads
                .iter()
                .map(|(v, _)| safetensors_of(&model, v))
                .collect();
            let expected = reference(&uploads);
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
                            put_tensors(ctx, t, run, round, "weights", b.clone(), NUM_EXAMPLES)
                                .await;
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
                let bytes = resp.bytes().await.unwrap();
                closing.push(sent.elapsed().as_secs_f64() * 1000.0);
                busy += started.elapsed().as_secs_f64();
                assert_round_whole(&ctx, &tokens[0], run, round, users.len()).await;
                let file = safetensors::read(&bytes).expect("a safetensors model");
                assert_close(&model.flatten_named(&file.tensors).unwrap(), &expected);
                latencies.extend(answers.iter().map(|a| a.1 * 1000.0));
            }
            latencies.sort_by(f64::total_cmp);
            closing.sort_by(f64::total_cmp);
            println!(
                "{name:<18} {:>6} {:>9} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>14.1}",
                users.len(),
                model.parameter_count(),
                bodies[0].len(),
                (users.len() as u32 * ROUNDS) as f64 / busy,
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
                percentile(&closing, 0.5),
            );
        }
    });
    println!("no upload refused or lost: every round's aggregate is the mean of all its uploads");
    assert!(srv.stop(), "server stopped");
}

/// The closed round's history counts every upload once.
async fn assert_round_whole(ctx: &Ctx, token: &str, run: i64, round: u32, users: usize) {
    let detail = run_detail(ctx, token, run).await;
    let record = detail["history"]
        .as_array()
        .and_then(|h| h.iter().find(|r| r["round"] == round))
        .expect("the closed round in the history");
    assert_eq!(record["metrics"]["uploads"], users, "{record}");
    assert_eq!(
        record["metrics"]["num_examples"],
        users as u64 * NUM_EXAMPLES,
        "{record}"
    );
}
