//! Account flows: password change and reset, profile and email change, mnemonic check.

use meshfed_e2e::identity::{
    get, latest_code, outbox, post, registered_and_confirmed, user_with_mfa, PASSWORD,
};
use meshfed_e2e::Ctx;
use serde_json::{json, Value};

const NEW_PASSWORD: &str = "Marble-Canyon-42";

async fn put(ctx: &Ctx, path: &str, body: Value, bearer: &str) -> (u16, Value) {
    let resp = ctx.put(path).json(&body).bearer(bearer).send().await;
    (resp.status, resp.json())
}

fn token<'a>(set: &'a Value, name: &str) -> &'a str {
    set[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {set}"))
}

pub fn change_password_revokes_other_sessions(ctx: &Ctx) {
    ctx.block_on(async {
        let user = user_with_mfa(ctx, "chpw").await;
        // A second session, through the challenge with a backup code.
        let (_, login) = post(ctx, "/api/auth/login", json!({"username": user.username, "password": PASSWORD}), None).await;
        let body = json!({"username": user.username, "session": login["data"]["session"], "code": user.backup_codes[0]});
        let (status, other) = post(ctx, "/api/auth/mfa/challenge", body, None).await;
        assert_eq!(status, 200, "{other}");
        let other = &other["data"];

        let mine = token(&user.tokens, "access_token");
        let change = json!({"current_password": "Wrong-Password-9", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD});
        assert_eq!(post(ctx, "/api/auth/change-password", change, Some(mine)).await.0, 401);
        let mismatch = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": "x"});
        assert_eq!(post(ctx, "/api/auth/change-password", mismatch, Some(mine)).await.0, 400);
        let change = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD});
        let (status, fresh) = post(ctx, "/api/auth/change-password", change, Some(mine)).await;
        assert_eq!(status, 200, "{fresh}");

        assert_eq!(get(ctx, "/api/auth/me", Some(token(other, "access_token"))).await.0, 401, "other session's access token");
        let refresh = json!({"refresh_token": token(other, "refresh_token")});
        assert_eq!(post(ctx, "/api/auth/refresh", refresh, None).await.0, 401, "other session's refresh token");
        assert_eq!(get(ctx, "/api/auth/me", Some(token(&fresh["data"], "access_token"))).await.0, 200, "the new tokens work");
        let old = json!({"username": user.username, "password": PASSWORD});
        assert_eq!(post(ctx, "/api/auth/login", old, None).await.0, 401);
        let new = json!({"username": user.username, "password": NEW_PASSWORD});
        let (status, login) = post(ctx, "/api/auth/login", new, None).await;
        assert_eq!((status, login["data"]["challenge"].as_str()), (200, Some("SOFTWARE_TOKEN_MFA")));
    });
}

pub fn forgot_and_reset_password_keeps_mfa_and_revokes_sessions(ctx: &Ctx) {
    ctx.block_on(async {
        let user = user_with_mfa(ctx, "reset").await;
        let (_, known) = post(ctx, "/api/auth/forgot-password", json!({"email": user.email}), None).await;
        let (_, unknown) = post(ctx, "/api/auth/forgot-password", json!({"email": "nobody@nowhere.example.org"}), None).await;
        assert_eq!(known["message"], unknown["message"], "same answer for unknown accounts");
        let mail = outbox(ctx, &user.email).await;
        assert!(mail[0]["subject"].as_str().unwrap().contains("Reset"));
        let code = latest_code(ctx, &user.email).await;
        let reset = |code: &str, password: &str| {
            json!({"username": user.username, "code": code, "new_password": password, "confirm_password": password})
        };
        let wrong = if code == "123456" { "654321" } else { "123456" };
        assert_eq!(post(ctx, "/api/auth/reset-password", reset(wrong, NEW_PASSWORD), None).await.0, 401);
        let (status, weak) = post(ctx, "/api/auth/reset-password", reset(&code, "password"), None).await;
        assert_eq!((status, weak["error"]["details"]["field"].as_str()), (400, Some("new_password")));
        assert_eq!(post(ctx, "/api/auth/reset-password", reset(&code, NEW_PASSWORD), None).await.0, 200, "a weak try did not burn the code");
        assert_eq!(post(ctx, "/api/auth/reset-password", reset(&code, "Another-Pass-77"), None).await.0, 401, "single use");

        assert_eq!(get(ctx, "/api/auth/me", Some(token(&user.tokens, "access_token"))).await.0, 401, "sessions revoked");
        let (status, login) = post(ctx, "/api/auth/login", json!({"username": user.email, "password": NEW_PASSWORD}), None).await;
        assert_eq!((status, login["data"]["challenge"].as_str()), (200, Some("SOFTWARE_TOKEN_MFA")), "MFA stays on");
    });
}

