//! Secure aggregation against the real Worker (D1, R2, the run's Durable Object):
//! - four participants run the protocol of `shared::secagg` with known updates; one drops
//!   after sending its shares; the round closes with the other three, and the global model is
//!   their plaintext FedAvg to within the fixed-point bound, their federated validation the
//!   weighted mean of what they reported. What R2 holds of one upload does
//!   not correlate with that upload. Each tampering is refused and leaves the round unharmed.
//!
//! The rounds the product's own participants take are in `secure_rounds.rs`.

use meshfed_e2e::runs::*;
use meshfed_e2e::Ctx;
use meshfed_shared::api::runs::SharesRequest;
use meshfed_shared::auth::mnemonic::{self, SigningKey};
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::secagg::identity::{MemberSignature, SignedKeys};
use meshfed_shared::secagg::{
    client, fixed, vector, KeyAdvert, Peer, RoundContext, RoundSecrets, SealedShare,
};
use reqwest::Method;
use serde_json::{json, Value};

const CAP: u64 = 1000;

struct Site {
    token: String,
    /// The key of the user's recovery phrase: it signs the round's keys.
    identity: SigningKey,
    secrets: RoundSecrets,
    values: Vec<f32>,
    examples: u64,
}

impl Site {
    /// `keys` signed by this site's recovery-phrase key for `attempt` of `ctx`'s round, as JSON.
    fn signed(&self, ctx: &RoundContext, attempt: u32, keys: KeyAdvert) -> Value {
        serde_json::to_value(SignedKeys::sign(&self.identity, ctx, attempt, keys)).unwrap()
    }
}

async fn secure(
    ctx: &Ctx,
    site: &Site,
    run: i64,
    round: u32,
    op: &str,
    body: Value,
) -> (u16, Value) {
    let path = format!("/api/runs/{run}/rounds/{round}/secure/{op}");
    send(ctx, Method::POST, &path, &site.token, Some(body)).await
}

