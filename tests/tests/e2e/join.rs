//! `meshfed join` against the real Worker: two headless participants sign in with password and
//! TOTP, train a phantom locally, upload, and the round closes into a new global model.

use meshfed_cli::server::Server;
use meshfed_e2e::identity::PASSWORD;
use meshfed_e2e::participant::join_all;
use meshfed_e2e::runs::*;
use meshfed_e2e::Ctx;
use meshfed_shared::meshnet::ModelConfig;
use serde_json::json;

pub fn two_headless_participants_train_a_round(ctx: &Ctx) {
    let model: ModelConfig =
        serde_json::from_value(json!({"channels": 3, "dilations": [1, 2, 1], "classes": 3}))
            .unwrap();
    let (users, run, initial) = ctx.block_on(async {
        let users = participants(ctx, "join", 2).await;
        let plan = json!({"local_steps": 3, "patch": 16, "batch": 1, "learning_rate": 3e-3,
            "schedule": {"kind": "constant"}, "fix_batch_norm_from": null});
        let body = json!({"model": model, "round_timeout_secs": 600, "plan": plan});
        let run = create_run(ctx, &users[0], &[&users[1]], body).await;
        let initial = current_model(ctx, &token(&users[0]), run, &model).await;
        (users, run, initial)
    });
    let dir = std::env::temp_dir().join(format!("meshfed-join-{run}"));
    let reports = join_all(ctx, &users, run, &dir, 1);
    assert!(
        reports.iter().all(|r| r.len() == 1 && r[0].round == 1),
        "{reports:?}"
    );
    assert_eq!(
        reports.iter().filter(|r| r[0].closed_by_us).count(),
        1,
        "the second upload closes the round: {reports:?}"
    );
    ctx.block_on(async {
        let detail = run_detail(ctx, &token(&users[1]), run).await;
        assert_eq!(detail["current_round"], 2, "{detail}");
        let closed = &detail["history"][0];
        assert_eq!(closed["metrics"]["uploads"], 2, "{closed}");
        assert!(closed["metrics"]["loss"].as_f64().is_some(), "{closed}");
        let global = current_model(ctx, &token(&users[1]), run, &model).await;
        assert_eq!(global.len(), initial.len());
        assert_ne!(global, initial, "the round's average is a new model");
        assert!(global.iter().all(|v| v.is_finite()));
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// A participant takes part for longer than an access token lives (30 minutes): the CLI
/// renews its sign-in with the rotating refresh token, twice in a row here, so the second
/// renewal proves it kept the rotated token (presenting a used one revokes the family).
pub fn a_participant_renews_its_sign_in_before_it_expires(ctx: &Ctx) {
    let user = ctx.block_on(participants(ctx, "renew", 1)).remove(0);
    let server =
        Server::sign_in(&ctx.base, &user.username, PASSWORD, Some(&user.secret)).expect("signs in");
    for renewal in 1..=2 {
        server.renew_before_next_request();
        let me: serde_json::Value = server
            .get_json("/api/auth/me")
            .unwrap_or_else(|e| panic!("renewal {renewal}: {e}"));
        assert_eq!(me["username"], user.username.as_str(), "{me}");
    }
    // Signing out everywhere revokes the CLI's refresh token too: its next renewal fails
    // with a message that says what to do, not a bare 401.
    ctx.block_on(async {
        let (status, body) = meshfed_e2e::identity::post(
            ctx,
            "/api/auth/logout-all",
            json!({}),
            Some(&token(&user)),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    });
    server.renew_before_next_request();
    let err = server
        .get_json::<serde_json::Value>("/api/auth/me")
        .expect_err("a revoked session cannot renew");
    let message = err.to_string();
    assert!(
        message.contains("could not renew the sign-in") && message.contains("run join again"),
        "{message}"
    );
}
