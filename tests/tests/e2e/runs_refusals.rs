//! Refusals on federated runs against the real Worker: who may touch a run (403, 404, 401,
//! creator-only changes) and uploads that must not count (422, 413, 400, 409 when inactive).

use meshfed_e2e::runs::*;
use meshfed_e2e::Ctx;
use reqwest::Method;
use serde_json::{json, Value};

fn model5() -> meshfed_shared::meshnet::ModelConfig {
    meshfed_shared::meshnet::ModelConfig::model5(3)
}

pub fn outsiders_get_403_missing_runs_404_and_only_the_creator_edits(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "outsider", 3).await;
        let run = create_run(ctx, &users[0], &[&users[1]], json!({})).await;
        let outsider = token(&users[2]);
        for (method, path) in [
            (Method::GET, format!("/api/runs/{run}")),
            (Method::GET, format!("/api/runs/{run}/model")),
            (
                Method::GET,
                format!("/api/runs/{run}/rounds/1/gradients/avg"),
            ),
        ] {
            let (status, body) = send(ctx, method, &path, &outsider, None).await;
            assert_eq!(
                (status, body["error"]["code"].clone()),
                (403, json!("PERMISSION_DENIED")),
                "{path}"
            );
        }
        let (status, _) = put_weights(ctx, &users[2], run, 1, &values(1, 5598), 1).await;
        assert_eq!(status, 403);
        let (status, _) = send(
            ctx,
            Method::POST,
            &format!("/api/runs/{run}/activate"),
            &outsider,
            Some(json!({"active": true})),
        )
        .await;
        assert_eq!(status, 403);
        let (status, body) = send(ctx, Method::GET, "/api/runs/999999", &outsider, None).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (404, json!("NOT_FOUND"))
        );
        let (status, _) = send(
            ctx,
            Method::GET,
            &format!("/api/runs/{run}"),
            "not-a-token",
            None,
        )
        .await;
        assert_eq!(status, 401);
        let (status, _) = send(
            ctx,
            Method::PATCH,
            &format!("/api/runs/{run}"),
            &token(&users[1]),
            Some(json!({"name": "mine now"})),
        )
        .await;
        assert_eq!(status, 403, "a participant who is not the creator");
        let (status, body) = send(
            ctx,
            Method::PATCH,
            &format!("/api/runs/{run}"),
            &token(&users[0]),
            Some(json!({"name": "renamed", "min_participants": 1})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (
                body["data"]["name"].clone(),
                body["data"]["min_participants"].clone()
            ),
            (json!("renamed"), json!(1))
        );
        // Participants must be confirmed users.
        let (status, body) = send(
            ctx,
            Method::POST,
            "/api/runs",
            &outsider,
            Some(json!({"name": "x", "participants": ["nobody@nowhere.example.org"]})),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body["error"]["details"]["unknown"],
            json!(["nobody@nowhere.example.org"])
        );
        // Users directory lists confirmed users for invitations.
        let (status, body) = send(ctx, Method::GET, "/api/users", &outsider, None).await;
        assert_eq!(status, 200);
        assert!(body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == users[0].email));
    });
}