pub fn profile_update_and_confirmed_email_change(ctx: &Ctx) {
    ctx.block_on(async {
        let user = user_with_mfa(ctx, "prof").await;
        let access = token(&user.tokens, "access_token");
        let (status, updated) = put(
            ctx,
            "/api/auth/profile",
            json!({"first_name": "Grace", "organization": "Lab 7"}),
            access,
        )
        .await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!(
            (
                updated["data"]["first_name"].as_str(),
                updated["data"]["organization"].as_str()
            ),
            (Some("Grace"), Some("Lab 7"))
        );
        assert_eq!(
            put(ctx, "/api/auth/profile", json!({"first_name": ""}), access)
                .await
                .0,
            400
        );

        let new_email = format!("new_{}", user.email);
        assert_eq!(
            put(
                ctx,
                "/api/auth/profile",
                json!({"email": new_email}),
                access
            )
            .await
            .0,
            401,
            "needs the password"
        );
        let (status, _) = put(
            ctx,
            "/api/auth/profile",
            json!({"email": new_email, "password": PASSWORD}),
            access,
        )
        .await;
        assert_eq!(status, 200);
        let (_, me) = get(ctx, "/api/auth/me", Some(access)).await;
        assert_eq!(
            me["data"]["email"],
            user.email.as_str(),
            "unchanged until confirmed"
        );
        let code = latest_code(ctx, &new_email).await;
        let (status, confirmed) = post(
            ctx,
            "/api/auth/profile/email/confirm",
            json!({"code": code}),
            Some(access),
        )
        .await;
        assert_eq!(status, 200, "{confirmed}");
        assert_eq!(confirmed["data"]["email"], new_email.as_str());
    });
}

pub fn mnemonic_check_compares_the_sha3_digest(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, _, confirmation) = registered_and_confirmed(ctx, "mnem").await;
        let phrase = confirmation["mnemonic"].as_str().unwrap();
        let digest = meshfed_shared::auth::mnemonic::digests(phrase).sha3_256_hex;
        // MFA is mandatory: set it up in the sign-in flow to get an access token.
        let (_, login) = post(
            ctx,
            "/api/auth/login",
            json!({"username": username, "password": PASSWORD}),
            None,
        )
        .await;
        let (_, setup) = post(
            ctx,
            "/api/auth/mfa/setup",
            json!({"session": login["data"]["session"]}),
            None,
        )
        .await;
        let code = meshfed_e2e::identity::totp_now(setup["data"]["secret"].as_str().unwrap(), 0);
        let (_, tokens) = post(
            ctx,
            "/api/auth/mfa/verify",
            json!({"session": setup["data"]["session"], "code": code}),
            None,
        )
        .await;
        let access = token(&tokens["data"], "access_token");
        let (status, ok) = post(
            ctx,
            "/api/auth/mnemonic/check",
            json!({"mnemonic_hash": digest}),
            Some(access),
        )
        .await;
        assert_eq!((status, ok["data"]["matches"].as_bool()), (200, Some(true)));
        let other = meshfed_shared::auth::mnemonic::digests("abandon ability").sha3_256_hex;
        let (_, bad) = post(
            ctx,
            "/api/auth/mnemonic/check",
            json!({"mnemonic_hash": other}),
            Some(access),
        )
        .await;
        assert_eq!(bad["data"]["matches"], json!(false));
        assert_eq!(
            post(
                ctx,
                "/api/auth/mnemonic/check",
                json!({"mnemonic_hash": digest}),
                None
            )
            .await
            .0,
            401
        );
    });
}
