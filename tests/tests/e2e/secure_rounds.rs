//! Secure rounds as the product's participants take them, through the participant state
//! machine of `shared::secagg`: three `meshfed join` end to end (under DP, the noise shared
//! among their inputs), and a round left short of its threshold that starts over with fresh
//! keys.

use meshfed_e2e::identity::MfaUser;
use meshfed_e2e::participant::{join_all, join_args, write_phantom};
use meshfed_e2e::runs::*;
use meshfed_e2e::secure::Dropout;
use meshfed_e2e::Ctx;
use meshfed_shared::api::runs::SecureRound;
use meshfed_shared::auth::mnemonic::{self, SigningKey};
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::secagg::identity::fingerprint;
use meshfed_shared::secagg::participant::{Action, Participant, Trained};
use meshfed_shared::secagg::{vector, RoundContext};
use reqwest::Method;
use serde_json::{json, Value};

use crate::secure::view;

/// The key of `u`'s recovery phrase, which signs its round keys.
fn identity(u: &MfaUser) -> SigningKey {
    mnemonic::signing_key(&u.recovery_phrase).expect("the phrase confirmation gave")
}

/// σ and C of the secure round's DP plan.
const SIGMA: f64 = 1.0;
const CLIP: f64 = 0.05;

pub fn three_cli_participants_take_a_secure_round(ctx: &Ctx) {
    let model: ModelConfig =
        serde_json::from_value(json!({"channels": 3, "dilations": [1, 2, 1], "classes": 3}))
            .unwrap();
    let (users, run, initial) = ctx.block_on(async {
        let users = participants(ctx, "secjoin", 3).await;
        // DP-FedAvg too: each input carries its share σC/√t of the noise the sum needs.
        let dp = json!({"noise_multiplier": SIGMA, "clip_norm": CLIP, "delta": 1e-5});
        let plan = json!({"local_steps": 2, "patch": 16, "batch": 1, "learning_rate": 3e-3,
            "schedule": {"kind": "constant"}, "fix_batch_norm_from": null, "dp": dp});
        let body = json!({"model": model, "round_timeout_secs": 600, "plan": plan,
            "secure_aggregation": true, "aggregation": "mean"});
        let run = create_run(ctx, &users[0], &[&users[1], &users[2]], body).await;
        let initial = current_model(ctx, &token(&users[0]), run, &model).await;
        (users, run, initial)
    });
    let dir = std::env::temp_dir().join(format!("meshfed-secure-{run}"));
    let reports = join_all(ctx, &users, run, &dir, 1);
    // Each named the two others as seen for the first time, with the fingerprints their own
    // `meshfed join` shows them, for the people to compare out of band.
    for (u, report) in users.iter().zip(&reports) {
        let mut seen: Vec<(String, String)> = (report[0].keys_first_seen.iter())
            .map(|s| (s.username.clone(), s.fingerprint.clone()))
            .collect();
        seen.sort();
        let mut expected: Vec<(String, String)> = (users.iter())
            .filter(|o| o.username != u.username)
            .map(|o| {
                let key = identity(o).verifying_key().to_bytes();
                (o.username.clone(), fingerprint(&key))
            })
            .collect();
        expected.sort();
        assert_eq!(seen, expected, "{}", u.username);
    }
    // Each pinned the three members' recovery-phrase keys as it first saw them.
    for u in &users {
        let file = dir.join(format!("known-keys-{}.json", u.username));
        let pinned: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let keys = pinned[&ctx.base].as_object().expect("this server's keys");
        assert_eq!(keys.len(), 3, "{pinned}");
        let mine = keys[&u.username].as_str().unwrap();
        let expected: String = (identity(u).verifying_key().to_bytes().iter())
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(mine, expected, "{pinned}");
    }
    ctx.block_on(async {
        let detail = run_detail(ctx, &token(&users[0]), run).await;
        assert_eq!(detail["current_round"], 2, "{detail}");
        assert_eq!(detail["secure_aggregation"], true, "{detail}");
        let closed = &detail["history"][0];
        assert_eq!(closed["metrics"]["uploads"], 3, "{closed}");
        let loss = closed["metrics"]["loss"].as_f64().unwrap();
        assert!(
            loss > 0.0 && loss < 10.0,
            "the mean loss travelled masked: {closed}"
        );
        // So did the federated validation of the default plan's held-out half.
        let m = &closed["metrics"];
        let val = m["val_dice"].as_f64().expect("federated validation Dice");
        assert!((0.0..=1.0).contains(&val), "{m}");
        assert!(m["val_loss"].as_f64().unwrap() > 0.0, "{m}");
        assert_eq!(m["val_dice_per_class"].as_array().unwrap().len(), 2, "{m}");
        let global = current_model(ctx, &token(&users[0]), run, &model).await;
        assert_ne!(global, initial, "the unmasked average is a new model");
        assert!(global.iter().all(|v| v.is_finite()));
        let moved = global
            .iter()
            .zip(&initial)
            .map(|(g, i)| (g - i).abs())
            .fold(0.0f32, f32::max);
        assert!(
            moved < 1.0,
            "an average of small updates, not masks: moved {moved}"
        );
        // The average of 3 clipped updates (norm ≤ C each) plus the sum's noise / 3: with t
        // the round's threshold, σC·√(3/t)/3 per value. Local noise (σC each) would be √t
        // times more.
        let t = vector::threshold(3, detail["min_contributors"].as_u64().unwrap() as usize);
        let expected = SIGMA * CLIP / (3.0 * t as f64).sqrt();
        let sd = (global.iter().zip(&initial))
            .map(|(g, i)| ((g - i) as f64).powi(2))
            .sum::<f64>()
            / global.len() as f64;
        let sd = sd.sqrt();
        println!(
            "secure DP round: noise per value {sd:.5}, expected σC/√(3t) = {expected:.5} \
             (t = {t}); local noise would leave σC/√3 = {:.5}",
            SIGMA * CLIP / 3f64.sqrt()
        );
        assert!(
            (0.75 * expected..1.25 * expected).contains(&sd),
            "noise per value {sd}, expected {expected} (t = {t}, {} values)",
            global.len()
        );
        assert!(
            detail["privacy"]["epsilon"].as_f64().unwrap() > 0.0,
            "{detail}"
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// A phase that keeps fewer than the threshold starts the round's keys over, as its next
/// attempt, and every participant then advertises fresh keys: nothing of the aborted attempt
/// (keys, shares, masks) is used again.
pub fn a_round_short_of_its_threshold_starts_over_with_fresh_keys(ctx: &Ctx) {
    let model: ModelConfig =
        serde_json::from_value(json!({"channels": 3, "dilations": [1, 2, 1], "classes": 3}))
            .unwrap();
    let p = model.parameter_count();
    ctx.block_on(async {
        let users = participants(ctx, "secrestart", 3).await;
        let body = json!({"model": model, "round_timeout_secs": 8, "secure_aggregation": true});
        let run = create_run(ctx, &users[0], &[&users[1], &users[2]], body).await;
        let rctx = RoundContext { run, round: 1 };
        let sites: Vec<(String, Participant)> = users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let trained = Trained {
                    global: vec![0.0; p],
                    values: vec![0.01; p],
                    weight: 1.0,
                    scores: vector::Scores::default(),
                    classes: model.classes,
                    noise: None,
                };
                (
                    token(u),
                    Participant::new(rctx, &[i as u8 + 1; 64], trained, identity(u)),
                )
            })
            .collect();
        let round_of = |v: Value| -> SecureRound { serde_json::from_value(v).unwrap() };
        let mut first = vec![];
        for (t, part) in &sites {
            let Ok(Action::Keys(keys)) = part.next(&round_of(view(ctx, t, run, 1).await)) else {
                panic!("keys first");
            };
            let path = format!("/api/runs/{run}/rounds/1/secure/keys");
            let (status, body) = send(
                ctx,
                Method::POST,
                &path,
                t,
                Some(serde_json::to_value(&keys).unwrap()),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            first.push(keys);
        }
        // Only the first sends its shares: one of a threshold of 2.
        let (t0, p0) = &sites[0];
        let Ok(Action::Shares(shares)) = p0.next(&round_of(view(ctx, t0, run, 1).await)) else {
            panic!("shares next");
        };
        let path = format!("/api/runs/{run}/rounds/1/secure/shares");
        let (status, body) = send(
            ctx,
            Method::POST,
            &path,
            t0,
            Some(serde_json::to_value(shares).unwrap()),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // At the phase's deadline (5 s) the round's keys start over, as attempt 1.
        let started = std::time::Instant::now();
        let v = loop {
            let v = view(ctx, t0, run, 1).await;
            if v["attempt"] == 1 {
                break v;
            }
            assert!(started.elapsed().as_secs() < 60, "no restart: {v}");
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        };
        assert_eq!(v["phase"], "keys", "{v}");
        assert_eq!(
            v["advertised"], 0,
            "the aborted attempt's keys are gone: {v}"
        );
        for ((t, part), old) in sites.iter().zip(&first) {
            let Ok(Action::Keys(fresh)) = part.next(&round_of(view(ctx, t, run, 1).await)) else {
                panic!("keys again");
            };
            assert_ne!(fresh.keys, old.keys, "fresh keys for the new attempt");
        }
    });
}

/// `meshfed join` refuses what secure rounds must not take: without the recovery phrase it
/// stops before training; and when a member shows another key than the one it pinned for
/// them (someone posing as that member), it seals no share for anyone.
pub fn a_changed_member_key_is_refused_before_any_share(ctx: &Ctx) {
    let model: ModelConfig =
        serde_json::from_value(json!({"channels": 3, "dilations": [1, 2, 1], "classes": 3}))
            .unwrap();
    let (users, run) = ctx.block_on(async {
        let users = participants(ctx, "secpin", 3).await;
        let plan = json!({"local_steps": 1, "patch": 16, "batch": 1,
            "fix_batch_norm_from": null});
        let body = json!({"model": model, "round_timeout_secs": 600, "plan": plan,
            "secure_aggregation": true});
        let run = create_run(ctx, &users[0], &[&users[1], &users[2]], body).await;
        (users, run)
    });
    let dir = std::env::temp_dir().join(format!("meshfed-secure-pin-{run}"));
    let files = write_phantom(&dir, "0", [20, 20, 20], 0);
    let join = |args: meshfed_cli::join::JoinArgs| {
        std::thread::spawn(move || meshfed_cli::join::run(args))
            .join()
            .unwrap()
    };
    let mut without = join_args(ctx, &users[0], run, files.clone(), 1, 0, 120);
    without.recovery_phrase = None;
    let refused = join(without).expect_err("no phrase, no secure round");
    assert!(
        refused.to_string().contains("MESHFED_RECOVERY_PHRASE"),
        "{refused}"
    );
    // users[0] pinned another key for users[1] in an earlier round.
    let args = join_args(ctx, &users[0], run, files, 1, 0, 120);
    let pinned = json!({ ctx.base.clone(): { users[1].username.clone(): "ab".repeat(32) } });
    let pin_file = args.known_keys.clone().expect("a known-keys file");
    std::fs::write(&pin_file, serde_json::to_vec(&pinned).unwrap()).unwrap();
    ctx.block_on(async {
        for u in &users[1..] {
            Dropout::advertise(ctx, u, run).await;
        }
    });
    let refused = join(args).expect_err("a changed key is refused");
    let said = refused.to_string();
    assert!(
        said.contains(&users[1].username) && said.contains("posing"),
        "{said}"
    );
    ctx.block_on(async {
        let v = view(ctx, &token(&users[0]), run, 1).await;
        assert_eq!(v["phase"], "shares", "{v}");
        assert_eq!(v["sent"]["keys"], true, "{v}");
        assert_eq!(v["sent"]["shares"], false, "no share sealed: {v}");
    });
    let untouched: Value = serde_json::from_slice(&std::fs::read(&pin_file).unwrap()).unwrap();
    assert_eq!(untouched, pinned, "nothing pinned from a refused round");
    let _ = std::fs::remove_dir_all(&dir);
}
