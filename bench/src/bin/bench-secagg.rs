//! Secure aggregation's cost, natively and in one run (no server): for model5 (5,598 values)
//! and a 1M-parameter model at N = 4, 16, 64 participants with 10 % dropping out after the
//! shares, per participant and round:
//! - client CPU: keys, sealing shares, masking the input, opening shares and revealing,
//!   against encoding the plaintext upload (safetensors f32);
//! - upload bytes: keys + shares + masked input + reveals (JSON as the API takes them, the
//!   input as raw u32), against the plaintext safetensors upload;
//! - the server's unmasking at close (the Worker runs the same code compiled to wasm, which
//!   is slower than this native figure).
//!
//! First, the mask stream alone: 1M words of `secagg::stream` against the `chacha20` crate's
//! ChaCha12 through `apply_keystream`, which the masks used before.
//!
//! `cargo run --release -p meshfed-bench --bin bench-secagg`

use std::time::Instant;

use meshfed_e2e::runs::values;
use meshfed_shared::api::runs::{RevealRequest, SharesRequest};
use meshfed_shared::auth::mnemonic::SigningKey;
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::secagg::identity::SignedKeys;
use meshfed_shared::secagg::{
    client, fixed, server, stream, vector, Peer, RoundContext, RoundSecrets, SealedShare,
};
use meshfed_shared::tensor::{safetensors, DType};

fn secs<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64())
}

fn main() {
    stream_against_the_crate();
    let model5 = ModelConfig::model5(3);
    let wide: ModelConfig = serde_json::from_value(serde_json::json!({"channels": 48,
        "dilations": [1, 2, 4, 8, 16, 8, 4, 2, 1, 1, 2, 4, 8, 16, 8, 4, 2],
        "classes": 3}))
    .unwrap();
    println!(
        "{:>9} {:>3} | {:>9} {:>9} {:>6} | {:>11} {:>11} {:>6} | {:>10}",
        "params",
        "N",
        "plain ms",
        "secure ms",
        "ratio",
        "plain B",
        "secure B",
        "ratio",
        "unmask ms"
    );
    for model in [&model5, &wide] {
        let p = model.parameter_count();
        for n in [4usize, 16, 64] {
            row(model, p, n);
        }
    }
}

fn stream_against_the_crate() {
    use chacha20::cipher::{KeyIvInit, StreamCipher};
    let mut target = vec![0u32; 1 << 20];
    let mut bytes = vec![0u8; 4 << 20];
    let reps = 20;
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let ((), own) = secs(|| {
            for r in 0..reps {
                stream::apply(&mut target, &[r as u8; 32], true);
            }
        });
        let ((), theirs) = secs(|| {
            for r in 0..reps {
                let mut cipher = chacha20::ChaCha12::new(&[r as u8; 32].into(), &[0; 12].into());
                cipher.apply_keystream(&mut bytes);
                for (t, w) in target.iter_mut().zip(bytes.chunks_exact(4)) {
                    *t = t.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
                }
            }
        });
        best = (best.0.min(own), best.1.min(theirs));
    }
    println!(
        "mask stream, 2^20 words: secagg::stream {:.2} ms, chacha20 crate {:.2} ms (ratio {:.2})\n",
        best.0 * 1e3 / reps as f64,
        best.1 * 1e3 / reps as f64,
        best.1 / best.0
    );
}

