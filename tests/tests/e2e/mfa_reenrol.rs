//! A stolen access token does not replace a working second factor: setting MFA up again needs
//! the password and a current code (or a backup code), the account's backup codes keep working
//! until the new secret is verified, and the new ones count only from then. The seed's
//! associate route refuses an access token alone.

use meshfed_e2e::identity::{answer_challenge, post, totp_now, user_with_mfa, MfaUser, PASSWORD};
use meshfed_e2e::Ctx;
use serde_json::json;

/// Signs `user` in with `code` as the second factor: the status of the challenge.
async fn sign_in_with(ctx: &Ctx, user: &MfaUser, code: &str) -> u16 {
    answer_challenge(ctx, &user.username, code).await.0
}

pub fn replacing_mfa_needs_the_password_and_a_code(ctx: &Ctx) {
    ctx.block_on(async {
        let user = user_with_mfa(ctx, "reenrol").await;
        let access = user.tokens["access_token"].as_str().unwrap().to_string();
        let setup = |body| post(ctx, "/api/auth/mfa/setup", body, Some(&access));

        // An access token alone, a wrong password, or no code: refused, nothing changes.
        let (status, resp) = setup(json!({})).await;
        assert_eq!(
            (status, resp["error"]["code"].as_str()),
            (401, Some("AUTHENTICATION_FAILED")),
            "{resp}"
        );
        let (status, _) =
            setup(json!({"password": "Not-The-Password-1", "code": totp_now(&user.secret, 0)}))
                .await;
        assert_eq!(status, 401);
        let (status, resp) = setup(json!({"password": PASSWORD})).await;
        assert_eq!(status, 400, "{resp}");
        let (status, resp) = post(
            ctx,
            "/users/associate-mfa",
            json!({"access_token": access}),
            None,
        )
        .await;
        assert_eq!(status, 400, "the seed route: {resp}");
        assert!(
            sign_in_with(ctx, &user, &user.backup_codes[1]).await == 200,
            "old codes still work"
        );

        // With the password and a backup code: a new pending secret and backup codes.
        let (status, fresh) =
            setup(json!({"password": PASSWORD, "code": user.backup_codes[2]})).await;
        assert_eq!(status, 200, "{fresh}");
        let new_secret = fresh["data"]["secret"].as_str().unwrap().to_string();
        let new_codes: Vec<String> = fresh["data"]["backup_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        assert_ne!(new_secret, user.secret);
        // Until the new secret is verified, the old backup codes work and the new ones do not.
        assert_eq!(
            sign_in_with(ctx, &user, &new_codes[0]).await,
            401,
            "pending codes do not count"
        );
        assert_eq!(
            sign_in_with(ctx, &user, &user.backup_codes[3]).await,
            200,
            "old codes survive setup"
        );

        // Verified: the new codes count and the old ones are gone.
        let verify = json!({"code": totp_now(&new_secret, 0)});
        let (status, on) = post(ctx, "/api/auth/mfa/verify", verify, Some(&access)).await;
        assert_eq!(status, 200, "{on}");
        assert_eq!(
            sign_in_with(ctx, &user, &user.backup_codes[4]).await,
            401,
            "old codes end"
        );
        assert_eq!(
            sign_in_with(ctx, &user, &new_codes[1]).await,
            200,
            "new codes count"
        );
    });
}
