//! Secure aggregation against a real `wrangler dev` (release Worker, loopback), side by side
//! with plaintext rounds in one run: N ∈ {4, 16, 64} simulated participants (10 % of them,
//! at least one, send their shares and then leave) for model5 (5,598 values) and a
//! 1M-parameter MeshNet. Prints per participant and round the protocol's client CPU (keys,
//! shares, masking, reveals; training excluded) and upload bytes against the plaintext
//! upload, and the time the round's closing request takes (the last reveal: the Worker
//! unmasks and closes) against a plaintext round's closing upload.
//!
//! Each phase's calls, and the plaintext uploads, go at most 16 at a time.
//!
//! `cargo run --release -p meshfed-bench --bin bench-secure-rounds` after a build
//! (`-- --n 64 --model wide` for one row).

use std::time::{Duration, Instant};

use meshfed_e2e::identity::MfaUser;
use meshfed_e2e::runs::{
    create_run, participants, put_tensors, safetensors_of, send, token, values,
};
use meshfed_e2e::{server, Ctx};
use meshfed_shared::api::runs::SharesRequest;
use meshfed_shared::auth::mnemonic::{self, SigningKey};
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::secagg::identity::SignedKeys;
use meshfed_shared::secagg::{client, vector, Peer, RoundContext, RoundSecrets, SealedShare};
use reqwest::Method;
use serde_json::{json, Value};

