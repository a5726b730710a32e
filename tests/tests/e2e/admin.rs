//! Administration and the user directory, with real permissions.

use meshfed_e2e::identity::{get, post, user_with_mfa, user_with_mfa_as, PASSWORD};
use meshfed_e2e::server::ADMIN_EMAIL;
use meshfed_e2e::Ctx;
use serde_json::{json, Value};

fn access(tokens: &Value) -> &str {
    tokens["access_token"].as_str().unwrap()
}

pub fn admins_manage_users_and_read_the_audit_log(ctx: &Ctx) {
    ctx.block_on(async {
        let admin = user_with_mfa_as(ctx, "e2e_admin".into(), ADMIN_EMAIL.into()).await;
        let user = user_with_mfa(ctx, "managed").await;
        let admin_token = access(&admin.tokens);
        let user_token = access(&user.tokens);
        assert_eq!(admin.tokens["user"]["roles"], json!(["user", "admin"]));
        assert!(admin.tokens["user"]["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("admin:users")));

        let (status, denied) = get(ctx, "/api/admin/users", Some(user_token)).await;
        assert_eq!(
            (status, denied["error"]["code"].as_str()),
            (403, Some("PERMISSION_DENIED"))
        );
        let (status, all) = get(ctx, "/api/admin/users", Some(admin_token)).await;
        assert_eq!(status, 200);
        let target = all["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == user.username.as_str())
            .expect("listed");
        let id = target["id"].as_str().unwrap().to_string();

        let (status, directory) = get(ctx, "/api/users", Some(user_token)).await;
        assert_eq!(status, 200, "read:users is a user permission");
        let entry = directory["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == user.username.as_str())
            .unwrap();
        assert_eq!(
            entry,
            &json!({"username": user.username, "email": user.email})
        );

        let (status, disabled) = post(
            ctx,
            &format!("/api/admin/users/{id}/disable"),
            json!({}),
            Some(admin_token),
        )
        .await;
        assert_eq!(
            (status, disabled["data"]["is_active"].as_bool()),
            (200, Some(false))
        );
        assert_eq!(
            get(ctx, "/api/auth/me", Some(user_token)).await.0,
            401,
            "sessions revoked"
        );
        let login = json!({"username": user.username, "password": PASSWORD});
        let (status, refused) = post(ctx, "/api/auth/login", login.clone(), None).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (403, Some("ACCOUNT_DISABLED"))
        );
        let (status, listed) = get(ctx, "/api/users", Some(admin_token)).await;
        assert_eq!(status, 200);
        assert!(!listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == user.username.as_str()));

        assert_eq!(
            post(
                ctx,
                &format!("/api/admin/users/{id}/enable"),
                json!({}),
                Some(admin_token)
            )
            .await
            .0,
            200
        );
        let (status, reset) = post(
            ctx,
            &format!("/api/admin/users/{id}/mfa/reset"),
            json!({}),
            Some(admin_token),
        )
        .await;
        assert_eq!(
            (status, reset["data"]["mfa_enabled"].as_bool()),
            (200, Some(false))
        );
        let (status, again) = post(ctx, "/api/auth/login", login, None).await;
        assert_eq!(
            (status, again["data"]["challenge"].as_str()),
            (200, Some("MFA_SETUP")),
            "MFA set up again"
        );

        let (status, unknown) = post(
            ctx,
            "/api/admin/users/nope/disable",
            json!({}),
            Some(admin_token),
        )
        .await;
        assert_eq!(
            (status, unknown["error"]["code"].as_str()),
            (404, Some("USER_NOT_FOUND"))
        );

        let (status, audit) = get(
            ctx,
            &format!("/api/admin/audit?user_id={id}"),
            Some(admin_token),
        )
        .await;
        assert_eq!(status, 200);
        let events: Vec<&str> = audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        for expected in ["mfa_enabled", "user_disabled", "user_enabled", "mfa_reset"] {
            assert!(events.contains(&expected), "{expected} in {events:?}");
        }
        assert!(!audit.to_string().contains(PASSWORD));
    });
}
