//! Federated runs against the real Worker: rounds through the per-run Durable Object, exact
//! aggregates, replacement, k-of-n deadlines, and one upload never published (gradients:
//! `runs_gradients`).

use meshfed_e2e::identity::MfaUser;
use meshfed_e2e::runs::*;
use meshfed_e2e::Ctx;
use meshfed_shared::meshnet::ModelConfig;
use reqwest::Method;
use serde_json::{json, Value};

fn model5() -> ModelConfig {
    ModelConfig::model5(3)
}

pub fn three_participants_through_three_rounds(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "rounds", 3).await;
        let run = create_run(ctx, &users[0], &[&users[1], &users[2]], json!({})).await;
        let m = model5();
        let initial = current_model(ctx, &token(&users[1]), run, &m).await;
        assert_eq!(initial.len(), 5598);
        assert!(
            initial[..135].iter().all(|v| v.abs() <= 1.0 / 27f32.sqrt()),
            "a seeded MeshNet init"
        );
        for round in 1..=3u32 {
            let mut uploads = vec![];
            for (i, u) in users.iter().enumerate() {
                let v = values(round as u64 * 10 + i as u64, m.parameter_count());
                let n = 5 + i as u64 * 10;
                let (status, receipt) = put_weights(ctx, u, run, round, &v, n).await;
                assert_eq!(status, 200, "{receipt}");
                assert_eq!(
                    receipt["data"]["closed"],
                    i == 2,
                    "closes with the last upload"
                );
                uploads.push((v, n as f64));
            }
            let expect = reference(&uploads);
            let got = download(
                ctx,
                &token(&users[0]),
                &format!("/api/runs/{run}/rounds/{}/model", round + 1),
                &m,
            )
            .await;
            assert_close(&got, &expect);
            let current = current_model(ctx, &token(&users[2]), run, &m).await;
            assert_eq!(current, got, "the current model is the latest aggregate");
        }
        let detail = run_detail(ctx, &token(&users[1]), run).await;
        assert_eq!(detail["round"]["round"], 4);
        assert_eq!(detail["round"]["state"], "open");
        let history = detail["history"].as_array().unwrap();
        assert_eq!(history.len(), 3);
        assert_eq!(history[0]["reason"], "all_uploaded");
        assert_eq!(history[0]["metrics"]["uploads"], 3);
        assert_eq!(history[0]["metrics"]["num_examples"], 5 + 15 + 25);
        assert_eq!(history[0]["metrics"]["loss"], 0.5);
        assert!(history[2]["aggregate_sha256"].as_str().unwrap().len() == 64);
        // JSON by Accept is the same model.
        let resp = ctx
            .get(&format!("/api/runs/{run}/rounds/2/model"))
            .bearer(token(&users[0]))
            .header("accept", "application/json")
            .send()
            .await;
        let body: Value = resp.json();
        assert_eq!(body["data"]["round"], 2);
        let head = &body["data"]["tensors"]["model.9.bias"];
        let safet = download(
            ctx,
            &token(&users[0]),
            &format!("/api/runs/{run}/rounds/2/model"),
            &m,
        )
        .await;
        assert_eq!(head.as_array().unwrap().len(), 3);
        assert_eq!(head[2].as_f64().unwrap() as f32, safet[5597]);
        // Closed and future rounds are 409 with the current round.
        let v = values(99, 5598);
        for r in [3u32, 5] {
            let (status, body) = put_weights(ctx, &users[0], run, r, &v, 1).await;
            assert_eq!(status, 409, "{body}");
            assert_eq!(body["error"]["details"]["current_round"], 4);
        }
        // Listing shows the run with its round.
        let (_, list) = send(ctx, Method::GET, "/api/runs", &token(&users[2]), None).await;
        let mine = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == run)
            .cloned()
            .unwrap();
        assert_eq!(mine["current_round"], 4);
        assert_eq!(mine["participants"], 3);
        assert_eq!(mine["creator"], users[0].email);
    });
}

