//! Seeds 000/001 run routes with the documents' request bodies: `Authorization: <id_token>`
//! without `Bearer`, answers wrapped in `{"statusCode": 200, "body": …}`.

use meshfed_e2e::runs::{assert_close, id_token, participants, reference, values};
use meshfed_e2e::Ctx;
use meshfed_shared::api::upload::{encode_tensor_json, TensorForm};
use meshfed_shared::meshnet::ModelConfig;
use serde_json::{json, Value};

async fn call(
    ctx: &Ctx,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut call = ctx.call(method, path).header("authorization", token);
    if let Some(b) = body {
        call = call.json(&b);
    }
    let (status, body) = call.send().await.status_json();
    assert!(!body.is_null(), "{path} answers JSON");
    (status, body)
}

async fn post(ctx: &Ctx, path: &str, token: &str, body: Value) -> Value {
    let (status, v) = call(ctx, reqwest::Method::POST, path, token, Some(body)).await;
    assert_eq!(
        (status, v["statusCode"].clone()),
        (200, json!(200)),
        "{path}: {v}"
    );
    v["body"].clone()
}

fn weights_object(m: &ModelConfig, v: &[f32]) -> Value {
    serde_json::from_str(&encode_tensor_json(v, m, TensorForm::Named)).unwrap()
}

fn flat(m: &ModelConfig, weights: &Value) -> Vec<f32> {
    let text = weights.to_string();
    meshfed_shared::api::upload::decode_tensor_json(text.as_bytes(), m)
        .unwrap()
        .values
}

pub fn every_run_route_with_the_documents_examples(ctx: &Ctx) {
    ctx.block_on(async {
        let users = participants(ctx, "seedrun", 3).await;
        let (t0, t1, outsider) = (
            id_token(&users[0]),
            id_token(&users[1]),
            id_token(&users[2]),
        );
        let m = ModelConfig::model5(3);

        let (status, all) = call(ctx, reqwest::Method::GET, "/dev/user_runs", &t0, None).await;
        assert_eq!((status, all["statusCode"].clone()), (200, json!(200)));
        let emails = all["body"].as_array().unwrap();
        assert!(emails.contains(&json!(users[0].email)) && emails.contains(&json!(users[1].email)));

        let created = post(
            ctx,
            "/dev/runs_update",
            &t0,
            json!({
            "Name": "Meshnet_GWlabels", "Description": "GWlabels",
            "Users": [users[1].email], "check_Threshold": 4, "Classes": 3}),
        )
        .await;
        let run = created["runid"].as_i64().unwrap();
        let listed = post(ctx, "/dev/runs", &t1, json!({})).await;
        let entry = &listed[run.to_string()];
        assert_eq!(entry["name"], "Meshnet_GWlabels");
        assert_eq!(entry["description"], "GWlabels");
        assert_eq!(entry["classes"], 3);
        assert_eq!(entry["users"].as_array().unwrap().len(), 2);

        let off = post(
            ctx,
            "/dev/activate",
            &t1,
            json!({"activate": 0, "runid": run}),
        )
        .await;
        assert_eq!(off["activate"], 0);
        post(
            ctx,
            "/dev/activate",
            &t1,
            json!({"activate": 1, "runid": run}),
        )
        .await;

        let initial = post(
            ctx,
            "/dev/weightsavg",
            &t0,
            json!({"runid": run.to_string()}),
        )
        .await;
        assert_eq!(initial["model.0.0.weight"].as_array().unwrap().len(), 5);
        assert_eq!(flat(&m, &initial).len(), 5598);

        let (a, b) = (values(31, 5598), values(32, 5598));
        let first = post(
            ctx,
            "/dev/weights",
            &t0,
            json!({"runid": run.to_string(), "weights": weights_object(&m, &a)}),
        )
        .await;
        assert_eq!(first["closed"], false);
        let second = post(
            ctx,
            "/dev/weights",
            &t1,
            json!({"runid": run.to_string(), "weights": weights_object(&m, &b)}),
        )
        .await;
        assert_eq!(second["closed"], true);
        let avg = post(ctx, "/dev/weightsavg", &t1, json!({"runid": run})).await;
        assert_close(&flat(&m, &avg), &reference(&[(a, 1.0), (b, 1.0)]));

        // Gradients as a string (the list form), averaged and returned in the same form.
        let (g0, g1) = (values(41, 5598), values(42, 5598));
        let list = |v: &[f32]| encode_tensor_json(v, &m, TensorForm::List);
        post(
            ctx,
            "/dev/results",
            &t0,
            json!({"runid": run, "gradients": list(&g0)}),
        )
        .await;
        let waiting = post(ctx, "/dev/agggrad", &t0, json!({"runid": run}));
        let late = async {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            post(
                ctx,
                "/dev/results",
                &t1,
                json!({"runid": run, "gradients": list(&g1)}),
            )
            .await
        };
        let (avg, _) = tokio::join!(waiting, late);
        let text = avg.as_str().expect("a JSON string");
        assert!(text.starts_with("[["), "the list form it was uploaded in");
        let got = meshfed_shared::api::upload::decode_tensor_json(text.as_bytes(), &m).unwrap();
        assert_eq!(got.form, TensorForm::List);
        assert_close(&got.values, &reference(&[(g0, 1.0), (g1, 1.0)]));

        // Refusals in the same wrapper.
        let (status, body) = call(
            ctx,
            reqwest::Method::POST,
            "/dev/weightsavg",
            &outsider,
            Some(json!({"runid": run})),
        )
        .await;
        assert_eq!(
            (
                status,
                body["statusCode"].clone(),
                body["body"]["error"].clone()
            ),
            (403, json!(403), json!("PERMISSION_DENIED"))
        );
        let (status, body) = call(
            ctx,
            reqwest::Method::POST,
            "/dev/runs",
            "garbage",
            Some(json!({})),
        )
        .await;
        assert_eq!((status, body["statusCode"].clone()), (401, json!(401)));
        let (status, _) = call(
            ctx,
            reqwest::Method::POST,
            "/dev/weights",
            &t0,
            Some(json!({"runid": run, "weights": {"model.0.0.weight": [1.0]}})),
        )
        .await;
        assert_eq!(status, 422);
    });
}
