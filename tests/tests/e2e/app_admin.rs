//! The admin page: an administrator disables and re-enables a user and resets their MFA, and
//! sees each action in the audit log; a plain user is not offered the page.

use fantoccini::{Client, Locator};
use meshfed_e2e::browser::session;
use meshfed_e2e::identity::{post, user_with_mfa, user_with_mfa_as, MfaUser, PASSWORD};
use meshfed_e2e::server::APP_ADMIN_EMAIL;
use meshfed_e2e::ui::{heading_is, screenshot, sign_in_with_backup_code, texts, wait_for};
use meshfed_e2e::Ctx;
use serde_json::json;

async fn sign_in(client: &Client, ctx: &Ctx, user: &MfaUser) {
    client.goto(&ctx.url("/login")).await.unwrap();
    sign_in_with_backup_code(client, &user.username, PASSWORD, &user.backup_codes[0]).await;
}

async fn row_of(client: &Client, username: &str) -> Vec<String> {
    let xpath = format!("//table[@aria-label='Users']//tr[td[1][.='{username}']]/td");
    wait_for(client, Locator::XPath(&xpath)).await;
    texts(client.find_all(Locator::XPath(&xpath)).await.unwrap()).await
}

async fn status_is(client: &Client, username: &str, status: &str) {
    let xpath =
        format!("//table[@aria-label='Users']//tr[td[1][.='{username}']][td[6][.='{status}']]");
    wait_for(client, Locator::XPath(&xpath)).await;
}

pub fn an_admin_disables_enables_and_resets_mfa_and_sees_the_audit_log(ctx: &Ctx) {
    ctx.block_on(async {
        let admin = user_with_mfa_as(ctx, "e2e_app_admin".into(), APP_ADMIN_EMAIL.into()).await;
        let member = user_with_mfa(ctx, "app_member").await;
        let client = session(&ctx.webdriver).await;
        sign_in(&client, ctx, &admin).await;
        wait_for(&client, Locator::XPath("//nav//a[.='Admin']"))
            .await
            .click()
            .await
            .unwrap();
        heading_is(&client, "Administration").await;
        let row = row_of(&client, &member.username).await;
        assert_eq!(row[1], member.email);
        assert_eq!(&row[3..6], ["yes", "on", "active"], "{row:?}");

        let disable = format!("//button[@aria-label='Disable {}']", member.username);
        wait_for(&client, Locator::XPath(&disable))
            .await
            .click()
            .await
            .unwrap();
        status_is(&client, &member.username, "disabled").await;
        let login = json!({"username": member.username, "password": PASSWORD});
        let (status, body) = post(ctx, "/api/auth/login", login.clone(), None).await;
        assert_eq!(status, 403, "a disabled user cannot sign in: {body}");

        let enable = format!("//button[@aria-label='Enable {}']", member.username);
        wait_for(&client, Locator::XPath(&enable))
            .await
            .click()
            .await
            .unwrap();
        status_is(&client, &member.username, "active").await;
        let reset = format!("//button[@aria-label='Reset MFA of {}']", member.username);
        wait_for(&client, Locator::XPath(&reset))
            .await
            .click()
            .await
            .unwrap();
        let mfa_off = format!(
            "//table[@aria-label='Users']//tr[td[1][.='{}']][td[5][.='off']]",
            member.username
        );
        wait_for(&client, Locator::XPath(&mfa_off)).await;
        let (status, body) = post(ctx, "/api/auth/login", login, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"]["challenge"], "MFA_SETUP",
            "MFA is set up again"
        );

        for event in ["user_disabled", "user_enabled", "mfa_reset"] {
            let xpath = format!("//table[@aria-label='Audit log']//td[.='{event}']");
            wait_for(&client, Locator::XPath(&xpath)).await;
        }
        screenshot(&client, "admin.png").await;
        client.close().await.unwrap();

        // A plain user is not offered the page.
        let client = session(&ctx.webdriver).await;
        let plain = user_with_mfa(ctx, "app_plain").await;
        sign_in(&client, ctx, &plain).await;
        assert!(client
            .find(Locator::XPath("//nav//a[.='Admin']"))
            .await
            .is_err());
        wait_for(&client, Locator::XPath("//a[.='Runs']")).await;
        client.close().await.unwrap();
    });
}
