//! A guesser who knows the password cannot try second-factor codes without end: wrong codes
//! count per account across sign-in sessions (the retry session of a wrong code, a fresh login)
//! and routes (the challenge, login's `mfa_token`); the fifth locks every code, right ones
//! and backup codes included, and no retry session is handed out while locked.

use std::time::Duration;

use meshfed_e2e::identity::{
    mfa_session, post, totp_now, unix_now, user_with_mfa, MfaUser, PASSWORD,
};
use meshfed_e2e::Ctx;
use serde_json::{json, Value};

/// A six-digit code no TOTP step within a minute of now accepts.
fn wrong_code(user: &MfaUser) -> String {
    let near: Vec<String> = [-60, -30, 0, 30, 60]
        .iter()
        .map(|&o| totp_now(&user.secret, o))
        .collect();
    (0..10u32)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !near.contains(c))
        .expect("ten candidates, five near codes")
}

async fn challenge(ctx: &Ctx, session: &Value, code: &str) -> (u16, Value) {
    let body = json!({"session": session, "code": code});
    post(ctx, "/api/auth/mfa/challenge", body, None).await
}

pub fn wrong_codes_lock_the_second_factor_across_sessions(ctx: &Ctx) {
    // The count is kept in fixed 15-minute windows: keep the burst inside one.
    let into = unix_now() % 900;
    if into > 880 {
        std::thread::sleep(Duration::from_secs((901 - into) as u64));
    }
    ctx.block_on(async {
        let user = user_with_mfa(ctx, "guess").await;
        let wrong = wrong_code(&user);
        let mut session = mfa_session(ctx, &user.username).await;
        for tried in 1..=4 {
            let (status, resp) = challenge(ctx, &session, &wrong).await;
            assert_eq!((status, resp["error"]["code"].as_str()), (401, Some("MFA_INVALID")), "{resp}");
            assert_eq!(resp["error"]["details"]["attempts_remaining"], 5 - tried, "{resp}");
            // Alternate the retry session the refusal hands out and a fresh sign-in.
            session = if tried % 2 == 1 {
                resp["error"]["details"]["session"].clone()
            } else {
                mfa_session(ctx, &user.username).await
            };
            assert!(session.is_string(), "{resp}");
        }
        // The fifth wrong code, sent through login's one-call `mfa_token`, locks.
        let direct = |code: &str| json!({"username": user.username, "password": PASSWORD, "mfa_token": code});
        let (status, locked) = post(ctx, "/api/auth/login", direct(&wrong), None).await;
        assert_eq!((status, locked["error"]["code"].as_str()), (423, Some("ACCOUNT_LOCKED")), "{locked}");
        assert!(locked["error"]["details"]["lockout_time"].is_string(), "{locked}");

        // Locked: the right code, a backup code and the one-call login are all refused, and
        // the refusal hands out no session to try again in.
        let (status, resp) = challenge(ctx, &session, &totp_now(&user.secret, 0)).await;
        assert_eq!((status, resp["error"]["code"].as_str()), (423, Some("ACCOUNT_LOCKED")), "{resp}");
        assert!(resp["error"]["details"].get("session").is_none(), "{resp}");
        let fresh = mfa_session(ctx, &user.username).await;
        let (status, resp) = challenge(ctx, &fresh, &user.backup_codes[1]).await;
        assert_eq!(status, 423, "{resp}");
        let (status, resp) = post(ctx, "/api/auth/login", direct(&totp_now(&user.secret, 0)), None).await;
        assert_eq!(status, 423, "{resp}");

        // Another account is untouched.
        let other = user_with_mfa(ctx, "guessother").await;
        let session = mfa_session(ctx, &other.username).await;
        let (status, resp) = challenge(ctx, &session, &other.backup_codes[0]).await;
        assert_eq!(status, 200, "{resp}");
    });
}
