//! Sign-in: MFA setup and challenge, one-use sessions and codes, lockout (tokens after
//! sign-in: `tokens`).

use meshfed_e2e::identity::{
    answer_challenge, get, post, registered_and_confirmed, registration, totp_at, totp_now,
    unique_user, user_with_mfa, PASSWORD,
};
use meshfed_e2e::Ctx;
use meshfed_shared::auth::jwt;
use serde_json::{json, Value};

fn login_body(username: &str) -> Value {
    json!({"username": username, "password": PASSWORD})
}

pub fn mfa_setup_in_sign_in_flow_gives_tokens_and_sessions_are_single_use(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, _, _) = registered_and_confirmed(ctx, "mfa").await;
        let (_, login) = post(ctx, "/api/auth/login", login_body(&username), None).await;
        let data = &login["data"];
        assert_eq!(data["requires_mfa"], json!(true));
        assert_eq!(data["challenge"], "MFA_SETUP");
        assert_eq!(data["session"], data["temp_token"]);
        let session = data["session"].clone();
        let (status, setup) = post(
            ctx,
            "/api/auth/mfa/setup",
            json!({"session": session}),
            None,
        )
        .await;
        assert_eq!(status, 200);
        let setup = &setup["data"];
        assert_eq!(setup["backup_codes"].as_array().unwrap().len(), 10);
        assert!(setup["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Meshfed:"));
        assert!(setup["qr_code"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,"));

        let (status, reused) = post(
            ctx,
            "/api/auth/mfa/setup",
            json!({"session": session}),
            None,
        )
        .await;
        assert_eq!(
            (status, reused["error"]["message"].as_str()),
            (401, Some("A session can be used only once"))
        );

        let secret = setup["secret"].as_str().unwrap();
        let wrong = if totp_now(secret, 0) == "000000" {
            "000001"
        } else {
            "000000"
        };
        let (status, bad) = post(
            ctx,
            "/api/auth/mfa/verify",
            json!({"session": setup["session"], "code": wrong}),
            None,
        )
        .await;
        assert_eq!(
            (status, bad["error"]["code"].as_str()),
            (401, Some("MFA_INVALID"))
        );
        let retry = bad["error"]["details"]["session"].clone();
        let (status, tokens) = post(
            ctx,
            "/api/auth/mfa/verify",
            json!({"session": retry, "code": totp_now(secret, 0)}),
            None,
        )
        .await;
        assert_eq!(status, 200, "{tokens}");
        let access = tokens["data"]["access_token"].as_str().unwrap();
        let (status, me) = get(ctx, "/api/auth/me", Some(access)).await;
        assert_eq!(status, 200);
        assert_eq!(me["data"]["username"], username.as_str());
        assert_eq!(me["data"]["mfa_enabled"], json!(true));
        assert_eq!(me["data"]["is_confirmed"], json!(true));
    });
}

pub fn access_token_verifies_with_the_published_jwks(ctx: &Ctx) {
    use base64::Engine;
    ctx.block_on(async {
        let user = user_with_mfa(ctx, "jwks").await;
        let (status, jwks) = get(ctx, "/.well-known/jwks.json", None).await;
        assert_eq!(status, 200);
        let key = &jwks["keys"][0];
        assert_eq!(
            (key["kty"].as_str(), key["alg"].as_str()),
            (Some("OKP"), Some("EdDSA"))
        );
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key["x"].as_str().unwrap())
            .unwrap();
        let public = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        let kid = key["kid"].as_str().unwrap().to_string();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let expect = jwt::Expectation {
            issuer: "meshfed",
            audience: "meshfed-api",
            token_type: "access",
            now,
            leeway: 5,
        };
        let access = user.tokens["access_token"].as_str().unwrap();
        let claims = jwt::verify(access, |k| (k == kid).then_some(public), &expect)
            .expect("verifies with JWKS");
        assert_eq!(claims.sub, user.username);
        assert_eq!(claims.email, user.email);
        assert_eq!(claims.exp - claims.iat, 1800);
        assert!(claims.permissions.contains(&"read:users".to_string()));
        let id = user.tokens["id_token"].as_str().unwrap();
        let id_claims = jwt::verify(
            id,
            |k| (k == kid).then_some(public),
            &jwt::Expectation {
                token_type: "id",
                ..expect
            },
        )
        .unwrap();
        assert_eq!(id_claims.exp - id_claims.iat, 3600);
    });
}

