//! Memory of a round's close in the Worker: 32 participants upload a 1M-parameter MeshNet
//! (or `CHANNELS` wide; one at a time, so no upload's decoding overlaps another's) to a
//! median run, a trimmed-mean run and a FedAvg run, against a real `wrangler dev`. Before the
//! last upload and after it closed the round, the benchmark reads the WebAssembly linear
//! memory of the Worker's instance and of the run's Durable Object (`GET /api/_dev/memory`):
//! linear memory only grows, so the figure after the close is the peak of everything the
//! instance held at once. The uploads alone are 32 × 4 MB = 128 MB; the target is a peak under
//! 64 MB. Each aggregate is checked against one computed here.
//!
//! `cargo run --release -p meshfed-bench --bin bench-median-memory [CHANNELS]` after a build.

use std::time::Duration;

use meshfed_e2e::runs::{
    create_run, participants, put_tensors, safetensors_of, send, token, values,
};
use meshfed_e2e::{server, Ctx};
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::tensor::safetensors;
use serde_json::{json, Value};

const USERS: usize = 32;
const TARGET_MB: f64 = 64.0;

fn mb(bytes: &Value) -> f64 {
    bytes.as_f64().expect("a byte count") / (1 << 20) as f64
}

/// Coordinate-wise median (`trim` 0), trimmed mean, or (`None`) mean of `uploads`, in f64.
fn robust(uploads: &[Vec<f32>], trim: Option<usize>) -> Vec<f32> {
    let n = uploads.len();
    let mut column = vec![0f32; n];
    (0..uploads[0].len())
        .map(|i| {
            for (c, u) in column.iter_mut().zip(uploads) {
                *c = u[i];
            }
            column.sort_by(f32::total_cmp);
            let Some(trim) = trim else {
                return (column.iter().map(|&v| v as f64).sum::<f64>() / n as f64) as f32;
            };
            if trim == 0 {
                ((column[(n - 1) / 2] as f64 + column[n / 2] as f64) / 2.0) as f32
            } else {
                let kept = &column[trim..n - trim];
                (kept.iter().map(|&v| v as f64).sum::<f64>() / kept.len() as f64) as f32
            }
        })
        .collect()
}

fn main() {
    let (mut srv, ctx) = server::for_benchmark("bench-median-memory", Duration::from_secs(300));
    // `bench-median-memory [CHANNELS]`: 68 channels make 1M parameters.
    let channels = std::env::args()
        .nth(1)
        .map_or(68, |c| c.parse().expect("CHANNELS is a number"));
    let model = ModelConfig {
        channels,
        ..ModelConfig::model5(3)
    };
    let p = model.parameter_count();
    let uploads: Vec<Vec<f32>> = (0..USERS).map(|i| values(i as u64 + 7, p)).collect();
    println!(
        "{USERS} uploads of {p} parameters ({:.0} MB as f32), sent one at a time",
        (USERS * p * 4) as f64 / (1 << 20) as f64
    );
    println!(
        "{:<14} {:>22} {:>22} {:>12}",
        "aggregation", "before last upload MB", "after the close MB", "aggregate"
    );
    ctx.rt.clone().block_on(async {
        let users = participants(&ctx, "memory", USERS).await;
        let tokens: Vec<String> = users.iter().map(token).collect();
        let others: Vec<_> = users[1..].iter().collect();
        let mut peak: f64 = 0.0;
        for (aggregation, trim_fraction, trim) in [
            ("median", 0.0, Some(0)),
            ("trimmed_mean", 0.1, Some(USERS / 10)),
            ("fedavg", 0.0, None),
        ] {
            let settings = json!({"model": model, "aggregation": aggregation,
                                  "trim_fraction": trim_fraction});
            let run = create_run(&ctx, &users[0], &others, settings).await;
            for (i, (t, values)) in tokens.iter().zip(&uploads).enumerate() {
                if i == USERS - 1 {
                    let before = memory(&ctx, &tokens[0], run).await;
                    print!(
                        "{aggregation:<14} {:>10.1} / {:>9.1} ",
                        mb(&before["worker_wasm_bytes"]),
                        mb(&before["object_wasm_bytes"])
                    );
                }
                let body = safetensors_of(&model, values);
                let (status, answer) = put_tensors(&ctx, t, run, 1, "weights", body, 10).await;
                assert_eq!(status, 200, "{answer}");
                assert_eq!(answer["data"]["closed"], i == USERS - 1, "{answer}");
            }
            let after = memory(&ctx, &tokens[0], run).await;
            let got = download(&ctx, &tokens[0], run, &model).await;
            let expected = robust(&uploads, trim);
            let exact = got
                .iter()
                .zip(&expected)
                .all(|(g, e)| (g - e).abs() <= 1e-6 * e.abs().max(1e-6));
            assert!(
                exact,
                "{aggregation}: the aggregate differs from the reference"
            );
            let (worker, object) = (
                mb(&after["worker_wasm_bytes"]),
                mb(&after["object_wasm_bytes"]),
            );
            peak = peak.max(worker).max(object);
            println!("{worker:>10.1} / {object:>9.1} {:>12}", "exact");
        }
        let verdict = if channels == 68 {
            let under = if peak < TARGET_MB { "under" } else { "OVER" };
            format!("{under} the {TARGET_MB} MB target for 1M parameters")
        } else {
            format!("{:.2}× of the isolate's 128 MB", peak / 128.0)
        };
        println!("(worker / object instance) peak linear memory {peak:.1} MB: {verdict}");
    });
    assert!(srv.stop(), "server stopped");
}

async fn memory(ctx: &Ctx, token: &str, run: i64) -> Value {
    let path = format!("/api/_dev/memory?run={run}");
    let (status, body) = send(ctx, reqwest::Method::GET, &path, token, None).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

async fn download(ctx: &Ctx, token: &str, run: i64, model: &ModelConfig) -> Vec<f32> {
    let resp = ctx
        .http
        .get(ctx.url(&format!("/api/runs/{run}/model")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-meshfed-round"], "2");
    let bytes = resp.bytes().await.unwrap();
    let file = safetensors::read(&bytes).expect("a safetensors model");
    model.flatten_named(&file.tensors).expect("the run's model")
}
