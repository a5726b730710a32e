//! The run's training plan against the real Worker: `meshfed join` participants follow it
//! (FixBN keeps every BatchNorm statistic bit for bit), a PATCH starts at the next round and
//! never the current one, only the creator may change it, a bad plan is a 422 that writes
//! nothing, federated validation reaches the history, and the server's step (FedAvgM) keeps
//! its momentum from round to round in R2.

use meshfed_cli::join::{self, RoundReport};
use meshfed_e2e::identity::MfaUser;
use meshfed_e2e::participant::{join_args, write_phantom};
use meshfed_e2e::runs::*;
use meshfed_e2e::Ctx;
use meshfed_shared::meshnet::{initial_weights, ModelConfig};
use reqwest::Method;
use serde_json::{json, Value};

fn bn_model() -> ModelConfig {
    serde_json::from_value(
        json!({"channels": 3, "dilations": [1, 2, 1], "classes": 3, "batch_norm": true}),
    )
    .unwrap()
}

/// Each user joins `rounds` rounds in its own thread on its own phantom.
fn join_all(ctx: &Ctx, users: &[MfaUser], run: i64, rounds: u32) -> Vec<Vec<RoundReport>> {
    let dir = std::env::temp_dir().join(format!("meshfed-plan-{run}"));
    let threads: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let files = write_phantom(&dir, &i.to_string(), [20, 20, 20], 10 + i as u64);
            let args = join_args(ctx, u, run, files, rounds, i as u64, 180);
            std::thread::spawn(move || join::run(args))
        })
        .collect();
    let reports = threads
        .into_iter()
        .map(|t| t.join().unwrap().expect("join follows the plan"))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    reports
}

async fn patch(ctx: &Ctx, user: &MfaUser, run: i64, body: Value) -> (u16, Value) {
    send(
        ctx,
        Method::PATCH,
        &format!("/api/runs/{run}"),
        &token(user),
        Some(body),
    )
    .await
}

/// Indices of the BatchNorm running statistics, and of everything else.
fn split_mask(model: &ModelConfig) -> (Vec<usize>, Vec<usize>) {
    let mask = model.trainable_mask();
    let stats = (0..mask.len()).filter(|&i| !mask[i]).collect();
    let trained = (0..mask.len()).filter(|&i| mask[i]).collect();
    (stats, trained)
}