pub fn totp_challenge_refuses_replay_and_backup_codes_work_once(ctx: &Ctx) {
    ctx.block_on(async {
        let user = user_with_mfa(ctx, "chal").await;
        // The setup used the current step: its code is refused, the next step's is accepted.
        let (status, _) =
            answer_challenge(ctx, &user.username, &totp_at(&user.secret, user.setup_at)).await;
        assert_eq!(status, 401, "a code for an already used step");
        let next = totp_at(&user.secret, user.setup_at + 30);
        let (status, tokens) = answer_challenge(ctx, &user.username, &next).await;
        assert_eq!(status, 200, "{tokens}");
        assert!(tokens["data"]["access_token"].is_string());
        let (status, replay) = answer_challenge(ctx, &user.username, &next).await;
        assert_eq!(
            (status, replay["error"]["code"].as_str()),
            (401, Some("MFA_INVALID"))
        );

        let backup = user.backup_codes[3].clone();
        assert_eq!(answer_challenge(ctx, &user.username, &backup).await.0, 200);
        assert_eq!(
            answer_challenge(ctx, &user.username, &backup).await.0,
            401,
            "a backup code works once"
        );
    });
}

/// Signs in with the password, then answers the TOTP challenge with `code`.
pub fn wrong_passwords_lock_the_account(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, _, _) = registered_and_confirmed(ctx, "lock").await;
        let wrong = json!({"username": username, "password": "Wrong-Password-1"});
        for remaining in [4, 3, 2, 1] {
            let (status, body) = post(ctx, "/api/auth/login", wrong.clone(), None).await;
            assert_eq!(status, 401);
            assert_eq!(body["error"]["code"], "AUTHENTICATION_FAILED");
            assert_eq!(
                body["error"]["details"]["attempts_remaining"],
                json!(remaining)
            );
        }
        let (status, locked) = post(ctx, "/api/auth/login", wrong, None).await;
        assert_eq!(
            (status, locked["error"]["code"].as_str()),
            (423, Some("ACCOUNT_LOCKED"))
        );
        assert!(locked["error"]["details"]["lockout_time"].is_string());
        let (status, still) = post(ctx, "/api/auth/login", login_body(&username), None).await;
        assert_eq!(
            (status, still["error"]["code"].as_str()),
            (423, Some("ACCOUNT_LOCKED")),
            "even the right password"
        );
    });
}

pub fn unconfirmed_users_cannot_sign_in_and_unknown_users_look_alike(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, email) = unique_user("unconf");
        assert_eq!(
            post(
                ctx,
                "/api/auth/register",
                registration(&username, &email),
                None
            )
            .await
            .0,
            201
        );
        let (status, body) = post(ctx, "/api/auth/login", login_body(&username), None).await;
        assert_eq!(
            (status, body["error"]["message"].as_str()),
            (401, Some("User is not confirmed"))
        );
        let (status, unknown) = post(
            ctx,
            "/api/auth/login",
            json!({"username": "no_such_user_x", "password": "Whatever-1"}),
            None,
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(unknown["error"]["message"], "Invalid username or password");
        assert_eq!(unknown["error"]["details"]["attempts_remaining"], json!(4));
        // Repeated tries count down and lock exactly like a real account's.
        let ghost =
            json!({"username": format!("ghost_{}", std::process::id()), "password": "Whatever-1"});
        for remaining in [4, 3, 2, 1] {
            let (status, body) = post(ctx, "/api/auth/login", ghost.clone(), None).await;
            assert_eq!(
                (
                    status,
                    body["error"]["details"]["attempts_remaining"].as_i64()
                ),
                (401, Some(remaining))
            );
        }
        let (status, body) = post(ctx, "/api/auth/login", ghost, None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (423, Some("ACCOUNT_LOCKED"))
        );
        assert!(body["error"]["details"]["lockout_time"].is_string());
    });
}
