//! Model size is never capped by accident: every preset uploads, as safetensors and as the
//! seeds' JSON (the 21-channel MeshNet's JSON is larger than the 1 MiB body limit of the other
//! routes), and the round's model is what was uploaded.

use meshfed_e2e::runs::*;
use meshfed_e2e::Ctx;
use meshfed_shared::api::upload::{encode_tensor_json, TensorForm};
use meshfed_shared::meshnet::ModelConfig;
use serde_json::{json, Value};

pub fn every_preset_uploads_in_both_formats(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "sizes", 2).await;
        let classic = json!({"channels": 21, "dilations": [1, 1, 1, 2, 4, 8, 1], "classes": 3});
        let kinds = [
            json!({"preset": "model5_gw_ae"}),
            json!({"preset": "model11_gw_ae"}),
            json!({"preset": "model20chan3cls"}),
            json!({ "model": classic }),
        ];
        let t0 = token(&users[0]);
        let mut largest_json = 0;
        for (i, kind) in kinds.into_iter().enumerate() {
            let run = create_run(ctx, &users[0], &[&users[1]], kind).await;
            let detail = run_detail(ctx, &t0, run).await;
            let model: ModelConfig = serde_json::from_value(detail["model"].clone())
                .unwrap_or_else(|e| panic!("{e}: {detail}"));
            let p = model.parameter_count();
            let (a, b) = (values(80 + i as u64, p), values(90 + i as u64, p));
            // Pretty-printed, as a person's script might send it: the larger form.
            let named = encode_tensor_json(&a, &model, TensorForm::Named);
            let weights: Value = serde_json::from_str(&named).unwrap();
            let upload = json!({"weights": weights, "num_examples": 3});
            let json_body = serde_json::to_vec_pretty(&upload).unwrap();
            largest_json = largest_json.max(json_body.len());
            let resp = ctx
                .put(&format!("/api/runs/{run}/rounds/1/weights"))
                .bearer(&t0)
                .header("content-type", "application/json")
                .body(json_body)
                .send()
                .await;
            let status = resp.status;
            let answer: Value = resp.json();
            let channels = model.channels;
            assert_eq!(status, 200, "{channels} channels, JSON: {answer}");
            let body = safetensors_of(&model, &b);
            let t1 = token(&users[1]);
            let (status, answer) = put_tensors(ctx, &t1, run, 1, "weights", body, 1).await;
            assert_eq!(status, 200, "{channels} channels, safetensors: {answer}");
            assert_eq!(answer["data"]["closed"], true, "{answer}");
            let got = current_model(ctx, &t0, run, &model).await;
            assert_close(&got, &reference(&[(a, 3.0), (b, 1.0)]));
        }
        assert!(
            largest_json > 1 << 20,
            "the 21-channel JSON is {largest_json} bytes"
        );
    });
}