pub fn concurrent_uploads_from_32_users_match_the_reference(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "many", 32).await;
        let others: Vec<_> = users[1..].iter().collect();
        let run = create_run(ctx, &users[0], &others, json!({})).await;
        let m = model5();
        let uploads: Vec<(Vec<f32>, f64)> = (0..32)
            .map(|i| {
                (
                    values(1000 + i, m.parameter_count()),
                    (1 + i * 7 % 13) as f64,
                )
            })
            .collect();
        let tokens: Vec<String> = users.iter().map(token).collect();
        let puts = tokens.iter().zip(&uploads).map(|(t, (v, n))| {
            put_tensors(ctx, t, run, 1, "weights", safetensors_of(&m, v), *n as u64)
        });
        let answers = futures_util::future::join_all(puts).await;
        assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
        let closers = answers
            .iter()
            .filter(|(_, b)| b["data"]["closed"] == true)
            .count();
        assert_eq!(closers, 1, "exactly one upload closed the round");
        let got = download(
            ctx,
            &token(&users[5]),
            &format!("/api/runs/{run}/rounds/2/model"),
            &m,
        )
        .await;
        assert_close(&got, &reference(&uploads));
        let detail = run_detail(ctx, &token(&users[0]), run).await;
        assert_eq!(detail["history"][0]["metrics"]["uploads"], 32);
    });
}

/// A replacement counts once, and the replaced blob does not linger in R2.
pub fn a_replacement_upload_counts_once(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "replace", 2).await;
        let run = create_run(ctx, &users[0], &[&users[1]], json!({})).await;
        let m = model5();
        let (x, y, z) = (values(1, 5598), values(2, 5598), values(3, 5598));
        let (s, first) = put_weights(ctx, &users[0], run, 1, &x, 4).await;
        assert_eq!((s, &first["data"]["replaced"]), (200, &json!(false)));
        let (s, second) = put_weights(ctx, &users[0], run, 1, &y, 6).await;
        assert_eq!(
            (s, &second["data"]["replaced"], &second["data"]["uploads"]),
            (200, &json!(true), &json!(1))
        );
        let detail = run_detail(ctx, &token(&users[1]), run).await;
        assert_eq!(detail["round"]["uploads"], 1);
        // The replaced upload's blob is gone from R2: one upload blob is left.
        let prefix = format!("runs/{run}/rounds/1/weights/");
        let objects = ctx
            .get(&format!("/api/_dev/objects?prefix={prefix}"))
            .send()
            .await;
        let objects: Value = objects.json();
        let keys = objects["data"]["keys"].as_array().expect("a key list");
        assert_eq!(keys.len(), 1, "{objects}");
        let (s, _) = put_weights(ctx, &users[1], run, 1, &z, 2).await;
        assert_eq!(s, 200);
        let got = current_model(ctx, &token(&users[1]), run, &m).await;
        assert_close(&got, &reference(&[(y, 6.0), (z, 2.0)]));
    });
}

/// Poisoning through replacement: a participant uploads 3e38 everywhere, then replaces it.
/// Subtracting it again from float sums would wipe out the honest uploads counted before.
pub fn a_huge_upload_then_replaced_leaves_the_honest_average(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "huge", 3).await;
        let run = create_run(ctx, &users[0], &[&users[1], &users[2]], json!({})).await;
        let (a, b, c) = (values(61, 5598), values(62, 5598), values(63, 5598));
        let (s, _) = put_weights(ctx, &users[0], run, 1, &a, 2).await;
        assert_eq!(s, 200);
        let (s, _) = put_weights(ctx, &users[1], run, 1, &vec![3e38; 5598], 5).await;
        assert_eq!(s, 200, "3e38 is finite: it is accepted");
        let (s, replaced) = put_weights(ctx, &users[1], run, 1, &b, 3).await;
        assert_eq!((s, &replaced["data"]["replaced"]), (200, &json!(true)));
        let (s, _) = put_weights(ctx, &users[2], run, 1, &c, 1).await;
        assert_eq!(s, 200);
        let path = format!("/api/runs/{run}/model");
        let got = download(ctx, &token(&users[2]), &path, &model5()).await;
        assert_close(&got, &reference(&[(a, 2.0), (b, 3.0), (c, 1.0)]));
    });
}

