//! The hourly sweep (which the first request of each hour starts in the background), run on
//! a server of its own through the development route: at the present it deletes nothing
//! live; as if 400 days later it deletes every expired code, session, refresh token and
//! rate-limit window, and no account.

use meshfed_e2e::identity::PASSWORD;
use meshfed_e2e::runs::participants;
use meshfed_e2e::{server, Ctx};
use serde_json::Value;

async fn rows(ctx: &Ctx) -> Value {
    let resp = ctx.get("/api/_dev/rows").send().await;
    assert_eq!(resp.status, 200);
    resp.json()["data"].clone()
}

async fn sweep_at(ctx: &Ctx, time_ms: u128) -> Value {
    let body = serde_json::json!({ "at_ms": time_ms as u64 });
    let resp = ctx.post("/api/_dev/sweep").json(&body).send().await;
    assert_eq!(resp.status, 200);
    resp.json()["data"].clone()
}

pub fn the_hourly_sweep_deletes_only_what_expired(ctx: &Ctx) {
    let state = server::fresh_state_dir("sweep");
    let mut own = server::start(&state, None).expect("sweep server starts");
    let local = ctx.with_base(own.base_url());
    local.block_on(async {
        // Registration, confirmation, MFA and sign-in leave codes, a challenge session and
        // refresh tokens; a request naming its client leaves a rate-limit window.
        let users = participants(&local, "sweep", 1).await;
        let login = serde_json::json!({"username": users[0].username, "password": "wrong-Pass-1"});
        let resp = local
            .post("/api/auth/login")
            .header("cf-connecting-ip", "198.51.100.7")
            .json(&login)
            .send()
            .await;
        assert_eq!(resp.status, 401);
        let before = rows(&local).await;
        for table in [
            "email_codes",
            "challenge_sessions",
            "refresh_tokens",
            "rate_limits",
        ] {
            assert!(before[table].as_u64() > Some(0), "{table}: {before}");
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let swept = sweep_at(&local, now).await;
        assert_eq!(
            rows(&local).await,
            before,
            "nothing live is deleted: {swept}"
        );
        let swept = sweep_at(&local, now + 400 * 86_400_000).await;
        assert_eq!(swept, before, "the sweep counts what it deleted");
        let after = rows(&local).await;
        for (table, n) in after.as_object().unwrap() {
            assert_eq!(n, 0, "{table}: {after}");
        }
        // The account itself stays: its password still opens a sign-in (the MFA step).
        let again = serde_json::json!({"username": users[0].username, "password": PASSWORD});
        let resp = local.post("/api/auth/login").json(&again).send().await;
        assert_eq!(resp.status, 200, "the account signs in as before");
    });
    assert!(own.stop());
}
