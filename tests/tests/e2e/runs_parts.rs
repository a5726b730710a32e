//! Uploads in parts, on a server of its own whose requests carry at most 5 MiB
//! (`MAX_UPLOAD_BYTES`): an 8 MB upload is refused in one request and counted in parts, sent
//! out of order; every attack on the parts is refused (someone else's upload, a part out of
//! range or of the wrong size, completing with a part missing, parts that do not join to the
//! declared SHA-256) and nothing of a refused upload counts or stays in R2; an abandoned one
//! is aborted by the sweep; `meshfed join`'s client falls back to parts on its own.

use meshfed_cli::server::{Server, Upload};
use meshfed_e2e::identity::PASSWORD;
use meshfed_e2e::runs::*;
use meshfed_e2e::{server, Ctx};
use meshfed_shared::api::runs::sha256_hex;
use meshfed_shared::meshnet::ModelConfig;
use reqwest::Method;
use serde_json::{json, Value};

const PART_CAP: &str = "5242880";

/// `method path` as `token` with a raw body.
async fn raw(ctx: &Ctx, method: Method, path: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
    let resp = ctx
        .call(method, path)
        .bearer(token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await;
    let status = resp.status;
    (status, resp.json())
}

/// Starts an upload in parts of `body`, declaring `sha256`; the session.
async fn start(ctx: &Ctx, token: &str, run: i64, body: &[u8], sha256: &str) -> Value {
    let declared = json!({"bytes": body.len(), "sha256": sha256, "format": "safetensors"});
    let path = format!("/api/runs/{run}/rounds/1/weights/parts");
    let (status, answer) = send(ctx, Method::POST, &path, token, Some(declared)).await;
    assert_eq!(status, 201, "{answer}");
    answer["data"].clone()
}

fn part_path(run: i64, id: &str, n: &str) -> String {
    format!("/api/runs/{run}/rounds/1/weights/parts/{id}/{n}")
}

/// `PUT` part `n` (any text: the route's own checks are under test).
async fn put_part(
    ctx: &Ctx,
    token: &str,
    run: i64,
    id: &str,
    n: &str,
    part: Vec<u8>,
) -> (u16, Value) {
    raw(ctx, Method::PUT, &part_path(run, id, n), token, part).await
}

/// `body` cut into the session's parts.
fn parts_of(session: &Value, body: &[u8]) -> Vec<Vec<u8>> {
    let size = session["part_bytes"].as_u64().unwrap() as usize;
    body.chunks(size).map(<[u8]>::to_vec).collect()
}

pub fn an_upload_larger_than_a_request_counts_in_parts_and_attacks_fail(ctx: &Ctx) {
    let state = server::fresh_state_dir("parts");
    let mut vars = server::SHARED_VARS.to_vec();
    vars.push(("MAX_UPLOAD_BYTES", PART_CAP));
    let mut own = server::start_with(&state, None, &vars).expect("server starts");
    let local = ctx.with_base(own.base_url());
    let model = ModelConfig {
        channels: 96,
        ..ModelConfig::model5(3)
    };
    let uploads: Vec<(Vec<f32>, f64)> = (0..2)
        .map(|i| (values(40 + i, model.parameter_count()), (i + 2) as f64))
        .collect();
    let bodies: Vec<Vec<u8>> = uploads
        .iter()
        .map(|(v, _)| safetensors_of(&model, v))
        .collect();
    assert!(
        bodies[0].len() > 7 << 20,
        "an upload over one part: {}",
        bodies[0].len()
    );
    let (users, t, run) = local.block_on(async {
        let users = participants(&local, "parts", 3).await;
        let t: Vec<String> = users.iter().map(token).collect();
        let run = create_run(&local, &users[0], &[&users[1]], json!({"model": model})).await;

        // One request cannot carry it.
        let (status, body) =
            put_tensors(&local, &t[0], run, 1, "weights", bodies[0].clone(), 2).await;
        assert_eq!(status, 413, "{body}");

        // Declarations are checked: a digest that is not one, an upload over the model's size,
        // an outsider.
        let path = format!("/api/runs/{run}/rounds/1/weights/parts");
        let bad = json!({"bytes": 10, "sha256": "xyz", "format": "safetensors"});
        let (status, body) = send(&local, Method::POST, &path, &t[0], Some(bad)).await;
        assert_eq!(
            (status, &body["error"]["details"]["field"]),
            (400, &json!("sha256")),
            "{body}"
        );
        let huge = json!({"bytes": 1u64 << 40, "sha256": "ab".repeat(32), "format": "json"});
        let (status, body) = send(&local, Method::POST, &path, &t[0], Some(huge)).await;
        assert_eq!(status, 413, "{body}");
        let fine = json!({"bytes": 10, "sha256": "ab".repeat(32), "format": "json"});
        let (status, body) = send(&local, Method::POST, &path, &t[2], Some(fine)).await;
        assert_eq!(status, 403, "an outsider: {body}");

        // Participant 0 in parts, the last part first.
        let digest = sha256_hex(&bodies[0]);
        let session = start(&local, &t[0], run, &bodies[0], &digest).await;
        let id = session["upload_id"].as_str().unwrap().to_string();
        assert_eq!(
            (session["part_bytes"].as_u64(), session["parts"].as_u64()),
            (Some(5 << 20), Some(2))
        );
        let parts = parts_of(&session, &bodies[0]);
        // Attacks on someone else's upload, and parts that are not this upload's.
        let (status, body) = put_part(&local, &t[1], run, &id, "1", parts[0].clone()).await;
        assert_eq!(status, 404, "another participant's upload: {body}");
        let (status, body) = put_part(&local, &t[0], run, &id, "3", parts[1].clone()).await;
        assert_eq!(status, 422, "part 3 of 2: {body}");
        let (status, body) = put_part(&local, &t[0], run, &id, "1", parts[1].clone()).await;
        assert_eq!(status, 422, "a short part 1: {body}");
        let mut long = parts[0].clone();
        long.push(0);
        let (status, body) = put_part(&local, &t[0], run, &id, "1", long).await;
        assert_eq!(status, 413, "a long part 1: {body}");
        let (status, body) = put_part(&local, &t[0], run, &id, "2", parts[1].clone()).await;
        assert_eq!(
            (status, &body["data"]["received"]),
            (200, &json!(1)),
            "{body}"
        );
        let complete = format!(
            "{}?num_examples=2&loss=0.5&dice=0.25",
            part_path(run, &id, "complete")
        );
        let (status, body) = raw(&local, Method::POST, &complete, &t[0], vec![]).await;
        assert_eq!(
            (status, &body["error"]["details"]["missing"]),
            (409, &json!([1])),
            "{body}"
        );
        let (status, body) = put_part(&local, &t[0], run, &id, "1", parts[0].clone()).await;
        assert_eq!(
            (status, &body["data"]["received"]),
            (200, &json!(2)),
            "{body}"
        );
        let (status, body) = raw(&local, Method::POST, &complete, &t[0], vec![]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["data"]["uploads"], &body["data"]["closed"]),
            (&json!(1), &json!(false)),
            "{body}"
        );
        let (status, body) = raw(&local, Method::POST, &complete, &t[0], vec![]).await;
        assert_eq!(status, 404, "completed once: {body}");

        // Participant 1's parts do not join to what it declared (a byte changed on the way).
        let digest = sha256_hex(&bodies[1]);
        let session = start(&local, &t[1], run, &bodies[1], &digest).await;
        let id = session["upload_id"].as_str().unwrap().to_string();
        let mut parts = parts_of(&session, &bodies[1]);
        parts[1][100] ^= 1;
        for (n, part) in parts.iter().enumerate() {
            let (status, body) = raw(
                &local,
                Method::PUT,
                &part_path(run, &id, &(n + 1).to_string()),
                &t[1],
                part.clone(),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
        let complete = format!(
            "{}?num_examples=3&loss=0.5&dice=0.25",
            part_path(run, &id, "complete")
        );
        let (status, body) = raw(&local, Method::POST, &complete, &t[1], vec![]).await;
        assert_eq!(
            (status, &body["error"]["details"]["field"]),
            (422, &json!("sha256")),
            "{body}"
        );
        let detail = run_detail(&local, &t[0], run).await;
        assert_eq!(
            detail["round"]["uploads"], 1,
            "nothing of it counted: {detail}"
        );

        // An upload in parts left unfinished is aborted by the sweep a day later.
        let session = start(
            &local,
            &t[0],
            run,
            &bodies[0][..10],
            &sha256_hex(&bodies[0][..10]),
        )
        .await;
        assert_eq!(session["parts"], 1);
        let rows = dev_json(&local, Method::GET, "/api/_dev/rows", None).await;
        assert_eq!(rows["part_uploads"], 1, "{rows}");
        let tomorrow = now_ms() + 2 * 86_400_000;
        let swept = dev_json(
            &local,
            Method::POST,
            "/api/_dev/sweep",
            Some(json!({"at_ms": tomorrow})),
        )
        .await;
        assert_eq!(swept["part_uploads"], 1, "{swept}");
        let rows = dev_json(&local, Method::GET, "/api/_dev/rows", None).await;
        assert_eq!(rows["part_uploads"], 0, "{rows}");

        (users, t, run)
    });

    // Sent again, intact, by `meshfed join`'s client: refused in one request (413), it goes in
    // parts, and the round closes with exactly the two uploads' FedAvg.
    let cli = Server::sign_in(
        &local.base,
        &users[1].username,
        PASSWORD,
        Some(&users[1].secret),
    )
    .expect("the participant signs in");
    let upload = Upload {
        num_examples: 3,
        loss: 0.5,
        dice: 0.25,
        validation: None,
    };
    let receipt = cli
        .put_weights(run, 1, bodies[1].clone(), &upload)
        .expect("the upload goes in parts")
        .expect("answered on the first try");
    assert!(receipt.closed && receipt.uploads == 2, "{receipt:?}");
    local.block_on(async {
        let got = current_model(&local, &t[0], run, &model).await;
        assert_close(&got, &reference(&uploads));
        let left = r2_keys(&local, &format!("runs/{run}/rounds/1/parts/")).await;
        assert_eq!(left, 0, "no part left in R2");
    });
    assert!(own.stop(), "server stopped");
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn dev_json(ctx: &Ctx, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut call = ctx.call(method, path);
    if let Some(b) = body {
        call = call.json(&b);
    }
    let resp = call.send().await;
    assert_eq!(resp.status, 200, "{path}");
    resp.json()["data"].clone()
}

async fn r2_keys(ctx: &Ctx, prefix: &str) -> usize {
    let listed = dev_json(
        ctx,
        Method::GET,
        &format!("/api/_dev/objects?prefix={prefix}"),
        None,
    )
    .await;
    listed["keys"].as_array().map_or(0, Vec::len)
}
