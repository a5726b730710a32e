//! Differential privacy against the real Worker: two `meshfed join` participants clip and
//! noise their updates under a DP plan, the run reports the ε its closed rounds spent (the
//! accountant's figure for σ 2, δ 1e-5 matches Google's dp-accounting), and once the budget
//! is spent no upload counts. The refusals a DP run needs are attacked here too.

use meshfed_e2e::participant::join_all;
use meshfed_e2e::runs::*;
use meshfed_e2e::Ctx;
use meshfed_shared::meshnet::ModelConfig;
use reqwest::Method;
use serde_json::json;

const SIGMA: f64 = 2.0;
const CLIP: f64 = 0.005;

pub fn participants_noise_their_updates_and_the_budget_ends_the_run(ctx: &Ctx) {
    let model: ModelConfig = serde_json::from_value(
        json!({"channels": 3, "dilations": [1, 2, 1], "classes": 3, "batch_norm": true}),
    )
    .unwrap();
    // dp-accounting 0.6.0: σ 2 at δ 1e-5 spends ε 2.1657, 3.1890, 4.0113 in 1, 2, 3 rounds.
    let dp = json!({"noise_multiplier": SIGMA, "clip_norm": CLIP, "delta": 1e-5,
        "epsilon_budget": 3.5});
    let plan = json!({"local_steps": 2, "patch": 16, "batch": 1, "learning_rate": 3e-3,
        "schedule": {"kind": "constant"}, "fix_batch_norm_from": null, "dp": dp});
    let (users, run, initial) = ctx.block_on(async {
        let users = participants(ctx, "dp", 2).await;
        let weighted = json!({"name": "dp", "model": model, "plan": plan});
        let (status, body) = send(
            ctx,
            Method::POST,
            "/api/runs",
            &token(&users[0]),
            Some(weighted),
        )
        .await;
        assert_eq!(status, 422, "DP with FedAvg's weights: {body}");
        assert_eq!(body["error"]["details"]["field"], "aggregation", "{body}");
        let body = json!({"model": model, "round_timeout_secs": 600, "aggregation": "mean",
            "plan": plan});
        let run = create_run(ctx, &users[0], &[&users[1]], body).await;
        let detail = run_detail(ctx, &token(&users[1]), run).await;
        let privacy = &detail["privacy"];
        assert_eq!(privacy["epsilon"], 0.0, "{privacy}");
        assert_eq!(privacy["last_round"], 2, "{privacy}");
        for change in [
            json!({"dp": null}),
            json!({"dp": {"noise_multiplier": 0.5,
            "clip_norm": CLIP, "delta": 1e-5}}),
        ] {
            let path = format!("/api/runs/{run}");
            let (status, body) = send(
                ctx,
                Method::PATCH,
                &path,
                &token(&users[0]),
                Some(json!({ "plan": change })),
            )
            .await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(body["error"]["details"]["field"], "plan.dp", "{body}");
        }
        let initial = current_model(ctx, &token(&users[0]), run, &model).await;
        (users, run, initial)
    });
    let dir = std::env::temp_dir().join(format!("meshfed-dp-{run}"));
    join_all(ctx, &users, run, &dir, 2);
    ctx.block_on(async {
        let detail = run_detail(ctx, &token(&users[1]), run).await;
        assert_eq!(detail["current_round"], 3, "{detail}");
        let privacy = &detail["privacy"];
        let epsilon = privacy["epsilon"].as_f64().unwrap();
        assert!((epsilon - 3.1889915626335874).abs() < 1e-3, "{privacy}");
        assert_eq!(privacy["rounds_closed"], 2, "{privacy}");
        // Each round's mean carries noise of σC/√2 per value from two participants: over two
        // rounds the model moved by about σC·√P, plus at most C per round of real update.
        let global = current_model(ctx, &token(&users[1]), run, &model).await;
        let moved = global
            .iter()
            .zip(&initial)
            .map(|(g, i)| ((g - i) as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        let noise = SIGMA * CLIP * (global.len() as f64).sqrt();
        assert!(
            moved > 0.85 * noise - 2.0 * CLIP && moved < 1.15 * noise + 2.0 * CLIP,
            "moved {moved}, noise alone {noise}: the participants did not add σC noise"
        );
        // Round 3 would take ε to 4.01, past the budget: refused, and nothing counts.
        let body = safetensors_of(&model, &global);
        let (status, refusal) =
            put_tensors(ctx, &token(&users[0]), run, 3, "weights", body, 10).await;
        assert_eq!(status, 409, "{refusal}");
        let message = refusal["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("privacy budget is spent"), "{refusal}");
        assert_eq!(refusal["error"]["details"]["privacy"]["last_round"], 2);
        let detail = run_detail(ctx, &token(&users[1]), run).await;
        assert_eq!(detail["round"]["uploads"], 0, "{detail}");
    });
    let _ = std::fs::remove_dir_all(&dir);
}