pub fn participants_follow_the_plan_and_a_patch_starts_next_round(ctx: &Ctx) {
    let model = bn_model();
    let plan = json!({"rounds": 10, "local_steps": 2, "patch": 12, "batch": 2,
        "fix_batch_norm_from": 1, "holdout": {"axis": "y", "fraction": 0.25}});
    let (users, run, initial) = ctx.block_on(async {
        let users = participants(ctx, "plan", 2).await;
        let body = json!({"model": model, "round_timeout_secs": 600, "plan": plan});
        let run = create_run(ctx, &users[0], &[&users[1]], body).await;
        let detail = run_detail(ctx, &token(&users[1]), run).await;
        assert_eq!(detail["plan"]["version"], 1, "{detail}");
        assert_eq!(detail["plan"]["plan"]["fix_batch_norm_from"], 1);
        assert_eq!(
            detail["plan"]["plan"]["learning_rate"], 6e-3,
            "defaults fill the rest"
        );
        assert!(
            detail["plan"]["summary"]
                .as_str()
                .unwrap()
                .starts_with("2 local steps of 12³, batch 2"),
            "{detail}"
        );
        // The attacks first: a participant who is not the creator cannot change the plan,
        // and a plan that cannot be trained is a 422 naming its field; neither writes.
        let (status, body) = patch(ctx, &users[1], run, json!({"plan": {"local_steps": 1}})).await;
        assert_eq!(status, 403, "{body}");
        let (status, body) = patch(ctx, &users[0], run, json!({"plan": {"batch": 0}})).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["details"]["field"], "plan.batch", "{body}");
        let (status, body) = patch(
            ctx,
            &users[0],
            run,
            json!({"plan": {"server": {"kind": "fedsgd"}}}),
        )
        .await;
        assert_eq!(status, 400, "an unknown server step is malformed: {body}");
        let detail = run_detail(ctx, &token(&users[0]), run).await;
        assert!(
            detail["next_plan"].is_null(),
            "nothing was written: {detail}"
        );
        // The creator's change during round 1 starts at round 2.
        let (status, body) = patch(
            ctx,
            &users[0],
            run,
            json!({"plan": {"local_steps": 3, "fix_batch_norm_from": null}}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"]["plan"]["version"], 1,
            "round 1 keeps its plan: {body}"
        );
        assert_eq!(body["data"]["next_plan"]["version"], 2);
        assert_eq!(body["data"]["next_plan"]["from_round"], 2);
        assert_eq!(body["data"]["next_plan"]["plan"]["local_steps"], 3);
        assert_eq!(
            body["data"]["next_plan"]["plan"]["patch"], 12,
            "the rest is kept"
        );
        let initial = current_model(ctx, &token(&users[0]), run, &model).await;
        (users, run, initial)
    });

    let reports = join_all(ctx, &users, run, 1);
    assert!(
        reports
            .iter()
            .all(|r| r[0].plan_version == 1 && r[0].validation.is_some()),
        "{reports:?}"
    );
    let (stats, trained) = split_mask(&model);
    let after_one = ctx.block_on(async {
        let global = current_model(ctx, &token(&users[1]), run, &model).await;
        let detail = run_detail(ctx, &token(&users[1]), run).await;
        assert_eq!(detail["current_round"], 2, "{detail}");
        assert_eq!(
            detail["plan"]["version"], 2,
            "round 2 trains with the patched plan"
        );
        assert!(detail["next_plan"].is_null(), "{detail}");
        let closed = &detail["history"][0];
        assert_eq!(closed["plan_version"], 1, "{closed}");
        let m = &closed["metrics"];
        let val = m["val_dice"].as_f64().expect("federated validation Dice");
        assert!((0.0..=1.0).contains(&val), "{m}");
        assert!(m["val_loss"].as_f64().unwrap() > 0.0, "{m}");
        assert_eq!(m["val_dice_per_class"].as_array().unwrap().len(), 2, "{m}");
        global
    });
    // FixBN from round 1: both uploads kept the global statistics exactly, so their average
    // is the initial model's, bit for bit; the convolutions moved.
    for &i in &stats {
        assert_eq!(
            after_one[i].to_bits(),
            initial[i].to_bits(),
            "statistic {i}"
        );
    }
    assert!(
        trained.iter().any(|&i| after_one[i] != initial[i]),
        "nothing trained"
    );

    let reports = join_all(ctx, &users, run, 1);
    assert!(
        reports.iter().all(|r| r[0].plan_version == 2),
        "{reports:?}"
    );
    let after_two =
        ctx.block_on(async { current_model(ctx, &token(&users[1]), run, &model).await });
    assert!(
        stats.iter().any(|&i| after_two[i] != after_one[i]),
        "plan v2 turned FixBN off: the statistics move again"
    );
}

/// FedAvgM at rate 2 and momentum 0.5 over two rounds, against the formula in f64:
/// v₁ = Δ₁, g₁ = g₀ + 2v₁; v₂ = 0.5v₁ + Δ₂, g₂ = g₁ + 2v₂ (Δ = mean − global).
pub fn the_server_step_keeps_its_momentum_across_rounds(ctx: &Ctx) {
    let model = ModelConfig::model5(3);
    let n = model.parameter_count();
    ctx.block_on(async {
        let users = participants(ctx, "fedavgm", 2).await;
        let g0 = initial_weights(&model, 4);
        let plan = json!({"server": {"kind": "fedavgm", "learning_rate": 2.0, "momentum": 0.5}});
        let body = json!({"round_timeout_secs": 600, "plan": plan,
            "initial_weights_safetensors": base64_of(&safetensors_of(&model, &g0))});
        let run = create_run(ctx, &users[0], &[&users[1]], body).await;
        let mut global: Vec<f64> = g0.iter().map(|&x| x as f64).collect();
        let mut velocity = vec![0f64; n];
        for round in 1..=2u32 {
            let ups: Vec<(Vec<f32>, f64)> = (0..2)
                .map(|u| {
                    let v: Vec<f32> = values(u * 10 + round as u64, n)
                        .iter()
                        .zip(&global)
                        .map(|(d, g)| (*g + 0.01 * *d as f64) as f32)
                        .collect();
                    (v, [3.0, 1.0][u as usize])
                })
                .collect();
            for (u, (v, w)) in ups.iter().enumerate() {
                let (status, body) = put_weights(ctx, &users[u], run, round, v, *w as u64).await;
                assert_eq!(status, 200, "{body}");
            }
            let mean = reference(&ups);
            for i in 0..n {
                let delta = mean[i] as f64 - global[i];
                velocity[i] = 0.5 * velocity[i] + delta;
                global[i] += 2.0 * velocity[i];
            }
            let got = current_model(ctx, &token(&users[1]), run, &model).await;
            let expected: Vec<f32> = global.iter().map(|&g| g as f32).collect();
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                assert!(
                    (g - e).abs() <= 1e-5 * e.abs().max(1.0),
                    "round {round} value {i}: {g} vs {e}"
                );
            }
            global = got.iter().map(|&x| x as f64).collect();
        }
    });
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A run started from brainchop's pretrained model11_gw_ae serves exactly its weights as the
/// first global model; an unknown preset, or one combined with a model, is refused.
/// A run that names no model trains what the lab proved: model5 with BatchNorm, the default
/// plan with FixBN from round 200, starting from valid BatchNorm statistics.
pub fn a_run_given_no_model_trains_the_labs_recipe(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "recipe", 2).await;
        let body = json!({"name": "recipe", "participants": [users[1].email]});
        let (status, resp) = send(
            ctx,
            Method::POST,
            "/api/runs",
            &token(&users[0]),
            Some(body),
        )
        .await;
        assert_eq!(status, 201, "{resp}");
        let data = &resp["data"];
        let recipe = ModelConfig::lab_recipe();
        assert_eq!(data["model"]["batch_norm"], true, "{data}");
        assert_eq!(data["model"]["channels"], 5);
        assert_eq!(data["parameter_count"], recipe.parameter_count());
        assert_eq!(data["plan"]["plan"]["fix_batch_norm_from"], 200);
        assert_eq!(data["min_contributors"], 2);
        let run = data["id"].as_i64().unwrap();
        let global = current_model(ctx, &token(&users[0]), run, &recipe).await;
        assert_eq!(
            recipe.check_statistics(&global),
            Ok(()),
            "valid BatchNorm statistics"
        );
    });
}