/// Which rows to measure (all six by default).
#[derive(clap::Parser)]
struct Args {
    /// Numbers of participants.
    #[arg(long, value_delimiter = ',', default_values_t = [4, 16, 64])]
    n: Vec<usize>,
    /// Models: `model5` (5,598 values) and `wide` (997,587).
    #[arg(long, value_delimiter = ',', default_values = ["model5", "wide"])]
    model: Vec<String>,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    if let Some(m) = args
        .model
        .iter()
        .find(|m| !["model5", "wide"].contains(&m.as_str()))
    {
        panic!("unknown model {m}: model5 or wide");
    }
    let (mut srv, ctx) = server::for_benchmark("bench-secure-rounds", Duration::from_secs(600));
    let rt = ctx.rt.clone();
    let wide: ModelConfig = serde_json::from_value(json!({"channels": 48,
        "dilations": [1, 2, 4, 8, 16, 8, 4, 2, 1, 1, 2, 4, 8, 16, 8, 4, 2], "classes": 3}))
    .unwrap();
    rt.block_on(async {
        let mut users = vec![];
        let most = args.n.iter().copied().max().unwrap_or(0);
        assert!(
            most <= 64,
            "at most 64 participants (a round's indices are bytes)"
        );
        for wave in 0..most.div_ceil(16) {
            users.extend(participants(&ctx, &format!("bsec{wave}x"), 16).await);
        }
        println!(
            "{:>8} {:>3} | {:>10} {:>10} {:>6} | {:>9} {:>10} {:>9} {:>6}",
            "params",
            "N",
            "plain B",
            "secure B",
            "ratio",
            "client ms",
            "plain close",
            "secure close",
            "ratio"
        );
        let models = [("model5", ModelConfig::model5(3)), ("wide", wide)];
        for (_, model) in models
            .iter()
            .filter(|(name, _)| args.model.iter().any(|m| m == name))
        {
            for &n in &args.n {
                let plain = plain_round(&ctx, &users[..n], model).await;
                let secure = secure_round(&ctx, &users[..n], model).await;
                println!(
                    "{:>8} {:>3} | {:>10} {:>10} {:>6.3} | {:>9.1} {:>10.0}ms {:>7.0}ms {:>6.2}",
                    model.parameter_count(),
                    n,
                    plain.0,
                    secure.bytes,
                    secure.bytes as f64 / plain.0 as f64,
                    secure.client_ms,
                    plain.1,
                    secure.close_ms,
                    secure.close_ms / plain.1
                );
            }
        }
    });
    println!(
        "requests asked again after a 503 (one run's object overloaded): {}",
        RETRIED.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(srv.stop(), "server stopped");
}

/// Bytes of one upload and ms of the upload that closed the round.
async fn plain_round(ctx: &Ctx, users: &[MfaUser], model: &ModelConfig) -> (usize, f64) {
    let others: Vec<_> = users[1..].iter().collect();
    let run = create_run(ctx, &users[0], &others, json!({"model": model})).await;
    let p = model.parameter_count();
    let bodies: Vec<Vec<u8>> = (0..users.len())
        .map(|i| safetensors_of(model, &values(i as u64, p)))
        .collect();
    let puts = users.iter().zip(&bodies).map(|(u, b)| async move {
        for _ in 0..8 {
            let sent = Instant::now();
            let (status, body) =
                put_tensors(ctx, &token(u), run, 1, "weights", b.clone(), 10).await;
            if status == 503 {
                RETRIED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            assert_eq!(status, 200, "{body}");
            return (
                sent.elapsed().as_secs_f64() * 1e3,
                body["data"]["closed"] == true,
            );
        }
        panic!("upload: still 503 after 8 tries");
    });
    let answers = at_most(puts).await;
    let close = answers.iter().find(|a| a.1).expect("a closing upload").0;
    (bodies[0].len(), close)
}

/// Participants' calls of one phase, at most `CONCURRENT` in flight (they finish training at
/// different times; 64 at once overload one run's object in `wrangler dev`), in order.
async fn at_most<T>(calls: impl Iterator<Item = impl std::future::Future<Output = T>>) -> Vec<T> {
    use futures_util::stream::StreamExt;
    futures_util::stream::iter(calls)
        .buffered(CONCURRENT)
        .collect()
        .await
}

const CONCURRENT: usize = 16;

struct Secure {
    bytes: usize,
    client_ms: f64,
    close_ms: f64,
}

/// POSTs as the CLI does: asked again after a 503 (workerd's answer when too many requests
/// queue for one Durable Object), counted in `RETRIED`.
async fn post(ctx: &Ctx, t: &str, path: String, body: Value) -> usize {
    let size = serde_json::to_vec(&body).unwrap().len();
    for _ in 0..8 {
        let (status, answer) = send(ctx, Method::POST, &path, t, Some(body.clone())).await;
        if status == 503 {
            RETRIED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        assert_eq!(status, 200, "{path}: {answer}");
        return size;
    }
    panic!("{path}: still 503 after 8 tries");
}

static RETRIED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// GETs `path`'s data, asked again after a 503.
async fn get(ctx: &Ctx, t: &str, path: &str) -> Value {
    for _ in 0..8 {
        let (status, v) = send(ctx, Method::GET, path, t, None).await;
        if status == 503 {
            RETRIED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        assert_eq!(status, 200, "{path}: {v}");
        return v["data"].clone();
    }
    panic!("{path}: still 503 after 8 tries");
}

async fn view(ctx: &Ctx, t: &str, base: &str, phase: &str) -> Value {
    loop {
        let v = get(ctx, t, base).await;
        if v["phase"] == phase {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn secure_round(ctx: &Ctx, users: &[MfaUser], model: &ModelConfig) -> Secure {
    let n = users.len();
    let others: Vec<_> = users[1..].iter().collect();
    let body = json!({"model": model, "secure_aggregation": true, "aggregation": "mean",
        "round_timeout_secs": 3600});
    let run = create_run(ctx, &users[0], &others, body).await;
    let tokens: Vec<String> = users.iter().map(token).collect();
    let p = model.parameter_count();
    let rctx = RoundContext { run, round: 1 };
    let base = format!("/api/runs/{run}/rounds/1/secure");
    let global = vec![0.0f32; p];
    let scores = vector::Scores {
        loss: 0.5,
        dice: 0.5,
        validation: None,
    };
    let secrets: Vec<RoundSecrets> = (0..n)
        .map(|i| RoundSecrets::derive(&[i as u8 + 1; 32], &rctx))
        .collect();
    let mut client_s = 0.0;
    let mut bytes = 0;
    // Each advertisement signed with its owner's recovery-phrase key, as clients sign them.
    let identities: Vec<SigningKey> = (users.iter())
        .map(|u| mnemonic::signing_key(&u.recovery_phrase).expect("the phrase"))
        .collect();
    let keys = tokens
        .iter()
        .zip(&secrets)
        .zip(&identities)
        .map(|((t, s), id)| {
            let signed = SignedKeys::sign(id, &rctx, 0, s.advert());
            post(
                ctx,
                t,
                format!("{base}/keys"),
                serde_json::to_value(signed).unwrap(),
            )
        });
    bytes += at_most(keys).await[0];
    let v = view(ctx, &tokens[0], &base, "shares").await;
    let members: Vec<Peer> = serde_json::from_value(v["members"].clone()).unwrap();
    let t = v["threshold"].as_u64().unwrap() as usize;
    let mut me = vec![];
    for tok in &tokens {
        me.push(get(ctx, tok, &base).await["me"].as_u64().unwrap() as u8);
    }
    let mut sealed_all = vec![];
    for (i, s) in secrets.iter().enumerate() {
        let started = Instant::now();
        let sealed = client::seal_shares(s, me[i], &members, t, &rctx, &[3; 32]).unwrap();
        if i == 0 {
            client_s += started.elapsed().as_secs_f64();
        }
        sealed_all.push(sealed);
    }
    let shares = tokens.iter().zip(&sealed_all).map(|(tok, sealed)| {
        post(
            ctx,
            tok,
            format!("{base}/shares"),
            serde_json::to_value(SharesRequest::of(sealed)).unwrap(),
        )
    });
    bytes += at_most(shares).await[0];
    let dropped = (n / 10).max(1);
    let survivors = n - dropped;
    for tok in &tokens[survivors..] {
        post(
            ctx,
            tok,
            format!("/api/runs/{run}/activate"),
            json!({"active": false}),
        )
        .await;
    }
    let mut inputs = vec![];
    for (i, s) in secrets.iter().enumerate().take(survivors) {
        let started = Instant::now();
        let trained: Vec<f32> = values(i as u64 + 1, p);
        let input = vector::encode(&trained, &global, 1.0, &scores, model.classes, n);
        let masked = client::masked_input(s, me[i], &members, &rctx, &input);
        let raw: Vec<u8> = masked.iter().flat_map(|w| w.to_le_bytes()).collect();
        if i == 0 {
            client_s += started.elapsed().as_secs_f64();
            bytes += raw.len();
        }
        inputs.push(raw);
    }
    let input_url = ctx.url(&format!("{base}/input"));
    let url = &input_url;
    let puts = tokens.iter().zip(inputs).map(|(tok, raw)| async move {
        for _ in 0..8 {
            let resp = ctx
                .http
                .put(url)
                .bearer_auth(tok)
                .header("content-type", "application/octet-stream")
                .body(raw.clone())
                .send()
                .await
                .unwrap();
            if resp.status() == 503 {
                RETRIED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            assert_eq!(resp.status(), 200);
            return;
        }
        panic!("input: still 503 after 8 tries");
    });
    at_most(puts).await;
    let v = view(ctx, &tokens[0], &base, "reveal").await;
    let survivor_x: Vec<u8> = serde_json::from_value(v["survivors"].clone()).unwrap();
    let mut reveals = vec![];
    for (i, s) in secrets.iter().enumerate().take(survivors) {
        let mine = get(ctx, &tokens[i], &base).await;
        let mine: Vec<SealedShare> = serde_json::from_value(mine["shares_for_me"].clone()).unwrap();
        let started = Instant::now();
        let r = client::reveal(s, me[i], &members, &mine, &survivor_x, t, &rctx).unwrap();
        if i == 0 {
            client_s += started.elapsed().as_secs_f64();
        }
        reveals.push(json!({ "reveals": r }));
    }
    // All but the last reveal, then the last one alone: its answer waits for the unmasking.
    let last = reveals.pop().unwrap();
    let first = tokens
        .iter()
        .zip(reveals)
        .map(|(tok, r)| post(ctx, tok, format!("{base}/reveal"), r));
    bytes += at_most(first).await[0];
    let started = Instant::now();
    post(ctx, &tokens[survivors - 1], format!("{base}/reveal"), last).await;
    let close_ms = started.elapsed().as_secs_f64() * 1e3;
    let (_, detail) = send(
        ctx,
        Method::GET,
        &format!("/api/runs/{run}"),
        &tokens[0],
        None,
    )
    .await;
    assert_eq!(
        detail["data"]["current_round"], 2,
        "the last reveal closed the round"
    );
    Secure {
        bytes,
        client_ms: client_s * 1e3,
        close_ms,
    }
}
