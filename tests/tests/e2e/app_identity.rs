//! A person's identity flows in the app, in headless Chromium against the real Worker: sign up
//! with live validation, confirm with the emailed code, the mnemonic shown once, MFA set up
//! from the secret on the page, profile, sign out, and sign in again with a backup code.

use fantoccini::Locator;
use meshfed_e2e::browser::session;
use meshfed_e2e::identity::{latest_code, totp_now, unique_user, user_with_mfa, PASSWORD};
use meshfed_e2e::ui::{
    button, field, field_error, fill, heading_is, screenshot, sign_in_with_backup_code, texts,
    wait_for,
};
use meshfed_e2e::Ctx;

pub fn sign_up_confirm_set_up_mfa_sign_out_and_in_again(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, email) = unique_user("app_person");
        let client = session(&ctx.webdriver).await;
        client.goto(&ctx.url("/signup")).await.unwrap();
        heading_is(&client, "Create your account").await;

        // Live validation with the server's own rules, beside the field.
        fill(&client, "Username", "x").await;
        let said = field_error(&client, "Username").await;
        assert!(said.contains("3-50 characters"), "username error {said:?}");
        fill(&client, "Password", "password").await;
        let said = field_error(&client, "Password").await;
        assert!(said.contains("uppercase"), "password error {said:?}");
        screenshot(&client, "signup-validation.png").await;

        fill(&client, "Username", &username).await;
        assert_eq!(field_error(&client, "Username").await, "");
        fill(&client, "Email", &email).await;
        fill(&client, "Password", PASSWORD).await;
        assert_eq!(field_error(&client, "Password").await, "");
        fill(&client, "First name", "Ada").await;
        fill(&client, "Last name", "Lovelace").await;
        fill(&client, "Organization (optional)", "Clinic Example").await;
        button(&client, "Create account")
            .await
            .click()
            .await
            .unwrap();

        // Confirmation: the username carried over, the code from the dev outbox.
        heading_is(&client, "Confirm your email").await;
        let carried = field(&client, "Username")
            .await
            .prop("value")
            .await
            .unwrap();
        assert_eq!(carried.as_deref(), Some(username.as_str()));
        fill(&client, "Confirmation code", "000000").await;
        button(&client, "Confirm").await.click().await.unwrap();
        // A wrong code is refused beside the field.
        wait_for(
            &client,
            Locator::XPath("//p[@id='confirm-code-error'][contains(., 'Invalid or expired')]"),
        )
        .await;
        let code = latest_code(ctx, &email).await;
        fill(&client, "Confirmation code", &code).await;
        button(&client, "Confirm").await.click().await.unwrap();

        // The mnemonic, once; continuing needs the "written down" confirmation.
        heading_is(&client, "Your recovery phrase").await;
        let words = texts(
            client
                .find_all(Locator::Css("ol[aria-label='Recovery phrase'] li"))
                .await
                .unwrap(),
        )
        .await;
        assert!(words.len() >= 12, "a mnemonic of 12+ words: {words:?}");
        let go_on = button(&client, "Continue to sign in").await;
        assert_eq!(
            go_on.prop("disabled").await.unwrap().as_deref(),
            Some("true")
        );
        screenshot(&client, "mnemonic.png").await;
        wait_for(
            &client,
            Locator::XPath("//label[normalize-space(.)='I have written it down']/input"),
        )
        .await
        .click()
        .await
        .unwrap();
        assert_eq!(
            go_on.prop("disabled").await.unwrap().as_deref(),
            Some("false")
        );
        go_on.click().await.unwrap();

        // First sign-in: a wrong password is said so; then MFA must be set up.
        heading_is(&client, "Sign in").await;
        fill(&client, "Username or email", &username).await;
        fill(&client, "Password", "Wrong-Password-1").await;
        button(&client, "Sign in").await.click().await.unwrap();
        let alert = wait_for(
            &client,
            Locator::Css("form[aria-label='Sign in'] [role=alert]"),
        )
        .await;
        assert!(!alert.text().await.unwrap().is_empty());
        fill(&client, "Password", PASSWORD).await;
        button(&client, "Sign in").await.click().await.unwrap();
        heading_is(&client, "Set up two-factor authentication").await;
        let qr = wait_for(
            &client,
            Locator::Css("img[alt='QR code for your authenticator app']"),
        )
        .await;
        let src = qr.attr("src").await.unwrap().unwrap_or_default();
        assert!(
            src.starts_with("data:image/svg+xml"),
            "QR code {}",
            &src[..src.len().min(40)]
        );
        let secret = wait_for(&client, Locator::Css("code[aria-label='Secret key']"))
            .await
            .text()
            .await
            .unwrap();
        let backup = texts(
            client
                .find_all(Locator::Css("ul[aria-label='Backup codes'] li"))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(backup.len(), 10, "{backup:?}");
        screenshot(&client, "mfa-setup.png").await;
        fill(&client, "Authentication code", "000000").await;
        button(&client, "Verify").await.click().await.unwrap();
        // A wrong MFA code is refused beside the field.
        wait_for(
            &client,
            Locator::XPath("//p[@id='login-code-error'][contains(., 'Invalid MFA code')]"),
        )
        .await;
        fill(&client, "Authentication code", &totp_now(&secret, 0)).await;
        button(&client, "Verify").await.click().await.unwrap();

        // Signed in: the profile from /api/auth/me, the username in the header.
        heading_is(&client, "Your profile").await;
        wait_for(&client, Locator::XPath(&format!("//dl//dd[.='{email}']"))).await;
        let mfa = wait_for(
            &client,
            Locator::XPath("//dt[.='Two-factor authentication']/following-sibling::dd[1]"),
        )
        .await;
        assert_eq!(mfa.text().await.unwrap(), "on");
        let header = wait_for(
            &client,
            Locator::Css("nav[aria-label='Main'] a[href='/profile']"),
        )
        .await;
        assert_eq!(header.text().await.unwrap(), username);
        screenshot(&client, "profile.png").await;

        // Sign out, then in again with a backup code as the second factor.
        button(&client, "Sign out").await.click().await.unwrap();
        heading_is(&client, "Sign in").await;
        let notice = wait_for(&client, Locator::Css("main [role=status]")).await;
        assert_eq!(notice.text().await.unwrap(), "You have signed out.");
        client.goto(&ctx.url("/profile")).await.unwrap();
        // A fresh page load holds no tokens: back on the sign-in page.
        sign_in_with_backup_code(&client, &username, PASSWORD, &backup[0]).await;
        client.close().await.unwrap();
    });
}