pub fn a_deadline_closes_a_round_with_k_of_n(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "deadline", 3).await;
        let run = create_run(
            ctx,
            &users[0],
            &[&users[1], &users[2]],
            json!({"round_timeout_secs": 4, "min_participants": 2, "aggregation": "mean"}),
        )
        .await;
        let m = model5();
        let (a, b) = (values(7, 5598), values(8, 5598));
        put_weights(ctx, &users[0], run, 1, &a, 1).await;
        let (_, r) = put_weights(ctx, &users[1], run, 1, &b, 1).await;
        assert_eq!(
            r["data"]["closed"], false,
            "2 of 3 before the deadline: still open"
        );
        // No further request is needed: the alarm closes it.
        let mut detail = Value::Null;
        for _ in 0..60 {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            detail = run_detail(ctx, &token(&users[2]), run).await;
            if detail["round"]["round"] == 2 {
                break;
            }
        }
        assert_eq!(detail["round"]["round"], 2, "{detail}");
        assert_eq!(detail["history"][0]["reason"], "deadline");
        let got = current_model(ctx, &token(&users[2]), run, &m).await;
        assert_close(&got, &reference(&[(a, 1.0), (b, 1.0)]));
        // Round 2 with one upload of the two needed: after its deadline it waits.
        put_weights(ctx, &users[2], run, 2, &values(9, 5598), 1).await;
        tokio::time::sleep(std::time::Duration::from_millis(5000)).await;
        let detail = run_detail(ctx, &token(&users[0]), run).await;
        assert_eq!(
            (
                detail["round"]["round"].clone(),
                detail["round"]["state"].clone()
            ),
            (json!(2), json!("waiting"))
        );
        assert_eq!(detail["round"]["needed_at_deadline"], 2);
        // The second upload after the deadline closes it at once.
        let (_, r) = put_weights(ctx, &users[1], run, 2, &values(10, 5598), 1).await;
        assert_eq!(r["data"]["closed"], true, "{r}");
    });
}

pub fn deactivating_the_last_missing_participant_closes_the_round(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "deact", 3).await;
        let run = create_run(
            ctx,
            &users[0],
            &[&users[1], &users[2]],
            json!({"aggregation": "median"}),
        )
        .await;
        let m = model5();
        let (a, b) = (values(5, 5598), values(6, 5598));
        for (user, v) in [(&users[0], &a), (&users[1], &b)] {
            let (s, _) = put_weights(ctx, user, run, 1, v, 1).await;
            assert_eq!(s, 200);
        }
        let (s, body) = activate(ctx, &users[2], run, false).await;
        assert_eq!(s, 200);
        assert_eq!(
            body["data"]["round"]["round"], 2,
            "everyone still active had uploaded"
        );
        let got = current_model(ctx, &token(&users[2]), run, &m).await;
        let median: Vec<f32> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| ((*x as f64 + *y as f64) / 2.0) as f32)
            .collect();
        assert_close(&got, &median);
    });
}

/// No global model is one participant's weights: with the other participant gone inactive,
/// a round with one upload stays open until a second contributor uploads.
pub fn one_upload_never_becomes_the_global_model(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "alone", 2).await;
        let run = create_run(ctx, &users[0], &[&users[1]], json!({"aggregation": "mean"})).await;
        let m = model5();
        let initial = current_model(ctx, &token(&users[0]), run, &m).await;
        let (a, b) = (values(71, 5598), values(72, 5598));
        let (s, _) = put_weights(ctx, &users[0], run, 1, &a, 1).await;
        assert_eq!(s, 200);
        let (s, body) = activate(ctx, &users[1], run, false).await;
        assert_eq!(s, 200);
        assert_eq!(
            body["data"]["round"]["round"], 1,
            "one upload does not close a round"
        );
        assert_eq!(body["data"]["min_contributors"], 2);
        let now = current_model(ctx, &token(&users[0]), run, &m).await;
        assert_eq!(now, initial, "the published model is still the initial one");
        // Nor can the creator lower the bar to one.
        let (s, body) = send(
            ctx,
            Method::PATCH,
            &format!("/api/runs/{run}"),
            &token(&users[0]),
            Some(json!({"min_contributors": 1})),
        )
        .await;
        assert_eq!(s, 400, "{body}");
        assert_eq!(body["error"]["details"]["field"], "min_contributors");
        let (s, _) = activate(ctx, &users[1], run, true).await;
        assert_eq!(s, 200);
        let (s, closed) = put_weights(ctx, &users[1], run, 1, &b, 1).await;
        assert_eq!((s, &closed["data"]["closed"]), (200, &json!(true)));
        let got = current_model(ctx, &token(&users[0]), run, &m).await;
        assert_close(&got, &reference(&[(a, 1.0), (b, 1.0)]));
    });
}

async fn activate(ctx: &Ctx, user: &MfaUser, run: i64, active: bool) -> (u16, Value) {
    send(
        ctx,
        Method::POST,
        &format!("/api/runs/{run}/activate"),
        &token(user),
        Some(json!({"active": active})),
    )
    .await
}
