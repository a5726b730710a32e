//! Seeds 000/001's identity routes with the documents' example bodies.

use meshfed_e2e::identity::{latest_code, post, totp_at, unix_now};
use meshfed_e2e::Ctx;
use serde_json::{json, Value};

pub fn identityadd_then_login_and_refresh(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, email) = ("immune_user", "immune_user@lab.example.org");
        let add = json!({"resourceName": "/identityadd", "httpMethod": "POST", "email": email,
                         "password": "Golfurl##45", "username": username});
        let (status, body) = post(ctx, "/dev/identityadd", add.clone(), None).await;
        assert_eq!(
            (status, body["statusCode"].as_i64()),
            (200, Some(200)),
            "{body}"
        );
        assert_eq!(body["body"]["UserConfirmed"], json!(false));
        let (status, dup) = post(ctx, "/dev/identityadd", add, None).await;
        assert_eq!(
            (
                status,
                dup["statusCode"].as_i64(),
                dup["body"]["error"].as_str()
            ),
            (409, Some(409), Some("USER_EXISTS"))
        );
        let code = latest_code(ctx, email).await;
        assert_eq!(
            post(
                ctx,
                "/api/auth/confirm",
                json!({"username": username, "code": code}),
                None
            )
            .await
            .0,
            200
        );

        let login = json!({"username": username, "password": "Golfurl##45", "request": "LOGIN"});
        let (status, body) = post(ctx, "/dev/login", login.clone(), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["ChallengeName"], "MFA_SETUP");
        assert_eq!(body["ChallengeParameters"]["USER_ID_FOR_SRP"], username);
        assert_eq!(body["ResponseMetadata"]["HTTPStatusCode"], json!(200));
        let (_, setup) = post(
            ctx,
            "/api/auth/mfa/setup",
            json!({"session": body["Session"]}),
            None,
        )
        .await;
        let secret = setup["data"]["secret"].as_str().unwrap().to_string();
        let at = unix_now();
        let verify = json!({"session": setup["data"]["session"], "code": totp_at(&secret, at)});
        let (status, tokens) = post(ctx, "/api/auth/mfa/verify", verify, None).await;
        assert_eq!(status, 200, "{tokens}");

        let (_, body) = post(ctx, "/dev/login", login, None).await;
        assert_eq!(body["ChallengeName"], "SOFTWARE_TOKEN_MFA");

        let refresh = tokens["data"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, body) = post(
            ctx,
            "/dev/login",
            json!({"request": "REFRESH", "REFRESH_TOKEN": refresh}),
            None,
        )
        .await;
        assert_eq!(
            (status, body["statusCode"].as_i64()),
            (200, Some(200)),
            "{body}"
        );
        let result: &Value = &body["body"]["AuthenticationResult"];
        assert_eq!(
            (result["TokenType"].as_str(), result["ExpiresIn"].as_i64()),
            (Some("Bearer"), Some(1800))
        );
        let access = result["AccessToken"].as_str().unwrap();
        assert_eq!(
            meshfed_e2e::identity::get(ctx, "/api/auth/me", Some(access))
                .await
                .0,
            200
        );
        let (status, reused) = post(
            ctx,
            "/dev/login",
            json!({"request": "REFRESH", "REFRESH_TOKEN": refresh}),
            None,
        )
        .await;
        assert_eq!(
            (status, reused["body"]["error"].as_str()),
            (401, Some("TOKEN_INVALID"))
        );
        let (status, bad) = post(ctx, "/dev/login", json!({"request": "HELLO"}), None).await;
        assert_eq!((status, bad["statusCode"].as_i64()), (400, Some(400)));
    });
}