pub fn bad_uploads_are_refused_and_nothing_counts(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "badup", 2).await;
        let run = create_run(ctx, &users[0], &[&users[1]], json!({})).await;
        let t = token(&users[0]);
        let m = model5();
        // A tensor of the wrong shape: 422 naming it.
        let mut named = m.unflatten(&values(1, 5598));
        named[3].1 = meshfed_shared::tensor::Tensor::new(vec![4], vec![0.0; 4]);
        let bytes = meshfed_shared::tensor::safetensors::write(
            &named,
            meshfed_shared::tensor::DType::F32,
            &Default::default(),
        );
        let (status, body) = put_tensors(ctx, &t, run, 1, "weights", bytes, 1).await;
        assert_eq!(
            (status, body["error"]["details"]["tensor"].clone()),
            (422, json!("model.1.0.bias")),
            "{body}"
        );
        // NaN: 422.
        let mut v = values(2, 5598);
        v[100] = f32::NAN;
        let (status, body) = put_weights(ctx, &users[0], run, 1, &v, 1).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("non-finite"));
        // Ragged JSON: 422 naming the tensor; malformed JSON: 400.
        let resp = ctx
            .put(&format!("/api/runs/{run}/rounds/1/weights"))
            .bearer(&t)
            .json(&json!({"weights": {"model.0.0.weight": [[1, 2], [3]]}, "num_examples": 1}))
            .send()
            .await;
        let status = resp.status;
        let body: Value = resp.json();
        assert_eq!(
            (status, body["error"]["details"]["tensor"].clone()),
            (422, json!("model.0.0.weight")),
            "{body}"
        );
        let resp = ctx
            .put(&format!("/api/runs/{run}/rounds/1/weights"))
            .bearer(&t)
            .header("content-type", "application/json")
            .body("{\"weights\": ")
            .send()
            .await;
        assert_eq!(resp.status, 400);
        // Too large for the model: 413 before reading.
        let (status, body) =
            put_tensors(ctx, &t, run, 1, "weights", vec![0u8; 600 * 1024], 1).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (413, json!("PAYLOAD_TOO_LARGE"))
        );
        // FedAvg needs num_examples.
        let resp = ctx
            .put(&format!("/api/runs/{run}/rounds/1/weights"))
            .bearer(&t)
            .body(safetensors_of(&m, &values(3, 5598)))
            .send()
            .await;
        assert_eq!(resp.status, 400);
        // Inactive participants cannot upload; activation brings them back.
        let (status, _) = send(
            ctx,
            Method::POST,
            &format!("/api/runs/{run}/activate"),
            &t,
            Some(json!({"active": false})),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = put_weights(ctx, &users[0], run, 1, &values(4, 5598), 1).await;
        assert_eq!(status, 409);
        let (status, body) = send(
            ctx,
            Method::POST,
            &format!("/api/runs/{run}/activate"),
            &t,
            Some(json!({"active": true})),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            body["data"]["round"]["uploads"], 0,
            "nothing refused was counted"
        );
        assert_eq!(body["data"]["participants"][0]["active"], true);
    });
}

/// A negative BatchNorm variance would turn every later normalisation into NaN: refused,
/// naming the tensor, and nothing counts; the same weights with a valid variance count.
pub fn a_negative_batch_norm_variance_is_refused(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "variance", 2).await;
        let spec = json!({"channels": 2, "dilations": [1], "classes": 3, "batch_norm": true});
        let run = create_run(ctx, &users[0], &[&users[1]], json!({"model": spec})).await;
        let m: meshfed_shared::meshnet::ModelConfig = serde_json::from_value(spec).unwrap();
        let mut named = m.unflatten(&values(81, m.parameter_count()));
        let (name, var) = named
            .iter_mut()
            .find(|(n, _)| n.ends_with(".running_var"))
            .expect("a BatchNorm model has running variances");
        let name = name.clone();
        var.data.iter_mut().for_each(|v| *v = v.abs() + 0.1);
        var.data[1] = -0.5;
        let body = safetensors_of(&m, &m.flatten_named(&named).unwrap());
        let (status, body) = put_tensors(ctx, &token(&users[0]), run, 1, "weights", body, 1).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["details"]["tensor"], json!(name), "{body}");
        let detail = run_detail(ctx, &token(&users[0]), run).await;
        assert_eq!(detail["round"]["uploads"], 0, "nothing counted");
        let (_, var) = named.iter_mut().find(|(n, _)| *n == name).unwrap();
        var.data[1] = 0.5;
        let body = safetensors_of(&m, &m.flatten_named(&named).unwrap());
        let (status, _) = put_tensors(ctx, &token(&users[0]), run, 1, "weights", body, 1).await;
        assert_eq!(status, 200);
    });
}

/// One participant cannot shut the others out of a round by uploading the other kind first:
/// the run's plan (weights by default) decides what every round collects.
pub fn an_upload_of_the_other_kind_cannot_take_the_round(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "kind", 2).await;
        let run = create_run(ctx, &users[0], &[&users[1]], json!({})).await;
        let detail = run_detail(ctx, &token(&users[0]), run).await;
        assert_eq!(detail["plan"]["plan"]["uploads"], "weights", "{detail}");
        let m = model5();
        let body = safetensors_of(&m, &values(61, 5598));
        let (status, body) =
            put_tensors(ctx, &token(&users[1]), run, 1, "gradients", body, 1).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(
            body["error"]["message"],
            "This run's plan collects weights; gradients are refused"
        );
        let (a, b) = (values(62, 5598), values(63, 5598));
        for (user, v) in [(&users[0], &a), (&users[1], &b)] {
            let (status, body) = put_weights(ctx, user, run, 1, v, 1).await;
            assert_eq!(status, 200, "{body}");
        }
        let model = current_model(ctx, &token(&users[0]), run, &m).await;
        assert_close(&model, &reference(&[(a, 1.0), (b, 1.0)]));
    });
}
