//! Poisoning a run's model through what an upload declares or how far it moves the model:
//! FedAvg's `num_examples` capped, updates clipped to the plan's norm.

use meshfed_e2e::runs::*;
use meshfed_e2e::Ctx;
use meshfed_shared::meshnet::ModelConfig;
use serde_json::json;

fn model5() -> ModelConfig {
    ModelConfig::model5(3)
}

/// Poisoning through `num_examples`: a participant that claims 10^9 examples (the most an
/// upload may state) weighs at most 10× the round's median in FedAvg, or the plan's
/// `max_num_examples` where it sets one.
pub fn a_huge_example_count_weighs_at_most_its_cap(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "claims", 3).await;
        let others = [&users[1], &users[2]];
        let (a, b, c) = (values(71, 5598), values(72, 5598), values(73, 5598));
        for (plan, weights) in [
            (json!({}), [10.0, 12.0, 120.0]),
            (
                json!({"plan": {"max_num_examples": 11}}),
                [10.0, 11.0, 11.0],
            ),
        ] {
            let run = create_run(ctx, &users[0], &others, plan).await;
            for (user, v, n) in [(0, &a, 10), (1, &b, 12), (2, &c, 1_000_000_000)] {
                let (s, receipt) = put_weights(ctx, &users[user], run, 1, v, n).await;
                assert_eq!(s, 200, "{receipt}");
            }
            let path = format!("/api/runs/{run}/model");
            let got = download(ctx, &token(&users[2]), &path, &model5()).await;
            let [wa, wb, wc] = weights;
            let expect = reference(&[(a.clone(), wa), (b.clone(), wb), (c.clone(), wc)]);
            assert_close(&got, &expect);
            let detail = run_detail(ctx, &token(&users[0]), run).await;
            let counted = detail["history"][0]["metrics"]["num_examples"].as_u64();
            assert_eq!(
                counted,
                Some(weights.iter().sum::<f64>() as u64),
                "{detail}"
            );
        }
    });
}

/// With the plan's `clip_norm`, an upload that moves the model by 1000 in every parameter
/// counts as moved by the bound: `g + (w − g)·C/‖w − g‖`; the honest small updates count as
/// they are.
pub fn an_update_longer_than_the_plans_norm_is_clipped(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "clip", 3).await;
        let plan = json!({"plan": {"clip_norm": 1.0}});
        let run = create_run(ctx, &users[0], &[&users[1], &users[2]], plan).await;
        let path = format!("/api/runs/{run}/model");
        let g = download(ctx, &token(&users[0]), &path, &model5()).await;
        let near = |seed: u64| -> Vec<f32> {
            let v = values(seed, g.len());
            g.iter().zip(v).map(|(g, v)| g + 0.001 * v).collect()
        };
        let (a, b) = (near(101), near(102));
        let c: Vec<f32> = g.iter().map(|g| g + 1000.0).collect();
        for (user, v, n) in [(0, &a, 10), (1, &b, 12), (2, &c, 11)] {
            let (s, receipt) = put_weights(ctx, &users[user], run, 1, v, n).await;
            assert_eq!(s, 200, "{receipt}");
        }
        let norm = |w: &[f32]| -> f64 {
            let sq = w
                .iter()
                .zip(&g)
                .map(|(w, g)| (*w as f64 - *g as f64).powi(2));
            sq.sum::<f64>().sqrt()
        };
        assert!(
            norm(&a) < 1.0 && norm(&b) < 1.0,
            "honest updates are within the bound"
        );
        let scale = 1.0 / norm(&c);
        let clipped: Vec<f32> = c
            .iter()
            .zip(&g)
            .map(|(c, g)| (*g as f64 + (*c as f64 - *g as f64) * scale) as f32)
            .collect();
        let got = download(ctx, &token(&users[1]), &path, &model5()).await;
        assert_close(&got, &reference(&[(a, 10.0), (b, 12.0), (clipped, 11.0)]));
    });
}
