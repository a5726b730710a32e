//! Tokens after sign-in: refresh rotation and reuse, logout, and forged or misused tokens.

use meshfed_e2e::identity::{get, post, user_with_mfa};
use meshfed_e2e::Ctx;
use serde_json::{json, Value};

pub fn refresh_rotates_and_reuse_revokes_the_family(ctx: &Ctx) {
    ctx.block_on(async {
        let user = user_with_mfa(ctx, "refresh").await;
        let first = user.tokens["refresh_token"].as_str().unwrap().to_string();
        let (status, rotated) = post(
            ctx,
            "/api/auth/refresh",
            json!({"refresh_token": first}),
            None,
        )
        .await;
        assert_eq!(status, 200, "{rotated}");
        let second = rotated["data"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_ne!(first, second);
        let (status, reuse) = post(
            ctx,
            "/api/auth/refresh",
            json!({"refresh_token": first}),
            None,
        )
        .await;
        assert_eq!(
            (status, reuse["error"]["code"].as_str()),
            (401, Some("TOKEN_INVALID"))
        );
        let (status, _) = post(
            ctx,
            "/api/auth/refresh",
            json!({"refresh_token": second}),
            None,
        )
        .await;
        assert_eq!(status, 401, "the family was revoked by the reuse");
        // So was every live token it issued: the access token the rotation handed out.
        let rotated_access = rotated["data"]["access_token"].as_str().unwrap();
        let (status, me) = get(ctx, "/api/auth/me", Some(rotated_access)).await;
        assert_eq!(
            (status, me["error"]["code"].as_str()),
            (401, Some("TOKEN_INVALID"))
        );
    });
}

pub fn logout_kills_the_access_token_and_refresh_family(ctx: &Ctx) {
    ctx.block_on(async {
        let user = user_with_mfa(ctx, "logout").await;
        let access = user.tokens["access_token"].as_str().unwrap();
        let refresh = user.tokens["refresh_token"].as_str().unwrap();
        let id = user.tokens["id_token"].as_str().unwrap();
        assert_eq!(get(ctx, "/api/auth/me", Some(access)).await.0, 200);
        assert_eq!(
            seed_runs_status(ctx, id).await,
            200,
            "the id token opens seed routes"
        );
        let (status, _) = post(
            ctx,
            "/api/auth/logout",
            json!({"refresh_token": refresh}),
            Some(access),
        )
        .await;
        assert_eq!(status, 200);
        let (status, me) = get(ctx, "/api/auth/me", Some(access)).await;
        assert_eq!(
            (status, me["error"]["code"].as_str()),
            (401, Some("TOKEN_INVALID"))
        );
        assert_eq!(
            post(
                ctx,
                "/api/auth/refresh",
                json!({"refresh_token": refresh}),
                None
            )
            .await
            .0,
            401
        );
        assert_eq!(
            seed_runs_status(ctx, id).await,
            401,
            "logout ends the id token too"
        );

        // Logging out without the refresh token ends the same session all the same.
        let other = user_with_mfa(ctx, "logout_bare").await;
        let access = other.tokens["access_token"].as_str().unwrap();
        let refresh = other.tokens["refresh_token"].as_str().unwrap();
        let id = other.tokens["id_token"].as_str().unwrap();
        let (status, _) = post(ctx, "/api/auth/logout", json!({}), Some(access)).await;
        assert_eq!(status, 200);
        let (status, _) = post(
            ctx,
            "/api/auth/refresh",
            json!({"refresh_token": refresh}),
            None,
        )
        .await;
        assert_eq!(status, 401, "the session's refresh token");
        assert_eq!(
            seed_runs_status(ctx, id).await,
            401,
            "the session's id token"
        );
    });
}

/// `GET /dev/user_runs` with `Authorization: <id_token>`, as seeds 000/001 send it.
async fn seed_runs_status(ctx: &Ctx, id_token: &str) -> u16 {
    let resp = ctx
        .get("/dev/user_runs")
        .header("authorization", id_token)
        .send()
        .await;
    resp.status
}

pub fn forged_and_misused_tokens_are_refused(ctx: &Ctx) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    ctx.block_on(async {
        let user = user_with_mfa(ctx, "forge").await;
        let access = user.tokens["access_token"].as_str().unwrap();
        let parts: Vec<&str> = access.split('.').collect();
        let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        claims["roles"] = json!(["user", "admin"]);
        let forged_payload = b64.encode(claims.to_string());
        let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        let none_header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let hs_header = b64.encode(r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#);
        let id_token = user.tokens["id_token"].as_str().unwrap().to_string();
        for (what, token) in [
            ("tampered", tampered),
            ("alg none", format!("{none_header}.{forged_payload}.")),
            (
                "alg HS256",
                format!("{hs_header}.{forged_payload}.{}", parts[2]),
            ),
            ("id token as access token", id_token),
            ("garbage", "not.a.jwt".to_string()),
        ] {
            let (status, body) = get(ctx, "/api/auth/me", Some(&token)).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (401, Some("TOKEN_INVALID")),
                "{what}: {body}"
            );
        }
        let (status, _) = get(ctx, "/api/auth/me", None).await;
        assert_eq!(status, 401);
    });
}