pub(crate) async fn view(ctx: &Ctx, token: &str, run: i64, round: u32) -> Value {
    let path = format!("/api/runs/{run}/rounds/{round}/secure");
    let (status, body) = send(ctx, Method::GET, &path, token, None).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

async fn put_input(ctx: &Ctx, token: &str, run: i64, round: u32, words: &[u32]) -> (u16, Value) {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let resp = ctx
        .put(&format!("/api/runs/{run}/rounds/{round}/secure/input"))
        .bearer(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await;
    let status = resp.status;
    (status, resp.json())
}

pub fn a_dropout_after_sharing_leaves_the_fedavg_of_the_rest(ctx: &Ctx) {
    let model: ModelConfig = serde_json::from_value(
        json!({"channels": 21, "dilations": [1, 2, 4, 8, 16, 8, 4, 2, 1], "classes": 3}),
    )
    .unwrap();
    let p = model.parameter_count();
    ctx.block_on(async {
        let users = participants(ctx, "secagg", 4).await;
        let robust = json!({"name": "s", "model": model, "aggregation": "median",
            "secure_aggregation": true});
        let (status, body) = send(
            ctx,
            Method::POST,
            "/api/runs",
            &token(&users[0]),
            Some(robust),
        )
        .await;
        assert_eq!(status, 422, "the median needs every upload: {body}");
        let body = json!({"model": model, "round_timeout_secs": 8, "secure_aggregation": true,
            "plan": {"max_num_examples": CAP}});
        let others: Vec<_> = users[1..].iter().collect();
        let run = create_run(ctx, &users[0], &others, body).await;
        let global = current_model(ctx, &token(&users[0]), run, &model).await;
        let ctx_r1 = RoundContext { run, round: 1 };
        let sites: Vec<Site> = users
            .iter()
            .enumerate()
            .map(|(i, u)| Site {
                token: token(u),
                identity: mnemonic::signing_key(&u.recovery_phrase).unwrap(),
                secrets: RoundSecrets::derive(&[i as u8 + 1; 32], &ctx_r1),
                values: global
                    .iter()
                    .zip(values(i as u64 + 1, p))
                    .map(|(g, v)| g + 0.01 * v)
                    .collect(),
                examples: [200, 400, 600, 800][i],
            })
            .collect();
        // A plaintext upload to a secure run is refused: the server never takes one.
        let (status, refusal) = put_weights_of(ctx, &sites[0], &model, run).await;
        assert_eq!(status, 409, "{refusal}");

        // Keys. A forged advertisement (a small-order point: masks anyone could compute) and
        // keys for another round are refused; so are keys not signed by their owner's
        // recovery-phrase key: unsigned, signed by another member (an access token alone
        // cannot advertise keys for its user), or signed for another attempt. The real ones
        // fix the members.
        let small =
            serde_json::from_value(json!({"c_pk": "00".repeat(32), "s_pk": "01".repeat(32)}));
        let forged = sites[0].signed(&ctx_r1, 0, small.unwrap());
        let (status, body) = secure(ctx, &sites[0], run, 1, "keys", forged).await;
        assert_eq!(status, 422, "{body}");
        let advert = sites[0].signed(&ctx_r1, 0, sites[0].secrets.advert());
        let (status, body) = secure(ctx, &sites[0], run, 2, "keys", advert).await;
        assert_eq!(status, 409, "round 2 has not opened: {body}");
        let unsigned = serde_json::to_value(sites[0].secrets.advert()).unwrap();
        let (status, body) = secure(ctx, &sites[0], run, 1, "keys", unsigned).await;
        assert_eq!(status, 400, "unsigned keys: {body}");
        let impostor = sites[1].signed(&ctx_r1, 0, sites[0].secrets.advert());
        let (status, body) = secure(ctx, &sites[0], run, 1, "keys", impostor).await;
        assert_eq!(status, 422, "keys signed by someone else: {body}");
        assert_eq!(body["error"]["code"], "UNPROCESSABLE_ENTITY", "{body}");
        let replayed = sites[0].signed(&ctx_r1, 1, sites[0].secrets.advert());
        let (status, body) = secure(ctx, &sites[0], run, 1, "keys", replayed).await;
        assert_eq!(status, 422, "keys signed for another attempt: {body}");
        for s in &sites {
            let advert = s.signed(&ctx_r1, 0, s.secrets.advert());
            let (status, body) = secure(ctx, s, run, 1, "keys", advert).await;
            assert_eq!(status, 200, "{body}");
        }
        let other_keys = RoundSecrets::derive(&[99; 32], &ctx_r1).advert();
        let other = sites[0].signed(&ctx_r1, 0, other_keys);
        let (status, body) = secure(ctx, &sites[0], run, 1, "keys", other).await;
        assert_eq!(status, 409, "keys cannot change once advertised: {body}");
        let v = view(ctx, &sites[0].token, run, 1).await;
        assert_eq!(v["phase"], "shares", "everyone advertised: {v}");
        assert_eq!(v["threshold"], 3, "{v}");
        let members: Vec<Peer> = serde_json::from_value(v["members"].clone()).unwrap();
        assert_eq!(members.len(), 4);
        // Every member's signature is in the view, with the public key it verifies against:
        // the one its recovery phrase derives.
        let signatures: Vec<MemberSignature> =
            serde_json::from_value(v["signatures"].clone()).unwrap();
        assert_eq!(signatures.len(), 4, "{v}");
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        for m in &members {
            let sig = signatures.iter().find(|s| s.x == m.x).expect("signed");
            let owner = (sites.iter())
                .map(|s| s.identity.verifying_key().to_bytes())
                .find(|public| hex(public) == sig.public_key)
                .expect("a site's own recovery-phrase key");
            let signed = SignedKeys {
                keys: m.keys,
                signature: sig.signature,
            };
            assert_eq!(signed.verify(&owner, &ctx_r1, 0), Ok(()));
        }

        // Shares: each member seals one for everyone. A share that names its sender (another
        // member's index, say) is refused: the server knows who sends. So is a second batch.
        let mut xs = vec![];
        for (i, s) in sites.iter().enumerate() {
            let me: u8 = view(ctx, &s.token, run, 1).await["me"].as_u64().unwrap() as u8;
            xs.push(me);
            let sealed =
                client::seal_shares(&s.secrets, me, &members, 3, &ctx_r1, &[i as u8; 32]).unwrap();
            if i == 0 {
                let mut forged = sealed.clone();
                forged.iter_mut().for_each(|c| c.from = me % 4 + 1);
                let (status, body) =
                    secure(ctx, s, run, 1, "shares", json!({"shares": forged})).await;
                assert_eq!(status, 400, "{body}");
                let reason = body["error"]["details"]["reason"]
                    .as_str()
                    .unwrap_or_default();
                assert!(reason.starts_with("unknown field `from`"), "{body}");
            }
            let (status, body) =
                secure(ctx, s, run, 1, "shares", json!(SharesRequest::of(&sealed))).await;
            assert_eq!(status, 200, "{body}");
            if i == 0 {
                // The same shares again (a retried request) change nothing; other shares are
                // refused.
                let (status, body) =
                    secure(ctx, s, run, 1, "shares", json!(SharesRequest::of(&sealed))).await;
                assert_eq!(status, 200, "a retry: {body}");
                let other =
                    client::seal_shares(&s.secrets, me, &members, 3, &ctx_r1, &[77; 32]).unwrap();
                let (status, body) =
                    secure(ctx, s, run, 1, "shares", json!(SharesRequest::of(&other))).await;
                assert_eq!(status, 409, "other shares: {body}");
            }
        }
        let v = view(ctx, &sites[0].token, run, 1).await;
        assert_eq!(v["phase"], "input", "{v}");

        // Inputs: site 3 (the fourth) drops out now. A wrong-sized input is refused.
        let mut stored_plain = vec![];
        for (i, s) in sites.iter().enumerate().take(3) {
            let me = xs[i];
            let w = vector::weight(true, s.examples, Some(CAP));
            let input = vector::encode(&s.values, &global, w, &scores(i), model.classes, 4);
            let masked = client::masked_input(&s.secrets, me, &members, &ctx_r1, &input);
            if i == 0 {
                let (status, body) = put_input(ctx, &s.token, run, 1, &masked[1..]).await;
                assert_eq!(status, 422, "{body}");
            }
            let (status, body) = put_input(ctx, &s.token, run, 1, &masked).await;
            assert_eq!(status, 200, "{body}");
            if i == 0 {
                let (status, body) = put_input(ctx, &s.token, run, 1, &masked).await;
                assert_eq!(status, 200, "a retry: {body}");
                let mut other = masked.clone();
                other[0] = other[0].wrapping_add(1);
                let (status, body) = put_input(ctx, &s.token, run, 1, &other).await;
                assert_eq!(status, 409, "another input: {body}");
                stored_plain = input
                    .iter()
                    .map(|&w| fixed::decode(w))
                    .collect::<Vec<f64>>();
            }
        }
        // The fourth is waited for until the phase's deadline (a quarter of the timeout,
        // at least 5 s), then the round goes on with three.
        let mut v = view(ctx, &sites[0].token, run, 1).await;
        for _ in 0..100 {
            if v["phase"] == "reveal" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            v = view(ctx, &sites[0].token, run, 1).await;
        }
        assert_eq!(v["phase"], "reveal", "{v}");
        assert_eq!(v["survivors"].as_array().unwrap().len(), 3, "{v}");
        // The run page counts the masked inputs in as the round's uploads.
        let detail = run_detail(ctx, &sites[0].token, run).await;
        assert_eq!(detail["round"]["uploads"], 3, "{detail}");
        let uploaded: Vec<bool> = (detail["participants"].as_array().unwrap().iter())
            .map(|p| p["uploaded"] == true)
            .collect();
        assert_eq!(uploaded.iter().filter(|u| **u).count(), 3, "{detail}");

        // What R2 holds of site 0's upload: uniform-looking words, uncorrelated with its update.
        let key = format!("runs/{run}/rounds/1/secure/");
        let listed = ctx
            .get(&format!("/api/_dev/objects?prefix={key}"))
            .send()
            .await;
        let listed: Value = listed.json();
        assert_eq!(
            listed["data"]["keys"].as_array().unwrap().len(),
            3,
            "{listed}"
        );
        let first = listed["data"]["keys"][0].as_str().unwrap().to_string();
        let stored = ctx
            .get(&format!("/api/_dev/object?key={first}"))
            .send()
            .await;
        let stored = stored.bytes;
        assert_eq!(stored.len(), vector::len(p, model.classes) * 4);
        let words: Vec<f64> = stored
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as f64)
            .collect();
        let r = correlation(&stored_plain, &words);
        assert!(
            r.abs() < 0.01,
            "correlation of the stored vector with the update: {r}"
        );

        // Reveals: the three survivors reveal; site 3 cannot (its input did not count).
        let senders: Vec<Peer> = members.clone();
        let survivors: Vec<u8> = serde_json::from_value(v["survivors"].clone()).unwrap();
        let (status, body) = secure(ctx, &sites[3], run, 1, "reveal", json!({"reveals": []})).await;
        assert_eq!(status, 409, "{body}");
        for (i, s) in sites.iter().enumerate().take(3) {
            let mine = view(ctx, &s.token, run, 1).await;
            let reveals = client::reveal(
                &s.secrets,
                xs[i],
                &senders,
                &serde_json::from_value::<Vec<SealedShare>>(mine["shares_for_me"].clone()).unwrap(),
                &survivors,
                3,
                &ctx_r1,
            )
            .unwrap();
            let (status, body) =
                secure(ctx, s, run, 1, "reveal", json!({ "reveals": reveals })).await;
            assert_eq!(status, 200, "{body}");
        }
        let detail = run_detail(ctx, &sites[0].token, run).await;
        assert_eq!(detail["current_round"], 2, "{detail}");
        let metrics = &detail["history"][0]["metrics"];
        assert_eq!(metrics["uploads"], 3, "{detail}");
        // Federated validation travels masked too: each figure's mean over those who reported
        // it, weighted by examples (sites 0 and 1 scored; class 2 was present at site 0 only).
        let close = |field: &Value, expected: f64| {
            let got = field.as_f64().unwrap_or(f64::NAN);
            assert!(
                (got - expected).abs() < 1e-6,
                "{got} vs {expected}: {metrics}"
            );
        };
        close(&metrics["loss"], 0.5);
        close(&metrics["val_loss"], (0.2 * 0.4 + 0.4 * 0.6) / 0.6);
        let class_1 = (0.2 * 0.8 + 0.4 * 0.7) / 0.6;
        close(&metrics["val_dice_per_class"][0], class_1);
        close(&metrics["val_dice_per_class"][1], 0.6);
        close(&metrics["val_dice"], (class_1 + 0.6) / 2.0);
        let got = current_model(ctx, &sites[0].token, run, &model).await;
        let weights: Vec<f64> = sites[..3].iter().map(|s| s.examples as f64).collect();
        let total: f64 = weights.iter().sum();
        let bound = fixed::sum_error_bound(3) / (total / CAP as f64);
        let mut worst = 0.0f64;
        for (i, g) in got.iter().enumerate() {
            let plain = sites[..3]
                .iter()
                .zip(&weights)
                .map(|(s, w)| w * s.values[i] as f64)
                .sum::<f64>()
                / total;
            worst = worst.max((*g as f64 - plain).abs());
        }
        // Fixed-point bound plus one f32 rounding of values near 1.
        assert!(
            worst <= bound + 1.2e-7,
            "worst error {worst}, bound {bound}"
        );
        let left = ctx
            .get(&format!("/api/_dev/objects?prefix={key}"))
            .send()
            .await;
        let left: Value = left.json();
        assert_eq!(
            left["data"]["keys"].as_array().unwrap().len(),
            0,
            "masked inputs deleted: {left}"
        );
    });
}

async fn put_weights_of(ctx: &Ctx, s: &Site, model: &ModelConfig, run: i64) -> (u16, Value) {
    let body = safetensors_of(model, &s.values);
    put_tensors(ctx, &s.token, run, 1, "weights", body, s.examples).await
}

/// What site `i` reports: the same training figures, and federated validation from sites 0
/// (both classes present) and 1 (class 2 absent), none from the others.
fn scores(i: usize) -> vector::Scores {
    let validation = match i {
        0 => Some((0.4, vec![Some(0.8), Some(0.6)])),
        1 => Some((0.6, vec![Some(0.7), None])),
        _ => None,
    };
    vector::Scores {
        loss: 0.5,
        dice: 0.25,
        validation,
    }
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}