pub fn forgot_password_then_change_it_on_the_profile(ctx: &Ctx) {
    ctx.block_on(async {
        let user = user_with_mfa(ctx, "app_pw").await;
        let client = session(&ctx.webdriver).await;
        client.goto(&ctx.url("/login")).await.unwrap();
        wait_for(&client, Locator::XPath("//a[.='Forgot your password?']"))
            .await
            .click()
            .await
            .unwrap();
        heading_is(&client, "Reset your password").await;
        fill(&client, "Username or email", &user.username).await;
        button(&client, "Send reset code")
            .await
            .click()
            .await
            .unwrap();
        let code_field = field(&client, "Reset code").await;
        let code = latest_code(ctx, &user.email).await;
        code_field.send_keys(&code).await.unwrap();

        // The rules and the repeat are checked as the person types.
        fill(&client, "New password", "short").await;
        let said = field_error(&client, "New password").await;
        assert!(said.contains("at least 8 characters"), "{said:?}");
        let fresh = "Quartz-Meadow-42";
        fill(&client, "New password", fresh).await;
        assert_eq!(field_error(&client, "New password").await, "");
        fill(&client, "Repeat the new password", "Quartz-Meadow-43").await;
        assert_eq!(
            field_error(&client, "Repeat the new password").await,
            "Passwords do not match"
        );
        fill(&client, "Repeat the new password", fresh).await;
        screenshot(&client, "reset-password.png").await;
        button(&client, "Set new password")
            .await
            .click()
            .await
            .unwrap();
        wait_for(
            &client,
            Locator::XPath("//p[contains(., 'Your password was changed')]"),
        )
        .await;
        wait_for(&client, Locator::XPath("//main//a[.='Sign in']"))
            .await
            .click()
            .await
            .unwrap();
        sign_in_with_backup_code(&client, &user.username, fresh, &user.backup_codes[0]).await;

        // Change it again from the profile: this session stays signed in.
        let newest = "Harbor-Quartz-93";
        fill(&client, "Current password", "Not-The-Password-1").await;
        fill(&client, "New password", newest).await;
        fill(&client, "Repeat the new password", newest).await;
        button(&client, "Change password")
            .await
            .click()
            .await
            .unwrap();
        let alert = wait_for(
            &client,
            Locator::Css("form[aria-label='Change password'] [role=alert]"),
        )
        .await;
        assert!(alert
            .text()
            .await
            .unwrap()
            .contains("Current password is wrong"));
        fill(&client, "Current password", fresh).await;
        button(&client, "Change password")
            .await
            .click()
            .await
            .unwrap();
        wait_for(
            &client,
            Locator::XPath("//p[starts-with(., 'Password changed.')]"),
        )
        .await;
        screenshot(&client, "change-password.png").await;
        heading_is(&client, "Your profile").await;
        button(&client, "Sign out").await.click().await.unwrap();
        sign_in_with_backup_code(&client, &user.username, newest, &user.backup_codes[1]).await;
        client.close().await.unwrap();
    });
}
