//! On a server of its own with MFA optional and short timers (lockout 3 s, challenge
//! sessions 2 s): tokens without MFA, MFA set up with an access token, `mfa_token` at login,
//! disabling MFA, an expired session, and the end of a lockout (of the password and of the
//! second factor).

use std::time::Duration;

use meshfed_e2e::identity::{get, post, registered_and_confirmed, totp_at, unix_now, PASSWORD};
use meshfed_e2e::{server, Ctx};
use serde_json::json;

pub fn optional_mfa_expired_sessions_and_lockout_end(ctx: &Ctx) {
    let state = server::fresh_state_dir("timers");
    let vars = [
        ("MFA_REQUIRED", "false"),
        ("LOCKOUT_SECS", "3"),
        ("CHALLENGE_SESSION_SECS", "2"),
        ("RATE_LIMIT_MULTIPLIER", "1000"),
    ];
    let mut own = server::start_with(&state, None, &vars).expect("short-timer server starts");
    let ctx = ctx.with_base(own.base_url());
    let ctx = &ctx;
    ctx.block_on(async {
        let (username, _, _) = registered_and_confirmed(ctx, "timer").await;
        let login = json!({"username": username, "password": PASSWORD});
        let (status, tokens) = post(ctx, "/api/auth/login", login.clone(), None).await;
        assert_eq!((status, tokens["message"].as_str()), (200, Some("Login successful")), "{tokens}");
        let access = tokens["data"]["access_token"].as_str().unwrap().to_string();
        let (status, cognito) = post(ctx, "/dev/login", json!({"username": username, "password": PASSWORD, "request": "LOGIN"}), None).await;
        assert_eq!(status, 200);
        assert_eq!(cognito["ChallengeParameters"], json!({}));
        assert!(cognito["AuthenticationResult"]["IdToken"].is_string());

        // MFA set up from an access token (no sign-in session involved).
        let (status, setup) = post(ctx, "/api/auth/mfa/setup", json!({}), Some(&access)).await;
        assert_eq!(status, 200, "{setup}");
        assert!(setup["data"].get("session").is_none());
        let secret = setup["data"]["secret"].as_str().unwrap().to_string();
        let at = unix_now();
        let (status, on) = post(ctx, "/api/auth/mfa/verify", json!({"code": totp_at(&secret, at)}), Some(&access)).await;
        assert_eq!((status, on["data"]["mfa_enabled"].as_bool()), (200, Some(true)), "{on}");

        // A challenge session outlives its 2 seconds: refused as expired.
        let (_, challenge) = post(ctx, "/api/auth/login", login.clone(), None).await;
        assert_eq!(challenge["data"]["challenge"], "SOFTWARE_TOKEN_MFA");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let late = json!({"username": username, "session": challenge["data"]["session"], "code": totp_at(&secret, at + 30)});
        let (status, expired) = post(ctx, "/api/auth/mfa/challenge", late, None).await;
        assert_eq!((status, expired["error"]["message"].as_str()), (401, Some("Session has expired")));

        // Seed 003's one-call login with mfa_token.
        let with_code = json!({"username": username, "password": PASSWORD, "mfa_token": totp_at(&secret, at + 30)});
        let (status, direct) = post(ctx, "/api/auth/login", with_code, None).await;
        assert_eq!(status, 200, "{direct}");
        let access = direct["data"]["access_token"].as_str().unwrap().to_string();
        let backup = setup["data"]["backup_codes"][0].as_str().unwrap();

        // Wrong codes lock the second factor for the lockout (3 s here), then it takes codes
        // again. The count is kept in 3-second windows, so the fifth may land in the next one:
        // wrong codes until the lock, at most ten.
        let code = |c: &str| json!({"username": username, "password": PASSWORD, "mfa_token": c});
        let wrong_code = if totp_at(&secret, at + 30) == "999999" { "999998" } else { "999999" };
        let mut statuses = vec![];
        while statuses.last() != Some(&423) && statuses.len() < 10 {
            statuses.push(post(ctx, "/api/auth/login", code(wrong_code), None).await.0);
        }
        assert_eq!(statuses.last(), Some(&423), "{statuses:?}");
        assert!(statuses.len() >= 5, "{statuses:?}");
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let second = setup["data"]["backup_codes"][1].as_str().unwrap();
        let (status, after) = post(ctx, "/api/auth/login", code(second), None).await;
        assert_eq!(status, 200, "the second factor's lock ended: {after}");
        let wrong_pw = json!({"password": "Nope-Nope-1", "code": backup});
        assert_eq!(post(ctx, "/api/auth/mfa/disable", wrong_pw, Some(&access)).await.0, 401);
        let (status, off) = post(ctx, "/api/auth/mfa/disable", json!({"password": PASSWORD, "code": backup}), Some(&access)).await;
        assert_eq!((status, off["data"]["mfa_enabled"].as_bool()), (200, Some(false)), "{off}");
        let (_, plain) = post(ctx, "/api/auth/login", login.clone(), None).await;
        assert!(plain["data"]["access_token"].is_string(), "tokens again without MFA: {plain}");

        // Five wrong passwords lock for 3 seconds; then the right one works again.
        let wrong = json!({"username": username, "password": "Wrong-Password-1"});
        for _ in 0..4 {
            assert_eq!(post(ctx, "/api/auth/login", wrong.clone(), None).await.0, 401);
        }
        assert_eq!(post(ctx, "/api/auth/login", wrong, None).await.0, 423);
        assert_eq!(post(ctx, "/api/auth/login", login.clone(), None).await.0, 423);
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let (status, after) = post(ctx, "/api/auth/login", login, None).await;
        assert_eq!(status, 200, "lockout ended: {after}");
        let token = after["data"]["access_token"].as_str().unwrap();
        assert_eq!(get(ctx, "/api/auth/me", Some(token)).await.0, 200);
    });
    assert!(own.stop());
}