pub fn a_run_starts_from_a_brainchop_preset(ctx: &Ctx) {
    use meshfed_shared::meshnet::brainchop::Preset;
    let (config, pretrained) = Preset::find("model11_gw_ae").unwrap().load().unwrap();
    ctx.block_on(async {
        let users = participants(ctx, "preset", 1).await;
        let body = json!({"name": "fine-tune", "preset": "model11_gw_ae"});
        let (status, resp) = send(ctx, Method::POST, "/api/runs", &token(&users[0]), Some(body)).await;
        assert_eq!(status, 201, "{resp}");
        let run = resp["data"]["id"].as_i64().unwrap();
        assert_eq!(resp["data"]["model"]["channels"], 11, "{resp}");
        let global = current_model(ctx, &token(&users[0]), run, &config).await;
        assert_eq!(global, pretrained, "brainchop's weights, bit for bit");
        for body in [
            json!({"name": "x", "preset": "model99"}),
            json!({"name": "x", "preset": "model5_gw_ae", "model": {"channels": 2, "dilations": [1], "classes": 3}}),
        ] {
            let (status, resp) = send(ctx, Method::POST, "/api/runs", &token(&users[0]), Some(body)).await;
            assert_eq!(status, 400, "{resp}");
            assert_eq!(resp["error"]["details"]["field"], "preset", "{resp}");
        }
    });
}

/// A plan this machine cannot train (a batch of 32 patches of 128³ through 16 blocks of 32
/// channels: hundreds of GiB) is refused by `meshfed join` in words, and nothing is uploaded.
pub fn join_refuses_a_plan_too_big_for_the_machine(ctx: &Ctx) {
    let dilations = vec![1u32; 16];
    let model = json!({"channels": 32, "dilations": dilations, "classes": 3});
    let (users, run) = ctx.block_on(async {
        let users = participants(ctx, "toobig", 1).await;
        let plan = json!({"batch": 32, "patch": 128});
        let body = json!({"model": model, "round_timeout_secs": 600, "plan": plan});
        let run = create_run(ctx, &users[0], &[], body).await;
        (users, run)
    });
    let dir = std::env::temp_dir().join(format!("meshfed-toobig-{run}"));
    let files = write_phantom(&dir, "0", [20, 20, 20], 1);
    let err = join::run(join_args(ctx, &users[0], run, files, 1, 0, 30))
        .expect_err("the plan does not fit");
    let _ = std::fs::remove_dir_all(&dir);
    let text = err.to_string();
    assert!(
        text.starts_with("This run trains batch 32 of 128³ patches"),
        "{text}"
    );
    assert!(text.contains("Nothing was trained"), "{text}");
    ctx.block_on(async {
        let detail = run_detail(ctx, &token(&users[0]), run).await;
        assert_eq!(detail["round"]["uploads"], 0, "{detail}");
        assert_eq!(detail["current_round"], 1, "{detail}");
    });
}