fn row(model: &ModelConfig, p: usize, n: usize) {
    let ctx = RoundContext { run: 1, round: 1 };
    let global = values(0, p);
    let scores = vector::Scores {
        loss: 0.5,
        dice: 0.5,
        validation: None,
    };
    let trained: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            global
                .iter()
                .zip(values(i as u64 + 1, p))
                .map(|(g, v)| g + 0.01 * v)
                .collect()
        })
        .collect();
    let (plain, plain_s) = secs(|| {
        safetensors::write(
            &model.unflatten(&trained[0]),
            DType::F32,
            &Default::default(),
        )
    });
    let secrets: Vec<RoundSecrets> = (0..n)
        .map(|i| RoundSecrets::derive(&[(i % 251) as u8 + 1; 32], &ctx))
        .collect();
    let peers: Vec<Peer> = secrets
        .iter()
        .enumerate()
        .map(|(i, s)| Peer {
            x: i as u8 + 1,
            keys: s.advert(),
        })
        .collect();
    let t = vector::threshold(n, 2);
    let dropped = (n / 10).max(1);
    let survivors: Vec<u8> = (1..=(n - dropped) as u8).collect();
    // Participant 1's client work, timed; the others' outputs are computed untimed.
    let mut client_s = 0.0;
    let mut all_sealed: Vec<SealedShare> = vec![];
    for (i, s) in secrets.iter().enumerate() {
        let (sealed, dt) =
            secs(|| client::seal_shares(s, i as u8 + 1, &peers, t, &ctx, &[7; 32]).unwrap());
        if i == 0 {
            client_s += dt;
        }
        all_sealed.extend(sealed);
    }
    let mut sum = vec![0u32; vector::len(p, model.classes)];
    let mut input_bytes = 0;
    for (i, s) in secrets.iter().enumerate().take(n - dropped) {
        let (masked, dt) = secs(|| {
            let input = vector::encode(&trained[i], &global, 1.0, &scores, model.classes, n);
            client::masked_input(s, i as u8 + 1, &peers, &ctx, &input)
        });
        if i == 0 {
            client_s += dt;
            input_bytes = masked.len() * 4;
        }
        server::add(&mut sum, &masked);
    }
    let mut reveals = vec![];
    let mut reveal_bytes = 0;
    for (i, s) in secrets.iter().enumerate().take(n - dropped) {
        let x = i as u8 + 1;
        let mine: Vec<SealedShare> = all_sealed.iter().filter(|c| c.to == x).cloned().collect();
        let (r, dt) = secs(|| client::reveal(s, x, &peers, &mine, &survivors, t, &ctx).unwrap());
        if i == 0 {
            client_s += dt;
            reveal_bytes = serde_json::to_vec(&RevealRequest { reveals: r.clone() })
                .unwrap()
                .len();
        }
        reveals.extend(r.into_iter().map(|r| (x, r)));
    }
    let mine: Vec<SealedShare> = all_sealed.iter().filter(|c| c.from == 1).cloned().collect();
    let shares_bytes = serde_json::to_vec(&SharesRequest::of(&mine)).unwrap().len();
    // The advertisement as clients send it: both keys and their Ed25519 signature.
    let identity = SigningKey::from_bytes(&[9; 32]);
    let signed = SignedKeys::sign(&identity, &ctx, 0, secrets[0].advert());
    let keys_bytes = serde_json::to_vec(&signed).unwrap().len();
    let ((), unmask_s) =
        secs(|| server::unmask(&mut sum, &peers, &survivors, &reveals, t, &ctx).unwrap());
    // The unmasked sum must be the survivors' plaintext sum: a benchmark of a wrong answer
    // would be worthless.
    let expect: f64 = (0..n - dropped)
        .map(|i| (trained[i][0] - global[0]) as f64)
        .sum();
    assert!((fixed::decode(sum[0]) - expect).abs() <= fixed::sum_error_bound(n));
    let secure_bytes = keys_bytes + shares_bytes + input_bytes + reveal_bytes;
    println!(
        "{:>9} {:>3} | {:>9.2} {:>9.2} {:>6.2} | {:>11} {:>11} {:>6.3} | {:>10.1}",
        p,
        n,
        plain_s * 1e3,
        client_s * 1e3,
        client_s / plain_s,
        plain.len(),
        secure_bytes,
        secure_bytes as f64 / plain.len() as f64,
        unmask_s * 1e3
    );
}
