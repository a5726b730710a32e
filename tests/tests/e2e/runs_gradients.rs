//! Synchronous SGD: a run whose plan collects gradients; the average long-polls until the
//! round is complete, and a gradients round keeps the global model.

use meshfed_e2e::runs::*;
use meshfed_e2e::Ctx;
use meshfed_shared::meshnet::ModelConfig;
use reqwest::Method;
use serde_json::json;

fn model5() -> ModelConfig {
    ModelConfig::model5(3)
}

pub fn gradients_long_poll_until_the_round_is_complete(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "grad", 2).await;
        let body = json!({"aggregation": "mean", "plan": {"uploads": "gradients"}});
        let run = create_run(ctx, &users[0], &[&users[1]], body).await;
        let m = model5();
        let (g0, g1) = (values(21, 5598), values(22, 5598));
        let (s, _) = put_tensors(
            ctx,
            &token(&users[0]),
            run,
            1,
            "gradients",
            safetensors_of(&m, &g0),
            1,
        )
        .await;
        assert_eq!(s, 200);
        let (t0, avg_path) = (
            token(&users[0]),
            format!("/api/runs/{run}/rounds/1/gradients/avg"),
        );
        let waiting = download(ctx, &t0, &avg_path, &m);
        let late = async {
            tokio::time::sleep(std::time::Duration::from_millis(800)).await;
            put_tensors(
                ctx,
                &token(&users[1]),
                run,
                1,
                "gradients",
                safetensors_of(&m, &g1),
                1,
            )
            .await
        };
        let (avg, (s, _)) = tokio::join!(waiting, late);
        assert_eq!(s, 200);
        assert_close(&avg, &reference(&[(g0.clone(), 1.0), (g1, 1.0)]));
        // A gradients round keeps the global model; weights go to the next round, not this one.
        let initial = download(
            ctx,
            &token(&users[0]),
            &format!("/api/runs/{run}/rounds/1/model"),
            &m,
        )
        .await;
        let current = current_model(ctx, &token(&users[0]), run, &m).await;
        assert_eq!(initial, current);
        let (s, body) = put_tensors(
            ctx,
            &token(&users[0]),
            run,
            2,
            "gradients",
            safetensors_of(&m, &g0),
            1,
        )
        .await;
        assert_eq!(s, 200, "{body}");
        let (s, body) = put_weights(ctx, &users[1], run, 2, &g0, 1).await;
        assert_eq!(s, 409, "round 2 collects gradients: {body}");
        assert_eq!(
            body["error"]["message"],
            "This run's plan collects gradients; weights are refused"
        );
        // Waiting with too few uploads answers 409 "waiting" after wait_secs.
        let (s, body) = send(
            ctx,
            Method::GET,
            &format!("/api/runs/{run}/rounds/2/gradients/avg?wait_secs=1"),
            &token(&users[0]),
            None,
        )
        .await;
        assert_eq!(
            (s, body["error"]["details"]["state"].clone()),
            (409, json!("waiting"))
        );
    });
}
